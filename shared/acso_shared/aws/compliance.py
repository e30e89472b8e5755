"""AWS Config compliance of a resource: every Config rule evaluated against it.

Uses `GetComplianceDetailsByResource` (paged by NextToken). Compliance is context, not a gate:
when Config is not recording, the caller lacks permission or the API is missing (moto has no
compliance queries), the result is state `unknown` with the reason, and the operation or
incident goes on. Used by operation previews (service orchestration) and incidents (incident
response); verdicts are cached briefly so a busy incident page does not multiply Config calls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from acso_shared.aws.clients import AwsClientFactory, error_code
from acso_shared.logging import get_logger
from acso_shared.settings import ServiceSettings

log = get_logger("acso.aws.compliance")

ComplianceState = Literal["compliant", "non_compliant", "not_evaluated", "unknown"]

EC2_INSTANCE = "AWS::EC2::Instance"
S3_BUCKET = "AWS::S3::Bucket"
IAM_USER = "AWS::IAM::User"
_MAX_PAGES = 10


class ComplianceRule(BaseModel):
    rule: str
    compliance: str
    annotation: str | None = None
    recorded_at: datetime | None = None


class ResourceCompliance(BaseModel):
    """AWS Config's verdict on one resource: every rule evaluated against it."""

    resource_type: str
    resource_id: str
    state: ComplianceState
    rules: list[ComplianceRule] = Field(default_factory=list)
    reason: str | None = Field(default=None, description="Why the state is unknown")


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
    """Reads resource compliance through an aiobotocore `config` client.

    `cache_s` keeps each verdict that long (0 disables the cache). `unknown_cache_s` keeps an
    `unknown` verdict (Config failing, refusing or missing) for a shorter while: long enough that
    an incident page does not wait on a failing API at every read, short enough that a fixed
    permission or a recorder turned on shows soon.
    """

    def __init__(
        self,
        client: Callable[[], Awaitable[Any]],
        *,
        enabled: bool = True,
        concurrency: int = 5,
        cache_s: float = 0.0,
        unknown_cache_s: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._enabled = enabled
        self._slots = asyncio.Semaphore(concurrency)
        self._cache_s = cache_s
        self._unknown_cache_s = unknown_cache_s
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, ResourceCompliance]] = {}
        # Config itself failing (5xx, unreachable) is not about one resource: stop asking for a while.
        self._down: tuple[float, str] | None = None

    @classmethod
    def for_settings(cls, clients: AwsClientFactory, settings: ServiceSettings) -> ComplianceReader:
        """The reader a service uses: a fail-fast `config` client (two attempts, 3 s reads: the
        verdict is context a page can show as unknown) and the cache lifetimes from settings."""

        async def config() -> Any:
            return await clients.client("config", attempts=2, read_timeout_s=3.0)

        return cls(
            config,
            enabled=settings.config_compliance_enabled,
            cache_s=settings.config_compliance_cache_s,
            unknown_cache_s=settings.config_compliance_unknown_cache_s,
        )

    async def resource(self, resource_id: str, resource_type: str = EC2_INSTANCE) -> ResourceCompliance:
        """The compliance of one resource; never raises for AWS failures."""
        if not self._enabled:
            return ResourceCompliance(
                resource_type=resource_type, resource_id=resource_id, state="unknown", reason="config_disabled"
            )
        key = (resource_type, resource_id)
        cached = self._cache.get(key)
        if cached is not None:
            at, verdict = cached
            keep = self._unknown_cache_s if verdict.state == "unknown" else self._cache_s
            if self._clock() - at < keep:
                return verdict
        if self._down is not None and self._clock() - self._down[0] < self._unknown_cache_s:
            return ResourceCompliance(
                resource_type=resource_type, resource_id=resource_id, state="unknown", reason=self._down[1]
            )
        verdict = await self._read(resource_type, resource_id)
        if (self._unknown_cache_s if verdict.state == "unknown" else self._cache_s) > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = (self._clock(), verdict)
        return verdict

    async def _read(self, resource_type: str, resource_id: str) -> ResourceCompliance:
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
            reason = f"config_error:{error_code(err) or 'unknown'}"
            if int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) >= 500:
                self._down = (self._clock(), reason)
            return self._unknown(resource_type, resource_id, reason)
        except BotoCoreError as err:
            reason = f"config_unreachable:{type(err).__name__}"
            self._down = (self._clock(), reason)
            return self._unknown(resource_type, resource_id, reason)
        self._down = None
        return compliance_from_results(resource_type, resource_id, results)

    async def resources(self, resource_ids: list[str], resource_type: str = EC2_INSTANCE) -> list[ResourceCompliance]:
        """The compliance of several resources of one type, in order."""
        return await self.mixed([(resource_type, r) for r in resource_ids])

    async def mixed(self, resources: Sequence[tuple[str, str]]) -> list[ResourceCompliance]:
        """The compliance of (resource_type, resource_id) pairs, in order."""
        return list(await asyncio.gather(*(self.resource(rid, rtype) for rtype, rid in resources)))

    @staticmethod
    def _unknown(resource_type: str, resource_id: str, reason: str) -> ResourceCompliance:
        log.info("config_compliance_unknown", resource_id=resource_id, reason=reason)
        return ResourceCompliance(resource_type=resource_type, resource_id=resource_id, state="unknown", reason=reason)
