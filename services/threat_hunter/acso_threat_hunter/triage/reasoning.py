"""The reasoning layer on top of deterministic triage: an investigation narrative and hypotheses.

The deterministic `TriageResult` always stands: the model's output schema has no verdict or
severity, so it can add a narrative and hypotheses but never lower (or raise) the verdict. Alert
text and the evidence summaries reach the model only as quoted evidence. The tools are read-only:
an intel match, and a CloudTrail lookup limited to the identifiers the parsed alert names (asking
about anything else is refused and recorded as an out-of-scope finding). Injection findings become
`alert_source` evidence on the result and cap its confidence; usage travels on the result and is
kept per request so a redelivered request does not pay for the model twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field

from acso_shared.alerts.models import NormalizedAlert
from acso_shared.contracts import EvidenceItem, TriageRequest, TriageResult
from acso_shared.db import Database
from acso_shared.errors import Forbidden
from acso_shared.llm import (
    Evidence,
    InjectionCategory,
    InjectionFinding,
    Purpose,
    ReadOnlyTool,
    ReasoningLayer,
    ReasoningOutcome,
    ReasoningTask,
    ToolRegistry,
)
from acso_shared.llm.outputs import InvestigationNarrative
from acso_shared.llm.records import reasoning_record, usage_of
from acso_threat_hunter.cloudtrail.store import ContextKeys
from acso_threat_hunter.intel.models import MatchRequest
from acso_threat_hunter.intel.models import Observable as IntelObservable
from acso_threat_hunter.intel.models import ObservableType as IntelType

from .service import ContextStore, Matcher, context_keys

PURPOSE = Purpose.INVESTIGATE
MAX_TOOL_EVENTS = 20
Publish = Callable[[ReasoningOutcome[InvestigationNarrative]], Awaitable[object]]


# -- tools ------------------------------------------------------------------------------------
class IntelMatchInput(BaseModel):
    indicator: str = Field(min_length=1, max_length=2048, description="an IP address, domain, URL or file hash")
    type: Literal["ip", "domain", "url", "md5", "sha1", "sha256", "sha512"] | None = Field(
        default=None, description="the indicator's type; omitted, its shape decides"
    )


class IntelHit(BaseModel):
    indicator_value: str
    indicator_type: str
    source: str
    confidence: int
    labels: list[str]


class IntelMatchOutput(BaseModel):
    indicator: str
    matched: bool
    hits: list[IntelHit]


class CloudTrailLookupInput(BaseModel):
    identifier: str = Field(
        min_length=1,
        max_length=2048,
        description="one of the resource identifiers from the parsed alert (principal ARN, user name, access key, "
        "resource id); other identifiers are refused",
    )


class CloudTrailEventOut(BaseModel):
    event_time: str
    event_source: str
    event_name: str
    principal: str | None
    source_ip: str | None
    error_code: str | None


class CloudTrailLookupOutput(BaseModel):
    identifier: str
    events: list[CloudTrailEventOut]
    total: int


@dataclass
class _Scope:
    """The identifiers one triage may look up, and the ones the model asked for outside them."""

    keys: ContextKeys
    refused: list[InjectionFinding] = field(default_factory=list)

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(
            [*self.keys.principal_arns, *self.keys.user_names, *self.keys.access_key_ids, *self.keys.resource_ids]
        )

    def narrowed_to(self, identifier: str) -> ContextKeys:
        """Context keys selecting only `identifier`, in the role the alert gave it."""
        return ContextKeys(
            tuple(v for v in self.keys.principal_arns if v == identifier),
            tuple(v for v in self.keys.user_names if v == identifier),
            tuple(v for v in self.keys.access_key_ids if v == identifier),
            tuple(v for v in self.keys.resource_ids if v == identifier),
        )


def build_tools(
    matcher: Matcher, store: ContextStore, alert: NormalizedAlert, scope: _Scope, window: timedelta
) -> ToolRegistry:
    """The read-only tools of one investigation."""

    async def intel_match(args: IntelMatchInput) -> IntelMatchOutput:
        observable = IntelObservable(type=IntelType(args.type) if args.type else None, value=args.indicator)
        response = await matcher.match(MatchRequest(observables=[observable]))
        hits = [
            IntelHit(
                indicator_value=m.indicator_value,
                indicator_type=m.indicator_type.value,
                source=m.source,
                confidence=m.confidence,
                labels=list(m.labels),
            )
            for m in response.matches
        ]
        return IntelMatchOutput(indicator=args.indicator, matched=bool(hits), hits=hits)

    async def cloudtrail_lookup(args: CloudTrailLookupInput) -> CloudTrailLookupOutput:
        if args.identifier not in scope.allowed:
            # Reading another principal's activity is how injected text widens an investigation's scope.
            scope.refused.append(
                InjectionFinding(
                    category=InjectionCategory.OUT_OF_SCOPE_IDENTIFIER,
                    rule_id="tool_identifier_not_in_alert",
                    source="tool:cloudtrail_lookup",
                    excerpt=f"identifier={args.identifier}"[:160],
                )
            )
            raise Forbidden("resource_not_in_scope", "only identifiers from the parsed alert may be looked up")
        rows = await store.context(
            scope.narrowed_to(args.identifier), alert.first_seen - window, alert.last_seen + window, MAX_TOOL_EVENTS
        )
        events = [
            CloudTrailEventOut(
                event_time=r.event_time.isoformat(),
                event_source=r.event_source,
                event_name=r.event_name,
                principal=r.principal_arn or r.user_name,
                source_ip=r.source_ip,
                error_code=r.raw.get("errorCode"),
            )
            for r in rows
        ]
        return CloudTrailLookupOutput(identifier=args.identifier, events=events, total=len(events))

    return ToolRegistry(
        [
            ReadOnlyTool(
                "intel_match", "Look up one indicator in ACSO's threat-intel store.", IntelMatchInput, intel_match
            ),
            ReadOnlyTool(
                "cloudtrail_lookup",
                "CloudTrail events of one identifier from the alert, in the window around the alert.",
                CloudTrailLookupInput,
                cloudtrail_lookup,
            ),
        ]
    )


# -- the task ---------------------------------------------------------------------------------
def deterministic_narrative(result: TriageResult) -> InvestigationNarrative:
    """What the deterministic core says, in the narrative's shape: used when no model answers."""
    lines = [result.summary, *(f"- {e.kind}: {e.summary}" for e in result.evidence[:20])]
    return InvestigationNarrative(narrative="\n".join(lines)[:8000], confidence=result.confidence)


