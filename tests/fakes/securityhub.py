"""A fake Security Hub endpoint for `BatchUpdateFindings`, which moto does not implement.

Speaks Security Hub's wire protocol (REST-JSON, SigV4 for service `securityhub`):
`POST /findings/import` (BatchImportFindings, to seed findings), `POST /findings` (GetFindings, with
the `Id` EQUALS filter) and `PATCH /findings/batchupdate` (BatchUpdateFindings: Workflow.Status and
Note). Every request body is checked against the botocore service model first, so a request AWS
would refuse as invalid is refused here too (400 InvalidInputException). Services reach it through
`ACSO_AWS_SERVICE_ENDPOINTS={"securityhub": url}`; every other AWS call still goes to the emulator.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from botocore.exceptions import ParamValidationError
from botocore.model import Shape
from botocore.session import Session
from botocore.validate import validate_parameters

from tests.fakes.sigv4 import sigv4_problem

_MODEL = Session().get_service_model("securityhub")
_WORKFLOW = {"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"}


def _input_shape(operation: str) -> Shape:
    shape = _MODEL.operation_model(operation).input_shape
    if shape is None:
        raise ValueError(f"{operation} takes no input")
    return shape


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"Code": code, "Message": message}, status=status, headers={"x-amzn-ErrorType": code})


@dataclass
class FakeSecurityHub:
    """In-memory findings keyed by (Id, ProductArn). Create with `start_securityhub()`."""

    credentials: dict[str, str] = field(default_factory=lambda: {"testing": "testing"})
    findings: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    url: str = ""

    def finding(self, finding_id: str) -> dict[str, Any]:
        return next(f for (i, _), f in self.findings.items() if i == finding_id)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/findings/import", self._handler("BatchImportFindings", self._import))
        app.router.add_post("/findings", self._handler("GetFindings", self._get))
        app.router.add_patch("/findings/batchupdate", self._handler("BatchUpdateFindings", self._update))
        return app

    def _handler(self, operation: str, serve: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            raw = await request.read()
            problem = sigv4_problem(request, raw, self.credentials, service="securityhub")
            if problem is not None:
                self.rejected.append(problem)
                return _error(403, "UnrecognizedClientException", problem)
            try:
                body = json.loads(raw or b"{}")
                validate_parameters(body, _input_shape(operation))
            except (ValueError, ParamValidationError) as err:
                self.rejected.append(f"{operation}: {err}")
                return _error(400, "InvalidInputException", str(err))
            self.requests.append({"operation": operation, **body})
            response: web.Response = serve(body)
            return response

        return handle

    def _import(self, body: dict[str, Any]) -> web.Response:
        for finding in body["Findings"]:
            self.findings[(finding["Id"], finding["ProductArn"])] = {
                **finding,
                "Workflow": finding.get("Workflow") or {"Status": "NEW"},
            }
        return web.json_response({"FailedCount": 0, "SuccessCount": len(body["Findings"]), "FailedFindings": []})

    def _get(self, body: dict[str, Any]) -> web.Response:
        ids = {f["Value"] for f in body.get("Filters", {}).get("Id", []) if f.get("Comparison") == "EQUALS"}
        found = [f for (i, _), f in self.findings.items() if not ids or i in ids]
        return web.json_response({"Findings": found[: body.get("MaxResults", 100)]})

    def _update(self, body: dict[str, Any]) -> web.Response:
        status = (body.get("Workflow") or {}).get("Status")
        if status is not None and status not in _WORKFLOW:
            return _error(400, "InvalidInputException", f"Workflow.Status {status} is not valid")
        processed, unprocessed = [], []
        for ident in body["FindingIdentifiers"]:
            finding = self.findings.get((ident["Id"], ident["ProductArn"]))
            if finding is None:
                unprocessed.append(
                    {"FindingIdentifier": ident, "ErrorCode": "FindingNotFound", "ErrorMessage": "finding not found"}
                )
                continue
            if status is not None:
                finding["Workflow"] = {"Status": status}
            if "Note" in body:
                finding["Note"] = {**body["Note"], "UpdatedAt": datetime.now(UTC).isoformat()}
            processed.append(ident)
        return web.json_response({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


@asynccontextmanager
async def start_securityhub(fake: FakeSecurityHub | None = None) -> AsyncIterator[FakeSecurityHub]:
    """Serve a fake Security Hub endpoint on 127.0.0.1 (a free port) for the block."""
    fake = fake or FakeSecurityHub()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    fake.url = f"http://{host}:{port}"
    try:
        yield fake
    finally:
        await runner.cleanup()
