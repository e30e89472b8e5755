"""A fake AWS Config endpoint for the compliance query moto does not implement.

Speaks Config's wire protocol (AWS JSON 1.1: `POST /`, `X-Amz-Target:
StarlingDoveService.<Operation>`, `Content-Type: application/x-amz-json-1.1`, SigV4 for service
`config`) for `GetComplianceDetailsByResource`, with `NextToken` paging (`page_size` results a
page) and the `ComplianceTypes` filter. Errors are JSON 1.1 errors: `{"__type", "message"}`.
Services reach it through `ACSO_AWS_SERVICE_ENDPOINTS={"config": url}`; every other AWS call
still goes to the emulator.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.sigv4 import sigv4_problem

TARGET_PREFIX = "StarlingDoveService."
_COMPLIANCE_TYPES = {"COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA"}


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"__type": code, "message": message}, status=status, content_type="application/x-amz-json-1.1"
    )


@dataclass
class Evaluation:
    """One rule's evaluation of one resource, as Config records it."""

    rule: str
    resource_type: str
    resource_id: str
    compliance: str
    annotation: str | None = None
    recorded_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def wire(self) -> dict[str, Any]:
        at = self.recorded_at.timestamp()
        result: dict[str, Any] = {
            "EvaluationResultIdentifier": {
                "EvaluationResultQualifier": {
                    "ConfigRuleName": self.rule,
                    "ResourceType": self.resource_type,
                    "ResourceId": self.resource_id,
                    "EvaluationMode": "DETECTIVE",
                },
                "OrderingTimestamp": at,
            },
            "ComplianceType": self.compliance,
            "ResultRecordedTime": at,
            "ConfigRuleInvokedTime": at,
        }
        if self.annotation:
            result["Annotation"] = self.annotation
        return result


@dataclass
class FakeAwsConfig:
    """In-memory Config evaluations. Create with `start_aws_config()`."""

    credentials: dict[str, str] = field(default_factory=lambda: {"testing": "testing"})
    page_size: int = 2
    evaluations: list[Evaluation] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    url: str = ""

    def evaluate(self, resource_type: str, resource_id: str, rule: str, compliance: str, annotation: str = "") -> None:
        """Record (or replace) a rule's verdict on a resource."""
        self.evaluations = [
            e
            for e in self.evaluations
            if (e.resource_type, e.resource_id, e.rule) != (resource_type, resource_id, rule)
        ]
        self.evaluations.append(Evaluation(rule, resource_type, resource_id, compliance, annotation or None))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.Response:
        raw = await request.read()
        problem = sigv4_problem(request, raw, self.credentials, service="config")
        if problem is not None:
            self.rejected.append(problem)
            return _error(400, "UnrecognizedClientException", problem)
        target = request.headers.get("X-Amz-Target", "")
        if not target.startswith(TARGET_PREFIX):
            return _error(400, "UnknownOperationException", f"unknown target {target!r}")
        if not request.headers.get("Content-Type", "").startswith("application/x-amz-json-1.1"):
            return _error(400, "SerializationException", "expected application/x-amz-json-1.1")
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return _error(400, "SerializationException", "body is not JSON")
        operation = target.removeprefix(TARGET_PREFIX)
        self.requests.append({"operation": operation, **body})
        if operation != "GetComplianceDetailsByResource":
            return _error(400, "UnknownOperationException", f"{operation} is not served by this fake")
        return self._compliance_details(body)

    def _compliance_details(self, body: dict[str, Any]) -> web.Response:
        resource_type, resource_id = body.get("ResourceType"), body.get("ResourceId")
        if not resource_type or not resource_id or not 1 <= len(str(resource_id)) <= 768:
            return _error(400, "ValidationException", "ResourceType and ResourceId are required")
        wanted = set(body.get("ComplianceTypes") or _COMPLIANCE_TYPES)
        if not wanted <= _COMPLIANCE_TYPES:
            return _error(400, "ValidationException", f"invalid ComplianceTypes {sorted(wanted - _COMPLIANCE_TYPES)}")
        matching = [
            e
            for e in self.evaluations
            if e.resource_type == resource_type and e.resource_id == resource_id and e.compliance in wanted
        ]
        try:
            start = int(body.get("NextToken") or 0)
        except ValueError:
            return _error(400, "InvalidNextTokenException", "the nextToken is not valid")
        page = matching[start : start + self.page_size]
        response: dict[str, Any] = {"EvaluationResults": [e.wire() for e in page]}
        if start + self.page_size < len(matching):
            response["NextToken"] = str(start + self.page_size)
        return web.json_response(response, content_type="application/x-amz-json-1.1")


@asynccontextmanager
async def start_aws_config(fake: FakeAwsConfig | None = None) -> AsyncIterator[FakeAwsConfig]:
    """Serve a fake Config endpoint on 127.0.0.1 (a free port) for the block."""
    fake = fake or FakeAwsConfig()
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