def instruction(result: TriageResult) -> str:
    """Trusted text only: enums, numbers and validated technique ids from the deterministic result."""
    techniques = ", ".join(result.techniques) or "none"
    return (
        f"The deterministic triage concluded: verdict {result.verdict}, severity {result.severity.value}, "
        f"confidence {result.confidence:.2f}, ATT&CK techniques {techniques}. The alert and the evidence "
        "it rests on follow as quoted evidence. Investigate with the read-only tools and write the "
        "investigation narrative and the hypotheses still worth checking."
    )


def evidence_of(alert: NormalizedAlert, result: TriageResult) -> list[Evidence]:
    """The untrusted text: the alert's own words and the evidence summaries (they quote log fields)."""
    items = [Evidence(source="alert.title", text=alert.title)]
    if alert.description:
        items.append(Evidence(source="alert.description", text=alert.description))
    items.append(Evidence(source="alert.type", text=alert.type))
    summaries = "\n".join(f"{e.kind}: {e.summary}" for e in result.evidence)
    if summaries:
        items.append(Evidence(source="triage.evidence", text=summaries))
    return items


def merge(
    result: TriageResult,
    outcome: ReasoningOutcome[InvestigationNarrative],
    *,
    extra_findings: list[InjectionFinding],
    confidence_cap: float,
) -> TriageResult:
    """The deterministic result plus what reasoning added; verdict and severity are never changed."""
    findings = [*outcome.injection_findings, *extra_findings]
    evidence = list(result.evidence)
    for finding in findings:
        evidence.append(
            EvidenceItem(
                kind="alert_source",
                summary=f"prompt injection attempt: {finding.category.value}",
                source=finding.source,
                data={"category": finding.category.value, "rule_id": finding.rule_id, "excerpt": finding.excerpt},
            )
        )
    narrative = outcome.output
    if outcome.reasoning == "llm":
        evidence.append(
            EvidenceItem(
                kind="llm",
                summary=narrative.narrative[:2000],
                source=f"{outcome.provider.value}:{outcome.model_id}",
                confidence=min(narrative.confidence, confidence_cap) if findings else narrative.confidence,
                data={
                    "hypotheses": [h.model_dump(mode="json") for h in narrative.hypotheses],
                    "injection_suspected": narrative.injection_suspected,
                    "tool_calls": [c.model_dump(mode="json") for c in outcome.tool_calls],
                },
            )
        )
    record = reasoning_record(outcome, extra_findings=extra_findings)
    return result.model_copy(
        update={
            "reasoning": outcome.reasoning,
            "narrative": narrative.narrative,
            "degraded_reason": outcome.degraded_reason,
            "evidence": evidence,
            # Conclusions over text that tried to steer the reader are not worth full confidence.
            "confidence": min(result.confidence, confidence_cap) if findings else result.confidence,
            "injection_findings": record["injection_findings"],
            "usage": record["usage"],
        }
    )


