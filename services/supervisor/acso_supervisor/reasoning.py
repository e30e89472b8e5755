"""The supervisor's reasoning: a summary of each completed workflow, and the workflow's model usage.

The deterministic summary is built from the step results alone and always exists; the model may
rewrite it for an analyst. Alert text, the triage narrative (itself written from alert text) and
the response summary reach the model only as quoted evidence; the instruction holds enums and
counts. The stored record says who wrote the summary (`reasoning`), why not the model
(`degraded_reason`), what it cost, and any injection attempt found in the evidence.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from acso_shared.alerts.models import NormalizedAlert
from acso_shared.contracts import ResponseResult, TriageResult
from acso_shared.llm import Evidence, Purpose, ReasoningLayer, ReasoningOutcome, ReasoningTask, UsageTotals
from acso_shared.llm.outputs import WorkflowSummary
from acso_shared.llm.records import reasoning_record, sum_usage, usage_record

PURPOSE = Purpose.SUMMARISE_WORKFLOW
# Incident-response action statuses that still need someone (ActionSummary.status is a plain string).
OPEN_ACTION_STATUSES = frozenset({"planned", "pending_approval", "running", "failed", "blocked"})
Publish = Callable[[ReasoningOutcome[WorkflowSummary]], Awaitable[object]]


def _facts(triage: TriageResult | None, response: ResponseResult | None) -> list[str]:
    facts: list[str] = []
    if triage is not None:
        facts.append(
            f"Triage: verdict {triage.verdict}, severity {triage.severity.value}, confidence "
            f"{triage.confidence:.2f} ({triage.reasoning}); techniques {', '.join(triage.techniques) or 'none'}."
        )
    if response is not None:
        actions = ", ".join(f"{a.action_type} on {a.target}: {a.status}" for a in response.actions) or "none"
        facts.append(
            f"Response: incident {response.status}, playbook {response.playbook or 'none'}; actions {actions}; "
            f"{response.pending_approvals} awaiting approval."
        )
    return facts


def deterministic_summary(triage: TriageResult | None, response: ResponseResult | None) -> WorkflowSummary:
    """The summary the step results give on their own, with what is still open."""
    open_items: list[str] = []
    if response is not None:
        if response.pending_approvals:
            open_items.append(f"{response.pending_approvals} action(s) awaiting approval")
        open_items += [
            f"{a.action_type} on {a.target} is {a.status}" for a in response.actions if a.status in OPEN_ACTION_STATUSES
        ]
    return WorkflowSummary(
        summary=" ".join(_facts(triage, response)) or "No step has reported a result.",
        open_items=open_items[:20],
        confidence=1.0,
    )


def instruction(triage: TriageResult | None, response: ResponseResult | None) -> str:
    """Trusted text only: verdicts, statuses and counts."""
    parts = ["Summarise this alert-to-containment workflow for an analyst."]
    if triage is not None:
        parts.append(f"Triage verdict {triage.verdict}, severity {triage.severity.value}.")
    if response is not None:
        parts.append(
            f"Incident status {response.status}, {len(response.actions)} actions, "
            f"{response.pending_approvals} awaiting approval."
        )
    parts.append("The alert and the step results follow as quoted evidence.")
    return " ".join(parts)


def evidence_of(
    alert: NormalizedAlert | None, triage: TriageResult | None, response: ResponseResult | None
) -> list[Evidence]:
    """The untrusted text the summary may draw on."""
    items: list[Evidence] = []
    if alert is not None:
        items.append(Evidence(source="alert.title", text=alert.title))
        if alert.description:
            items.append(Evidence(source="alert.description", text=alert.description))
    if triage is not None:
        items.append(Evidence(source="step.triage", text="\n".join(filter(None, [triage.summary, triage.narrative]))))
    if response is not None:
        items.append(Evidence(source="step.respond", text="\n".join([*_facts(None, response), response.summary])))
    return items


def summary_record(outcome: ReasoningOutcome[WorkflowSummary]) -> dict[str, Any]:
    """What the workflow row keeps: the summary and the account of how it was written."""
    return {**reasoning_record(outcome), **outcome.output.model_dump(mode="json")}


def workflow_usage(steps: Iterable[Mapping[str, Any]], summary: Mapping[str, Any] | None) -> dict[str, Any]:
    """Model usage of a workflow: every step result that reports usage, plus the summary's."""
    results = [s.get("result") for s in steps if isinstance(s.get("result"), Mapping)]
    total: UsageTotals = sum_usage([*results, summary])
    return usage_record(total)


class WorkflowReasoner:
    """Writes workflow summaries through the runtime's reasoning layer."""

    def __init__(self, layer: ReasoningLayer, publish: Publish) -> None:
        self._layer = layer
        self._publish = publish

    async def summarise(
        self,
        workflow_id: str,
        incident_id: str | None,
        alert: NormalizedAlert | None,
        triage: TriageResult | None,
        response: ResponseResult | None,
    ) -> dict[str, Any]:
        """The summary record of a workflow; deterministic when the model cannot help."""
        outcome = await self._layer.run(
            ReasoningTask(
                agent="supervisor",
                purpose=PURPOSE.value,
                instruction=instruction(triage, response),
                output_model=WorkflowSummary,
                deterministic=deterministic_summary(triage, response),
                evidence=evidence_of(alert, triage, response),
                workflow_id=workflow_id,
                incident_id=incident_id,
            )
        )
        await self._publish(outcome)
        return summary_record(outcome)
