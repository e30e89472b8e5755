"""The reasoning layer on incidents: a response plan after planning, and a summary after status changes.

The deterministic plan (the playbook's actions as planned, with their policy outcomes) always
stands and commits before any model is asked. The model then writes the plan up for a responder,
may read the history of earlier incidents on the same resources, and may *propose* containment the
playbook lacks. Proposals never run: each one names a resource id from the parsed alert (the tool
schema only offers those) and becomes at most one action row through the same policy `check`, the
blast-radius cap and, for high risk, the approval flow as a playbook step; one the playbook already
planned is a no-op. Every proposal, accepted or refused, lands on the timeline, and so does every
injection finding of the triage and of the plan (`injection_attempt`).

Summaries are written off the hot path: a status change stamps `summary_due_at`, and `sweep`
summarises incidents whose last change is a debounce interval old. Alert text, triage narratives
and timeline text reach the model only as quoted evidence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from pydantic import BaseModel, Field, ValidationError

from acso_incident_response import lifecycle
from acso_incident_response.actions.base import ActionContext
from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.planning import PlannedStep, Planner, action_id_for, dispatch_ready
from acso_incident_response.playbook import Playbook, PlaybookStep
from acso_incident_response.policy import check
from acso_incident_response.targets import Target, TargetKind, targets_of
from acso_shared.alerts.models import NormalizedAlert
from acso_shared.contracts import ResponseRequest, TriageResult
from acso_shared.db import Database
from acso_shared.errors import Forbidden
from acso_shared.llm import (
    Evidence,
    InjectionCategory,
    InjectionFinding,
    MutatingTool,
    Proposal,
    Purpose,
    ReadOnlyTool,
    ReasoningLayer,
    ReasoningOutcome,
    ReasoningTask,
    ResourceId,
    ToolRegistry,
)
from acso_shared.llm.outputs import IncidentSummary as IncidentSummaryOutput
from acso_shared.llm.outputs import ResponsePlan
from acso_shared.llm.records import reasoning_record, sum_usage, usage_of, usage_record
from acso_shared.logging import get_logger

log = get_logger("acso.incident_response.reasoning")

PLAN = Purpose.RESPONSE_PLAN
SUMMARY = Purpose.INCIDENT_SUMMARY
PROPOSAL_PLAYBOOK = "llm-proposal"
MAX_HISTORY = 10
MAX_SUMMARY_TIMELINE = 50
Publish = Callable[[ReasoningOutcome[Any]], Awaitable[object]]


# -- tools ------------------------------------------------------------------------------------
class HistoryInput(BaseModel):
    resource_id: str = Field(
        min_length=1,
        max_length=2048,
        description="a resource id from the parsed alert (instance, access key, user, IP, bucket); others are refused",
    )


class PastAction(BaseModel):
    action_type: str
    target: str
    status: str


class PastIncident(BaseModel):
    incident_id: str
    status: str
    severity: str
    verdict: str
    finding_type: str
    created_at: str
    actions: list[PastAction]


class HistoryOutput(BaseModel):
    resource_id: str
    incidents: list[PastIncident]


class InstanceInput(BaseModel):
    instance_id: ResourceId = Field(description="the EC2 instance id")
    rationale: str = Field(default="", max_length=500)


class AccessKeyInput(BaseModel):
    access_key_id: ResourceId = Field(description="the IAM access key id")
    rationale: str = Field(default="", max_length=500)


class UserInput(BaseModel):
    user_name: ResourceId = Field(description="the IAM user name")
    rationale: str = Field(default="", max_length=500)


class IpInput(BaseModel):
    ip: ResourceId = Field(description="the public IPv4 address")
    rationale: str = Field(default="", max_length=500)


class BucketInput(BaseModel):
    bucket: ResourceId = Field(description="the S3 bucket name")
    rationale: str = Field(default="", max_length=500)


@dataclass(frozen=True)
class ProposalTool:
    """A mutating tool: the action it proposes, the kind of target, and the input field naming it."""

    name: str
    description: str
    action: str
    kind: TargetKind
    input_model: type[BaseModel]
    field: str


PROPOSAL_TOOLS: tuple[ProposalTool, ...] = (
    ProposalTool(
        "isolate_instance",
        "Propose moving the instance into the no-traffic quarantine security group.",
        "ec2.quarantine",
        TargetKind.EC2_INSTANCE,
        InstanceInput,
        "instance_id",
    ),
    ProposalTool(
        "snapshot_instance",
        "Propose EBS snapshots of every volume of the instance (evidence).",
        "ec2.snapshot_volumes",
        TargetKind.EC2_INSTANCE,
        InstanceInput,
        "instance_id",
    ),
    ProposalTool(
        "stop_instance",
        "Propose stopping the instance (high risk: a responder must approve).",
        "ec2.stop",
        TargetKind.EC2_INSTANCE,
        InstanceInput,
        "instance_id",
    ),
    ProposalTool(
        "deactivate_access_key",
        "Propose deactivating the IAM access key.",
        "iam.deactivate_key",
        TargetKind.IAM_ACCESS_KEY,
        AccessKeyInput,
        "access_key_id",
    ),
    ProposalTool(
        "deny_all_for_user",
        "Propose attaching a deny-all inline policy to the IAM user.",
        "iam.deny_all",
        TargetKind.IAM_USER,
        UserInput,
        "user_name",
    ),
    ProposalTool(
        "block_ip", "Propose adding the address to the WAF block list.", "waf.block_ip", TargetKind.IP, IpInput, "ip"
    ),
    ProposalTool(
        "block_bucket_public_access",
        "Propose blocking all public access to the bucket.",
        "s3.block_public_access",
        TargetKind.S3_BUCKET,
        BucketInput,
        "bucket",
    ),
)
_BY_TOOL = {t.name: t for t in PROPOSAL_TOOLS}


@dataclass
class Scope:
    """The targets the parsed alert names, and the identifiers the model asked about outside them."""

    targets: dict[tuple[TargetKind, str], Target]
    refused: list[InjectionFinding] = field(default_factory=list)

    @property
    def allowed(self) -> frozenset[str]:
        return frozenset(ident for _, ident in self.targets)


def scope_of(alert: NormalizedAlert) -> Scope:
    """Every target of every kind the alert names: the only identifiers tools may take."""
    return Scope({(t.kind, t.id): t for kind in TargetKind for t in targets_of(alert, kind)})


_HISTORY_SQL = """
SELECT i.id, i.status, i.severity, i.verdict, i.finding_type, i.created_at,
       COALESCE((SELECT jsonb_agg(jsonb_build_object('action_type', a.action_type, 'target', a.target,
                                                     'status', a.status) ORDER BY a.seq)
                 FROM ir_actions a
                 WHERE a.incident_id = i.id AND substr(a.target, strpos(a.target, ':') + 1) = $2), '[]'::jsonb)
           AS actions