class ReasoningRuns:
    """`th_reasoning_runs`: one enriched result per triage request."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, request_key: str) -> TriageResult | None:
        row = await self._db.fetchrow("SELECT result FROM th_reasoning_runs WHERE request_key = $1", request_key)
        return TriageResult.model_validate(_json(row["result"])) if row is not None else None

    async def save(
        self, request_key: str, workflow_id: str | None, result: TriageResult, record: dict[str, Any]
    ) -> TriageResult:
        """Keep the first run for this request; a concurrent duplicate gets the stored one back."""
        usage = usage_of(record)
        await self._db.execute(
            """
            INSERT INTO th_reasoning_runs (request_key, purpose, workflow_id, incident_id, alert_id, reasoning,
                provider, model_id, degraded_reason, model_calls, input_tokens, output_tokens, cost_usd, record, result)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (request_key) DO NOTHING
            """,
            request_key,
            PURPOSE.value,
            workflow_id,
            result.incident_id,
            result.alert_id,
            result.reasoning,
            record["provider"],
            record["model_id"],
            record["degraded_reason"],
            usage.model_calls,
            usage.input_tokens,
            usage.output_tokens,
            usage.cost_usd,
            record,
            result.model_dump(mode="json"),
        )
        stored = await self.get(request_key)
        return stored or result


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class TriageReasoner:
    """Runs the investigation for one triage and merges it into the result."""

    def __init__(
        self,
        layer: ReasoningLayer,
        matcher: Matcher,
        store: ContextStore,
        runs: ReasoningRuns,
        publish: Publish,
        *,
        window: timedelta,
    ) -> None:
        self._layer = layer
        self._matcher = matcher
        self._store = store
        self._runs = runs
        self._publish = publish
        self._window = window

    async def enrich(
        self, request: TriageRequest, result: TriageResult, *, request_key: str, workflow_id: str | None
    ) -> TriageResult:
        """The result with narrative, findings and usage; the same answer for a redelivered request."""
        stored = await self._runs.get(request_key)
        if stored is not None:
            return stored
        alert = request.alert
        scope = _Scope(context_keys(alert))
        outcome = await self._layer.run(
            ReasoningTask(
                agent="threat_hunter",
                purpose=PURPOSE.value,
                instruction=instruction(result),
                output_model=InvestigationNarrative,
                deterministic=deterministic_narrative(result),
                evidence=evidence_of(alert, result),
                tools=build_tools(self._matcher, self._store, alert, scope, self._window),
                allowed_resources=scope.allowed,
                workflow_id=workflow_id,
                incident_id=request.incident_id,
            )
        )
        enriched = merge(
            result, outcome, extra_findings=scope.refused, confidence_cap=self._layer.settings.injection_confidence_cap
        )
        saved = await self._runs.save(
            request_key, workflow_id, enriched, reasoning_record(outcome, extra_findings=scope.refused)
        )
        await self._publish(outcome)
        return saved
