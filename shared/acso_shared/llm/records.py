"""What agents keep of a reasoning outcome, and its usage as CloudWatch metrics.

Every agent stores the same record shape (on the triage result, the workflow row, the change
record, the incident), so usage can be summed across agents: `usage_of(record)` reads it back.
Metrics are best effort: a CloudWatch failure is logged and never fails the caller's work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.llm.injection import InjectionFinding
from acso_shared.llm.reasoning import ReasoningOutcome
from acso_shared.llm.usage import UsageTotals, usage_metric_data
from acso_shared.logging import get_logger

log = get_logger("acso.llm.records")


def usage_record(usage: UsageTotals) -> dict[str, Any]:
    """JSON form of usage totals, with the token total spelled out for readers."""
    return {**usage.model_dump(mode="json"), "total_tokens": usage.total_tokens}


def usage_of(record: Mapping[str, Any] | None) -> UsageTotals:
    """Usage totals stored by `usage_record` (or inside a `reasoning_record`); zero when absent or unreadable."""
    if not record:
        return UsageTotals()
    raw = record.get("usage", record)
    if not isinstance(raw, Mapping):
        return UsageTotals()
    try:
        return UsageTotals.model_validate({k: v for k, v in raw.items() if k in UsageTotals.model_fields})
    except ValidationError:
        return UsageTotals()


def sum_usage(records: Iterable[Mapping[str, Any] | None]) -> UsageTotals:
    """The sum of stored usages (a workflow's steps, an incident's workflows)."""
    total = UsageTotals()
    for record in records:
        total = total + usage_of(record)
    return total


def reasoning_record(
    outcome: ReasoningOutcome[Any], *, extra_findings: Iterable[InjectionFinding] = ()
) -> dict[str, Any]:
    """The storable account of one reasoning run: who answered, why not the model, findings, usage.

    The output itself is stored by the caller next to it (it is the agent's own schema).
    """
    findings = [*outcome.injection_findings, *extra_findings]
    return {
        "reasoning": outcome.reasoning,
        "provider": outcome.provider.value,
        "attempted_provider": outcome.attempted_provider.value,
        "model_id": outcome.model_id,
        "degraded_reason": outcome.degraded_reason,
        "injection_findings": [f.model_dump(mode="json") for f in findings],
        "confidence_cap": outcome.confidence_cap,
        "guardrail_interventions": outcome.guardrail_interventions,
        "tool_calls": [c.model_dump(mode="json") for c in outcome.tool_calls],
        "proposals": [p.model_dump(mode="json") for p in outcome.proposals],
        "prompts": [p.model_dump(mode="json") for p in outcome.prompts],
        "usage": usage_record(outcome.usage),
    }


async def publish_usage(clients: AwsClientFactory, namespace: str, agent: str, outcome: ReasoningOutcome[Any]) -> bool:
    """Put one run's usage as CloudWatch metrics; False (and a log line) when there was none or it failed."""
    usage = outcome.usage
    if usage.model_calls == 0 and usage.cached_calls == 0:
        return False
    # A degraded run has no answering model, but its failed calls were still made to one.
    model_id = outcome.model_id or next((c.model_id for c in outcome.calls if c.model_id), None)
    data = usage_metric_data(usage, agent=agent, provider=outcome.attempted_provider, model_id=model_id)
    try:
        cloudwatch = await clients.client("cloudwatch")
        await cloudwatch.put_metric_data(Namespace=namespace, MetricData=data)
    except Exception as err:
        # Metrics are an observer: losing a data point must not lose the triage or the summary.
        log.warning("llm_usage_metrics_failed", agent=agent, error=type(err).__name__)
        return False
    return True
