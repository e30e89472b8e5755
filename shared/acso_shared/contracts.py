"""Payload contracts of the main flow's messages (the envelope's `payload`), one model per kind.

Kinds and routes (queue names from the manifest):

| kind                     | from               | to (queue)                    |
|--------------------------|--------------------|-------------------------------|
| `triage.request`         | supervisor         | threat hunter tasks           |
| `triage.result`          | threat hunter      | supervisor results            |
| `response.request`       | supervisor         | incident response tasks       |
| `response.result`        | incident response  | supervisor results            |
| `incident.alerts_updated`| supervisor         | incident response tasks       |
| `incident.status`        | incident response  | supervisor results            |
| `containment.result`     | incident response  | supervisor results            |
| `incident.alert_resolved`| supervisor         | incident response tasks       |
| `ticket.sync`            | incident response  | service orchestration tasks   |
| `incident.external_update`| service orchestration | incident response tasks    |
| `operation.request`      | incident response  | service orchestration tasks   |
| `operation.result`       | service orchestration | incident response tasks    |
| `cost.impact.request`    | incident response  | financial intelligence tasks  |
| `cost.findings`          | supervisor         | financial intelligence tasks  |
| `ping.request/.result`   | supervisor / agent | agent tasks / results         |

Every result names the workflow and step of its request (the envelope's `workflow_id`/`step`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from acso_shared.alerts.models import NormalizedAlert, Observable, Resource, SeverityLabel

TRIAGE_REQUEST = "triage.request"
TRIAGE_RESULT = "triage.result"
RESPONSE_REQUEST = "response.request"
RESPONSE_RESULT = "response.result"
INCIDENT_ALERTS_UPDATED = "incident.alerts_updated"
INCIDENT_STATUS = "incident.status"
TICKET_SYNC = "ticket.sync"
INCIDENT_EXTERNAL_UPDATE = "incident.external_update"
OPERATION_REQUEST = "operation.request"
OPERATION_RESULT = "operation.result"
COST_IMPACT_REQUEST = "cost.impact.request"
COST_FINDINGS = "cost.findings"
CONTAINMENT_RESULT = "containment.result"
INCIDENT_ALERT_RESOLVED = "incident.alert_resolved"

Verdict = Literal["malicious", "suspicious", "benign"]
IncidentStatus = Literal["new", "triaged", "contained", "eradicated", "recovered", "closed"]
Reasoning = Literal["deterministic", "llm"]


class _Contract(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TriageRequest(_Contract):
    incident_id: str
    alert: NormalizedAlert


class EvidenceItem(_Contract):
    """One fact a triage conclusion rests on."""

    kind: Literal["intel_match", "cloudtrail", "attack_technique", "alert_source", "correlation", "hunt", "llm"]
    summary: str = Field(max_length=2000)
    source: str | None = Field(default=None, description="Feed, log or product the fact comes from")
    confidence: float | None = Field(default=None, ge=0, le=1)
    data: dict[str, Any] = Field(default_factory=dict)


class TriageResult(_Contract):
    incident_id: str
    alert_id: str
    verdict: Verdict
    severity: SeverityLabel
    confidence: float = Field(ge=0, le=1)
    techniques: list[str] = Field(default_factory=list)
    evidence: list[EvidenceItem] = Field(default_factory=list)
    summary: str = ""
    reasoning: Reasoning = "deterministic"
    # Added by the reasoning layer; optional, so senders that predate it stay valid.
    narrative: str = Field(default="", max_length=8000)
    degraded_reason: str | None = None
    injection_findings: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)


class ResponseRequest(_Contract):
    incident_id: str
    alert: NormalizedAlert
    triage: TriageResult
    alert_count: int = Field(ge=1)
    first_seen: datetime
    last_seen: datetime
    fingerprint: str


class ActionSummary(_Contract):
    action_id: str
    action_type: str
    status: str
    risk: Literal["low", "medium", "high"]
    target: str


class ResponseResult(_Contract):
    """The plan for one alert of an incident (`actions` are the incident's; `open_actions` this alert's).

    With `open_actions` above zero the alert's workflow waits for its `containment.result`.
    """

    incident_id: str
    status: IncidentStatus
    playbook: str | None = None
    actions: list[ActionSummary] = Field(default_factory=list)
    pending_approvals: int = 0
    summary: str = ""
    alert_id: str | None = None
    open_actions: int = Field(default=0, ge=0)


class ContainmentResult(_Contract):
    """Every action on one alert's resources has finished: `contained`, `failed` (some resource was not
    contained) or `no_action` (nothing to do). `targets` maps each target to its outcome."""

    incident_id: str
    alert_id: str
    outcome: Literal["contained", "failed", "no_action"]
    incident_status: IncidentStatus
    targets: dict[str, str] = Field(default_factory=dict)


class IncidentAlertResolved(_Contract):
    """The source says an alert of the incident needs no more work (passed, archived, resolved)."""

    incident_id: str
    alert_id: str
    reason: str = Field(max_length=256)
    resolved_at: datetime


class AlertBrief(_Contract):
    """An alert as an incident lists it: what it is and what it names, without its raw source."""

    alert_id: str
    source: str
    type: str
    title: str
    severity: SeverityLabel
    occurred_at: datetime
    account_id: str | None = None
    resources: list[Resource] = Field(default_factory=list)
    observables: list[Observable] = Field(default_factory=list)

    @classmethod
    def of(cls, alert: NormalizedAlert) -> AlertBrief:
        return cls(
            alert_id=str(alert.alert_id),
            source=alert.source,
            type=alert.type,
            title=alert.title,
            severity=alert.severity.label,
            occurred_at=alert.occurred_at,
            account_id=alert.account_id,
            resources=alert.resources,
            observables=alert.observables,
        )


class IncidentAlertsUpdated(_Contract):
    """Alerts folded into an open incident: counts are absolute, so updates may arrive in any order."""

    incident_id: str
    alert_ids: list[str] = Field(default_factory=list)
    alerts: list[AlertBrief] = Field(default_factory=list, description="The folded alerts, when the sender knows them")
    alert_count: int = Field(ge=1)
    first_seen: datetime
    last_seen: datetime


class IncidentStatusChanged(_Contract):
    incident_id: str
    status: IncidentStatus
    severity: SeverityLabel
    changed_at: datetime


class IncidentComment(_Contract):
    author: str
    text: str = Field(max_length=20000)
    created_at: datetime
    source: Literal["acso", "servicenow", "jira", "webhook"] = "acso"


class TicketSync(_Contract):
    """The incident as it should look on the ticket side; idempotent: the latest snapshot wins."""

    incident_id: str
    title: str
    status: IncidentStatus
    severity: SeverityLabel
    summary: str = ""
    assignee: str | None = None
    comments: list[IncidentComment] = Field(default_factory=list)
    updated_at: datetime


class IncidentExternalUpdate(_Contract):
    """A change made on the ticket side (state or comment), for the incident's timeline."""

    incident_id: str
    system: Literal["servicenow", "jira", "webhook"]
    external_id: str
    status: IncidentStatus | None = None
    comment: str | None = None
    actor: str | None = None
    occurred_at: datetime


