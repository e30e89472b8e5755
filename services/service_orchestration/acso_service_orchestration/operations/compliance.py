"""AWS Config compliance of a resource: every Config rule evaluated against it.

Uses `GetComplianceDetailsByResource` (paged by NextToken). Compliance is context, not a gate:
when Config is not recording, the caller lacks permission or the API is missing (the local
emulator has no compliance queries), the result is state `unknown` with the reason, and the
operation or incident goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from acso_service_orchestration.operations.models import ComplianceRule, ComplianceState, ResourceCompliance
from acso_shared.aws.clients import error_code
from acso_shared.logging import get_logger

log = get_logger("acso.orchestration.compliance")

EC2_INSTANCE = "AWS::EC2::Instance"
_MAX_PAGES = 10


def compliance_from_results(
    resource_type: str, resource_id: str, results: Sequence[Mapping[str, Any]]
) -> ResourceCompliance:
    """Fold `EvaluationResults` into one verdict: non-compliant if any rule says so, compliant if
    at least one rule passed and none failed, otherwise not evaluated (no rule, or only
    NOT_APPLICABLE / INSUFFICIENT_DATA)."""
    rules: list[ComplianceRule] = []
    for result in results:
        qualifier = (result.get("EvaluationResultIdentifier") or {}).get("EvaluationResultQualifier") or {}
        recorded = result.get("ResultRecordedTime")
        rules.append(
            ComplianceRule(
                rule=str(qualifier.get("ConfigRuleName", "unknown")),
                compliance=str(result.get("ComplianceType", "INSUFFICIENT_DATA")),
                annotation=result.get("Annotation"),
                recorded_at=recorded if isinstance(recorded, datetime) else None,
            )
        )
    kinds = {r.compliance for r in rules}
    state: ComplianceState
    if "NON_COMPLIANT" in kinds:
        state = "non_compliant"
    elif "COMPLIANT" in kinds:
        state = "compliant"
    else:
        state = "not_evaluated"
    rules.sort(key=lambda r: (r.compliance != "NON_COMPLIANT", r.rule))
    return ResourceCompliance(resource_type=resource_type, resource_id=resource_id, state=state, rules=rules)


class ComplianceReader:
    """Reads resource compliance through an aiobotocore `config` client."""

    def __init__(self, client: Callable[[], Awaitable[Any]], *, enabled: bool = True, concurrency: int = 5) -> None:
        self._client = client
        self._enabled = enabled
        self._slots = asyncio.Semaphore(concurrency)

    async def resource(self, resource_id: str, resource_type: str = EC2_INSTANCE) -> ResourceCompliance:
        """The compliance of one resource; never raises for AWS failures."""
        if not self._enabled:
            return ResourceCompliance(
                resource_type=resource_type, resource_id=resource_id, state="unknown", reason="config_disabled"
            )
        results: list[Mapping[str, Any]] = []
        try:
            async with self._slots:
                client = await self._client()
                token: str | None = None
                for _ in range(_MAX_PAGES):
                    kwargs: dict[str, Any] = {"ResourceType": resource_type, "ResourceId": resource_id}
                    if token:
                        kwargs["NextToken"] = token
                    page = await client.get_compliance_details_by_resource(**kwargs)
                    results.extend(page.get("EvaluationResults") or [])
                    token = page.get("NextToken")
                    if not token:
                        break
        except ClientError as err:
            return self._unknown(resource_type, resource_id, f"config_error:{error_code(err) or 'unknown'}")
        except BotoCoreError as err:
            return self._unknown(resource_type, resource_id, f"config_unreachable:{type(err).__name__}")
        return compliance_from_results(resource_type, resource_id, results)

    async def resources(self, resource_ids: list[str], resource_type: str = EC2_INSTANCE) -> list[ResourceCompliance]:
        """The compliance of several resources, in order."""
        return list(await asyncio.gather(*(self.resource(r, resource_type) for r in resource_ids)))

    @staticmethod
    def _unknown(resource_type: str, resource_id: str, reason: str) -> ResourceCompliance:
        log.info("config_compliance_unknown", resource_id=resource_id, reason=reason)
        return ResourceCompliance(resource_type=resource_type, resource_id=resource_id, state="unknown", reason=reason)