FROM ir_incidents i
WHERE i.id <> $1 AND (
    EXISTS (SELECT 1 FROM ir_actions a WHERE a.incident_id = i.id AND substr(a.target, strpos(a.target, ':') + 1) = $2)
    OR EXISTS (SELECT 1 FROM ir_incident_observables o WHERE o.incident_id = i.id AND o.value = $2))
ORDER BY i.created_at DESC
LIMIT $3
"""


def build_tools(db: Database, incident_id: str, scope: Scope) -> ToolRegistry:
    """The incident-history lookup (read-only) and the containment proposals (mutating)."""

    async def incident_history(args: HistoryInput) -> HistoryOutput:
        if args.resource_id not in scope.allowed:
            # Reading about other resources is how injected text widens what a plan looks at.
            scope.refused.append(
                InjectionFinding(
                    category=InjectionCategory.OUT_OF_SCOPE_IDENTIFIER,
                    rule_id="tool_identifier_not_in_alert",
                    source="tool:incident_history",
                    excerpt=f"resource_id={args.resource_id}"[:160],
                )
            )
            raise Forbidden("resource_not_in_scope", "only resource ids from the parsed alert may be looked up")
        rows = await db.fetch(_HISTORY_SQL, incident_id, args.resource_id, MAX_HISTORY)
        return HistoryOutput(
            resource_id=args.resource_id,
            incidents=[
                PastIncident(
                    incident_id=r["id"],
                    status=r["status"],
                    severity=r["severity"],
                    verdict=r["verdict"],
                    finding_type=r["finding_type"],
                    created_at=r["created_at"].isoformat(),
                    actions=[PastAction.model_validate(a) for a in r["actions"]],
                )
                for r in rows
            ],
        )

    history = ReadOnlyTool(
        "incident_history",
        "Earlier incidents that touched one resource of this alert, with the actions taken on it.",
        HistoryInput,
        incident_history,
    )
    proposals = [MutatingTool(t.name, t.description, t.input_model, t.action) for t in PROPOSAL_TOOLS]
    return ToolRegistry([history, *proposals])


# -- proposals --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Review:
    """What became of one proposal: `planned` (an action row now exists), `duplicate` or `refused`."""

    proposal: Proposal
    outcome: str
    code: str
    reason: str
    target: Target | None = None
    step: PlaybookStep | None = None
    action_id: str | None = None

    def describe(self) -> str:
        subject = f"{self.proposal.action} on {self.target.key if self.target else self.proposal.resource_ids}"
        return f"model proposal {subject}: {self.outcome} ({self.reason})"


def proposal_step_id(action: str) -> str:
    """The step id of a model-proposed action: one per action type, so a repeated proposal hits the unique key."""
    return "llm-" + action.replace(".", "-").replace("_", "-")


def review_proposals(
    incident_id: str,
    proposals: Sequence[Proposal],
    scope: Scope,
    existing: Mapping[tuple[str, str], str],
    after: Sequence[str],
) -> list[Review]:
    """Map proposals to planned steps; refuse anything whose target the parsed alert does not name as that kind."""
    reviews: list[Review] = []
    taken = dict(existing)
    for proposal in proposals:
        tool = _BY_TOOL.get(proposal.tool)
        if tool is None or tool.action != proposal.action or tool.action not in ACTIONS:
            reviews.append(Review(proposal, "refused", "unknown_action", f"no action behind tool {proposal.tool}"))
            continue
        ident = proposal.resource_ids.get(tool.field)
        target = scope.targets.get((tool.kind, ident)) if isinstance(ident, str) else None
        if target is None:
            # The allow-set is one list for all kinds: an IP offered to isolate_instance is still refused.
            reviews.append(
                Review(
                    proposal,
                    "refused",
                    "target_not_in_alert",
                    f"the alert names no {tool.kind.value} {ident!r}",
                )
            )
            continue
        planned_as = taken.get((tool.action, target.key))
        if planned_as is not None:
            reviews.append(
                Review(proposal, "duplicate", "already_planned", "already planned", target, action_id=planned_as)
            )
            continue
        step = PlaybookStep(id=proposal_step_id(tool.action), action=tool.action, target=tool.kind, after=tuple(after))
        action_id = action_id_for(incident_id, step.id, target.key)
        taken[(tool.action, target.key)] = action_id
        reviews.append(Review(proposal, "planned", "planned", "through the action policy", target, step, action_id))
    return reviews


def refused_out_of_scope(findings: Iterable[InjectionFinding]) -> list[InjectionFinding]:
    """Mutating calls the tool registry refused because they named a resource outside the alert."""
    mutating = {f"tool:{t.name}" for t in PROPOSAL_TOOLS}
    return [f for f in findings if f.category is InjectionCategory.OUT_OF_SCOPE_IDENTIFIER and f.source in mutating]


# -- the plan ---------------------------------------------------------------------------------
def _describe_row(row: Mapping[str, Any]) -> str:
    action = ACTIONS.get(row["action_type"])
    target = Target.parse(row["target"], account_id=row["account_id"], user_name=row["target_user"])
    what = action.describe(target, dict(row["params"])) if action else f"{row['action_type']} on {row['target']}"
    reason = f": {row['reason']}" if row["reason"] else ""
    return f"{row['step']}: {what} ({row['status']}{reason})"


def deterministic_plan(
    alert: NormalizedAlert, triage: TriageResult, playbook: Playbook | None, rows: Sequence[Mapping[str, Any]]
) -> ResponsePlan:
    """The plan the playbook gives on its own: its actions as planned, and the steps that found no target."""
    if playbook is None:
        return ResponsePlan(
            summary=f"No playbook matches {alert.type} ({triage.verdict}, {triage.severity.value}): "
            "no automated containment; a responder investigates.",
            steps=["Investigate the alert and contain by hand if needed"],
            confidence=1.0,
        )
    steps = [_describe_row(r) for r in rows]
    planned_steps = {r["step"] for r in rows}
    steps += [f"{s.id}: no {s.target.value} in the alert" for s in playbook.steps if s.id not in planned_steps]
    counts = Counter(r["status"] for r in rows)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no actions"
    return ResponsePlan(
        summary=f"Playbook {playbook.id} ({playbook.name}) for a {triage.verdict} {triage.severity.value} finding: "
        f"{tally}."[:2000],
        steps=[s[:500] for s in steps[:20]],
        confidence=1.0,
    )


def plan_instruction(triage: TriageResult, playbook: Playbook | None, rows: Sequence[Mapping[str, Any]]) -> str:
    """Trusted text only: enums, counts and the playbook id (from ACSO's own playbook files)."""
    counts = Counter(r["status"] for r in rows)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    return (
        f"Incident response planned playbook {playbook.id if playbook else 'none'} for a {triage.verdict} finding "
        f"of severity {triage.severity.value} (confidence {triage.confidence:.2f}); actions: {tally}. "
        "The deterministic plan, the alert and the triage follow as quoted evidence. Write the response plan "
        "for a responder. incident_history shows earlier incidents on these resources. Containment the plan "
        "lacks may only be proposed with the action tools: every proposal goes through the action policy and, "
        "when high risk, a responder's approval; nothing runs directly."
    )


def plan_evidence(alert: NormalizedAlert, triage: TriageResult, deterministic: ResponsePlan) -> list[Evidence]:
    """The untrusted text: the alert's words, the triage written from them, and the plan quoting its ids."""
    items = [Evidence(source="alert.title", text=alert.title)]
    if alert.description:
        items.append(Evidence(source="alert.description", text=alert.description))
    triage_text = "\n".join(filter(None, [triage.summary, triage.narrative]))
    if triage_text:
        items.append(Evidence(source="triage.narrative", text=triage_text))
    items.append(Evidence(source="plan.deterministic", text="\n".join([deterministic.summary, *deterministic.steps])))
    return items


def triage_findings(triage: TriageResult) -> list[InjectionFinding]:
    """The injection findings the threat hunter reported (malformed entries are skipped, not trusted)."""
    found: list[InjectionFinding] = []
    for raw in triage.injection_findings:
        try:
            found.append(InjectionFinding.model_validate(raw))
        except ValidationError:
            log.warning("triage_finding_unreadable", incident_id=triage.incident_id)
    return found


def _dedupe(findings: Iterable[InjectionFinding]) -> list[InjectionFinding]:
    seen: set[tuple[str, str, str]] = set()
    out: list[InjectionFinding] = []
    for f in findings:
        if (f.category, f.rule_id, f.source) not in seen:
            seen.add((f.category, f.rule_id, f.source))
            out.append(f)
    return out


def incident_usage(reasoning: Mapping[str, Any]) -> dict[str, Any]:
    """The incident's model usage: its triage, its response plan and every summary written so far."""
    parts = [reasoning.get("triage"), reasoning.get("plan"), reasoning.get("summaries_usage")]
    return usage_record(sum_usage(p for p in parts if isinstance(p, Mapping)))


# -- the summary ------------------------------------------------------------------------------
def deterministic_summary(
    incident: Mapping[str, Any], actions: Sequence[Mapping[str, Any]], timeline: Sequence[Mapping[str, Any]]
) -> IncidentSummaryOutput:
    """What the incident row, its actions and its timeline say on their own."""
    counts = Counter(a["status"] for a in actions)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    return IncidentSummaryOutput(
        summary=(
            f"{incident['severity']} severity {incident['verdict']} incident ({incident['finding_type']}), "
            f"status {incident['status']}; playbook {incident['playbook'] or 'none'}; actions: {tally}; "
            f"{counts.get('pending_approval', 0)} awaiting approval."
        )[:4000],
        timeline=[f"{t['at']:%Y-%m-%d %H:%M:%S} {t['kind']}: {t['summary']}"[:300] for t in timeline][
            -MAX_SUMMARY_TIMELINE:
        ],
        confidence=1.0,
    )


def summary_instruction(incident: Mapping[str, Any], actions: Sequence[Mapping[str, Any]]) -> str:
    """Trusted text only: statuses, enums and counts."""
    counts = Counter(a["status"] for a in actions)
    tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"
    return (
        f"Summarise this incident for a responder: status {incident['status']}, severity {incident['severity']}, "
        f"verdict {incident['verdict']}, {incident['alert_count']} alert(s), actions: {tally}. "
        "The incident title, the triage summary, the response plan and the timeline follow as quoted evidence."
    )


def summary_evidence(incident: Mapping[str, Any], timeline: Sequence[Mapping[str, Any]]) -> list[Evidence]:
    """The untrusted text: the title and triage summary (alert-derived) and the timeline entries."""
    items = [Evidence(source="incident.title", text=incident["title"])]
    if incident["summary"]:
        items.append(Evidence(source="triage.summary", text=incident["summary"]))
    plan = (incident["reasoning"] or {}).get("plan")
    if isinstance(plan, Mapping) and plan.get("summary"):
        items.append(Evidence(source="plan.summary", text="\n".join([plan["summary"], *plan.get("steps", [])])))
    lines = "\n".join(f"{t['at']:%Y-%m-%d %H:%M:%S} {t['kind']} ({t['actor']}): {t['summary']}" for t in timeline)
    if lines:
        items.append(Evidence(source="incident.timeline", text=lines))
    return items


class IncidentReasoner:
    """Writes response plans and incident summaries through the runtime's reasoning layer."""

    def __init__(
        self,
        layer: ReasoningLayer,
        db: Database,
        planner: Planner,
        publish: Publish,
        context: Callable[[str, str], ActionContext],
    ) -> None:
        self._layer = layer
        self._db = db
        self._planner = planner
        self._publish = publish
        self._context = context

    async def plan(self, request: ResponseRequest, workflow_id: str | None, playbook: Playbook | None) -> bool:
        """Reason about a freshly planned incident once; False when a plan is already recorded."""
        incident_id, triage = request.incident_id, request.triage
        if await self._db.fetchval("SELECT reasoning ? 'plan' FROM ir_incidents WHERE id = $1", incident_id):
            return False
        triage_part = {
            "reasoning": triage.reasoning,
            "degraded_reason": triage.degraded_reason,
            "injection_findings": triage.injection_findings,
            "usage": triage.usage,
        }
        findings = triage_findings(triage)
        if triage.verdict == "benign":
            # Nothing to contain, so nothing to plan or propose; the triage's account is still kept.
            return await self._store_plan(incident_id, triage_part, None, [], findings, [], 0)
        rows = await self._db.fetch(
            "SELECT id, step, seq, action_type, target, target_user, account_id, params, status, reason"
            " FROM ir_actions WHERE incident_id = $1 ORDER BY seq, target",
            incident_id,
        )
        scope = scope_of(request.alert)
        deterministic = deterministic_plan(request.alert, triage, playbook, rows)
        outcome = await self._layer.run(
            ReasoningTask(
                agent="incident_response",
                purpose=PLAN.value,
                instruction=plan_instruction(triage, playbook, rows),
                output_model=ResponsePlan,
                deterministic=deterministic,
                evidence=plan_evidence(request.alert, triage, deterministic),
                tools=build_tools(self._db, incident_id, scope),
                allowed_resources=scope.allowed,
                workflow_id=workflow_id,
                incident_id=incident_id,
            )
        )
        reviews = review_proposals(
            incident_id,
            outcome.proposals,
            scope,
            {(r["action_type"], r["target"]): r["id"] for r in rows},
            sorted({r["step"] for r in rows}),
        )
        # The policy reads live tags from AWS, so it is decided before the transaction.
        steps = [
            PlannedStep(
                r.step,
                r.target,
                r.action_id,
                await check(self._context(r.action_id, incident_id), r.target, actions_in_incident=0),
            )
            for r in reviews
            if r.step is not None and r.target is not None and r.action_id is not None
        ]
        record = {
            **reasoning_record(outcome, extra_findings=scope.refused),
            **outcome.output.model_dump(mode="json"),
        }
        stored = await self._store_plan(
            incident_id,
            triage_part,
            record,
            reviews,
            [*findings, *outcome.injection_findings, *scope.refused],
            steps,
            max((r["seq"] for r in rows), default=-1) + 1,
        )
        if stored:
            await self._publish(outcome)
        return stored

    async def _store_plan(
        self,
        incident_id: str,
        triage_part: dict[str, Any],
        record: dict[str, Any] | None,
        reviews: Sequence[Review],
        findings: Sequence[InjectionFinding],
        steps: list[PlannedStep],
        first_seq: int,
    ) -> bool:
        async with self._db.transaction() as conn:
            current = await conn.fetchrow("SELECT reasoning FROM ir_incidents WHERE id = $1 FOR UPDATE", incident_id)
            if current is None or "plan" in (current["reasoning"] or {}):
                # A concurrent redelivery stored its plan first: this one adds nothing.
                return False
            if steps:
                await self._planner.plan_steps(conn, incident_id, PROPOSAL_PLAYBOOK, steps, first_seq=first_seq)
            if record is not None:
                record["proposals"] = await self._record_reviews(conn, incident_id, reviews, findings)
                await lifecycle.timeline(
                    conn,
                    incident_id,
                    "response_plan",
                    lifecycle.SENDER,
                    f"response plan ({record['reasoning']}): {record['summary']}"[:1000],
                    {"reasoning": record["reasoning"], "degraded_reason": record["degraded_reason"]},
                )
            for finding in _dedupe(findings):
                await lifecycle.timeline(
                    conn,
                    incident_id,
                    "injection_attempt",
                    "threat_hunter" if finding.source.startswith(("alert.", "triage.")) else lifecycle.SENDER,
                    f"prompt injection attempt: {finding.category.value} in {finding.source}",
                    finding.model_dump(mode="json"),
                )
            reasoning = {**(current["reasoning"] or {}), "triage": triage_part, "plan": record}
            await conn.execute(
                "UPDATE ir_incidents SET reasoning = $2, llm_usage = $3 WHERE id = $1",
                incident_id,
                reasoning,
                incident_usage(reasoning),
            )
            await dispatch_ready(conn, incident_id)
        return True

    async def _record_reviews(
        self,
        conn: asyncpg.Connection,
        incident_id: str,
        reviews: Sequence[Review],
        findings: Sequence[InjectionFinding],
    ) -> list[dict[str, Any]]:
        """Timeline entries for every proposal, and the proposals as the plan record keeps them."""
        ids = [r.action_id for r in reviews if r.action_id]
        statuses = {
            row["id"]: (row["status"], row["reason"])
            for row in await conn.fetch("SELECT id, status, reason FROM ir_actions WHERE id = ANY($1)", ids)
        }
        out: list[dict[str, Any]] = []
        for review in reviews:
            status, reason = statuses.get(review.action_id or "", (None, None))
            entry = {
                **review.proposal.model_dump(mode="json"),
                "outcome": review.outcome,
                "code": review.code,
                "target": review.target.key if review.target else None,
                "action_id": review.action_id,
                "action_status": status,
            }
            accepted = review.outcome != "refused"
            note = (
                f"{review.describe()}; action {status}{f': {reason}' if reason else ''}"
                if status
                else review.describe()
            )
            await lifecycle.timeline(
                conn,
                incident_id,
                "llm_proposal_accepted" if accepted else "llm_proposal_refused",
                lifecycle.SENDER,
                note[:1000],
                entry,
            )
            out.append(entry)
        for finding in refused_out_of_scope(findings):
            entry = {
                "tool": finding.source.removeprefix("tool:"),
                "outcome": "refused",
                "code": "resource_not_in_scope",
            }
            await lifecycle.timeline(
                conn,
                incident_id,
                "llm_proposal_refused",
                lifecycle.SENDER,
                f"model proposal refused: {finding.excerpt} is not a resource of the alert"[:1000],
                {**entry, "excerpt": finding.excerpt},
            )
            out.append(entry)
        return out

    # -- summaries ------------------------------------------------------------------------------
    async def summarise(self, incident_id: str) -> dict[str, Any] | None:
        """Write the incident's summary now and keep it (with its usage added to the incident's)."""
        incident = await self._db.fetchrow("SELECT * FROM ir_incidents WHERE id = $1", incident_id)
        if incident is None:
            return None
        actions = await self._db.fetch(
            "SELECT action_type, target, status FROM ir_actions WHERE incident_id = $1 ORDER BY seq", incident_id
        )
        timeline = list(
            reversed(
                await self._db.fetch(
                    "SELECT at, kind, actor, summary FROM ir_timeline WHERE incident_id = $1 ORDER BY id DESC LIMIT $2",
                    incident_id,
                    MAX_SUMMARY_TIMELINE,
                )
            )
        )
        outcome = await self._layer.run(
            ReasoningTask(
                agent="incident_response",
                purpose=SUMMARY.value,
                instruction=summary_instruction(incident, actions),
                output_model=IncidentSummaryOutput,
                deterministic=deterministic_summary(incident, actions, timeline),
                evidence=summary_evidence(incident, timeline),
                workflow_id=incident["workflow_id"],
                incident_id=incident_id,
            )
        )
        record = {
            **reasoning_record(outcome),
            **outcome.output.model_dump(mode="json"),
            "status": incident["status"],
            "version": incident["version"],
        }
        async with self._db.transaction() as conn:
            current = await conn.fetchval("SELECT reasoning FROM ir_incidents WHERE id = $1 FOR UPDATE", incident_id)
            reasoning = dict(current or {})
            total = usage_of(reasoning.get("summaries_usage")) + outcome.usage
            reasoning.update(summary=record, summaries_usage=usage_record(total))
            await conn.execute(
                "UPDATE ir_incidents SET reasoning = $2, llm_usage = $3 WHERE id = $1",
                incident_id,
                reasoning,
                incident_usage(reasoning),
            )
        await self._publish(outcome)
        return record

    async def summarise_due(self, *, debounce_s: float, lease_s: float, limit: int = 5) -> int:
        """Summarise incidents whose last status change is `debounce_s` old; returns how many were written.

        Claiming pushes `summary_due_at` a lease ahead, so another replica skips the incident and a
        crashed summary is retried; clearing compares the claimed value, so a change made while the
        summary was being written asks for another one.
        """
        done = 0
        for _ in range(limit):
            claimed = await self._db.fetchrow(
                """
                UPDATE ir_incidents SET summary_due_at = clock_timestamp() + make_interval(secs => $2)
                WHERE id = (
                    SELECT id FROM ir_incidents
                    WHERE summary_due_at <= clock_timestamp() - make_interval(secs => $1) AND reasoning ? 'plan'
                    ORDER BY summary_due_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                RETURNING id, summary_due_at
                """,
                debounce_s,
                lease_s,
            )
            if claimed is None:
                break
            await self.summarise(claimed["id"])
            await self._db.execute(
                "UPDATE ir_incidents SET summary_due_at = NULL WHERE id = $1 AND summary_due_at = $2",
                claimed["id"],
                claimed["summary_due_at"],
            )
            done += 1
        return done
