"""Wire schemas of the incident-response API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from acso_shared.alerts.models import SeverityLabel
from acso_shared.aws.compliance import ResourceCompliance
from acso_shared.contracts import IncidentStatus

ActionStatus = Literal[
    "planned", "pending_approval", "running", "succeeded", "failed", "reverted", "rejected", "blocked"
]
ApprovalStatus = Literal["pending", "approved", "rejected"]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SlaTimer(_Wire):
    """One SLA clock: target, deadline, and whether it is running, met or breached."""

    target_s: int | None
    due_at: datetime | None
    completed_at: datetime | None
    elapsed_s: float
    state: Literal["running", "met", "breached", "none"]


class Sla(_Wire):
    time_to_triage: SlaTimer
    time_to_contain: SlaTimer


class IncidentSummary(_Wire):
    id: str
    title: str
    status: IncidentStatus
    severity: SeverityLabel
    verdict: str
    assignee: str | None
    finding_type: str
    account_id: str | None
    playbook: str | None
    alert_count: int
    first_seen: datetime
    last_seen: datetime
    version: int
    created_at: datetime
    updated_at: datetime
    sla: Sla


class IncidentList(_Wire):
    items: list[IncidentSummary]
    next_cursor: str | None = None


class AlertRef(_Wire):
    """One alert of the incident, with what it names and how far its own response has come."""

    alert_id: str
    source: str
    type: str
    title: str
    occurred_at: datetime | None
    severity: SeverityLabel | None = None
    account_id: str | None = None
    status: Literal["active", "resolved"] = "active"
    status_reason: str | None = None
    resolved_at: datetime | None = None
    verdict: str | None = None
    playbook: str | None = None
    resources: list[dict[str, Any]] = Field(default_factory=list)
    observables: list[dict[str, Any]] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list, description="The action targets this alert names")
    containment: Literal["pending", "contained", "failed", "no_action"] | None = Field(
        default=None, description="None before its response is planned; pending while its actions run"
    )
    joined_at: datetime | None = None


class ObservableRef(_Wire):
    type: str
    value: str


class TimelineEntry(_Wire):
    id: int
    at: datetime
    kind: str
    actor: str
    summary: str
    data: dict[str, Any]


class Comment(_Wire):
    id: int
    author: str
    text: str
    source: str
    created_at: datetime


class Action(_Wire):
    id: str
    incident_id: str
    playbook: str
    alert_id: str | None = Field(default=None, description="The alert whose response planned it")
    step: str
    action_type: str
    target: str
    account_id: str | None
    risk: Literal["low", "medium", "high"]
    dry_run: bool
    revertible: bool
    status: ActionStatus
    reason: str | None
    before_state: dict[str, Any] | None
    after_state: dict[str, Any] | None
    error: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    reverted_at: datetime | None
    reverted_by: str | None


class ActionList(_Wire):
    items: list[Action]


class Approval(_Wire):
    id: str
    action_id: str
    incident_id: str
    status: ApprovalStatus
    expired: bool
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    action_type: str
    target: str


class ApprovalList(_Wire):
    items: list[Approval]


class _Record(BaseModel):
    """How one reasoning run answered (`reasoning`: llm or deterministic); extra stored keys are dropped."""

    reasoning: Literal["llm", "deterministic"]
    confidence: float
    provider: str
    model_id: str | None = None
    degraded_reason: str | None = None
    injection_findings: list[dict[str, Any]] = Field(default_factory=list)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)


class ResponsePlanOut(_Record):
    """The response plan, and what became of each model proposal (`outcome`, `action_id`, `action_status`)."""

    summary: str
    steps: list[str]
    proposals: list[dict[str, Any]] = Field(default_factory=list)


class IncidentSummaryOut(_Record):
    """The latest summary, and the status and version it was written for."""

    summary: str
    timeline: list[str] = Field(default_factory=list)
    status: str
    version: int


class TriageReasoningOut(BaseModel):
    reasoning: str
    degraded_reason: str | None = None
    injection_findings: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)


class IncidentReasoning(BaseModel):
    """The reasoning layer's account of the incident; `plan` is null for a benign verdict."""

    triage: TriageReasoningOut | None = None
    plan: ResponsePlanOut | None = None
    summary: IncidentSummaryOut | None = None


class IncidentDetail(IncidentSummary):
    summary: str
    confidence: float
    techniques: list[str]
    fingerprint: str
    resolution: str | None
    triaged_at: datetime | None
    contained_at: datetime | None
    closed_at: datetime | None
    alerts: list[AlertRef]
    observables: list[ObservableRef]
    timeline: list[TimelineEntry]
    comments: list[Comment]
    actions: list[Action]
    approvals: list[Approval]
    reasoning: IncidentReasoning | None = None
    llm_usage: dict[str, Any] | None = Field(
        default=None, description="Model calls, tokens and estimated cost of the triage, the plan and the summaries"
    )
    compliance: list[ResourceCompliance] = Field(
        default_factory=list,
        description="AWS Config's verdict on each of the incident's resources (read live, cached briefly)",
    )


class IncidentQuery(_Wire):
    status: IncidentStatus | None = None
    severity: SeverityLabel | None = None
    assignee: str | None = Field(default=None, min_length=1, max_length=256)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class ApprovalQuery(_Wire):
    status: ApprovalStatus | None = None
    incident_id: str | None = Field(default=None, max_length=128)
    limit: int = Field(default=100, ge=1, le=500)


class IncidentPatch(_Wire):
    """Fields a responder may change; `expected_version` makes the update conditional."""

    status: Literal["new", "triaged", "contained", "eradicated", "recovered"] | None = None
    severity: SeverityLabel | None = None
    assignee: str | None = Field(default=None, max_length=256)
    title: str | None = Field(default=None, min_length=1, max_length=1024)
    expected_version: int | None = Field(default=None, ge=1)


class CommentCreate(_Wire):
    text: str = Field(min_length=1, max_length=20000)


class CloseRequest(_Wire):
    resolution: str = Field(min_length=1, max_length=4000)


class ApprovalDecision(_Wire):
    decision: Literal["approve", "reject"]
    comment: str | None = Field(default=None, max_length=4000)