class OperationRequest(_Contract):
    """An operation another agent asks for (e.g. collect forensic artifacts before isolation)."""

    operation: Literal["restart_service", "patch", "collect_forensics", "rotate_credential", "run_runbook"]
    instance_ids: list[str] = Field(default_factory=list)
    tag_filter: dict[str, str] = Field(default_factory=dict)
    parameters: dict[str, Any] = Field(default_factory=dict)
    requested_by: str
    incident_id: str | None = None
    reason: str = ""


class OperationResult(_Contract):
    operation_id: str
    incident_id: str | None = None
    status: str
    per_instance: dict[str, str] = Field(default_factory=dict)


class ResponseActionRecord(_Contract):
    """One containment action as the cost estimate needs it."""

    action_type: str
    target: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    details: dict[str, Any] = Field(default_factory=dict, description="e.g. snapshot sizes in GiB")


class CostImpactRequest(_Contract):
    incident_id: str
    resource_ids: list[str]
    window_start: datetime
    window_end: datetime | None = None
    actions: list[ResponseActionRecord] = Field(default_factory=list)


class CostFinding(_Contract):
    """A security finding as the cost link needs it (a compute anomaly near one raises an alert)."""

    id: str
    title: str
    region: str
    account: str | None = None
    observed_at: datetime
    severity: Literal["low", "medium", "high", "critical"]
    resource_ids: list[str] = Field(default_factory=list)


class CostFindings(_Contract):
    findings: list[CostFinding] = Field(min_length=1, max_length=1000)
