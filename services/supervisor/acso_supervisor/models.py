"""Wire schemas of the supervisor's agent directory and DLQ console."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class QueueInfo(BaseModel):
    name: str
    depth: int = Field(description="Messages waiting (visible + delayed)")
    in_flight: int


class AgentStatus(BaseModel):
    agent: str
    status: Literal["healthy", "unhealthy", "starting", "stopping", "stopped", "unknown"]
    version: str | None = None
    instance_id: str | None = None
    url: str | None = None
    last_heartbeat: datetime | None = None
    heartbeat_age_s: float | None = None
    queue: QueueInfo | None = None
    dlq: QueueInfo | None = None
    last_ping_at: datetime | None = None
    last_ping_rtt_ms: float | None = None
    consumed: int | None = None
    failed: int | None = None


class AgentList(BaseModel):
    agents: list[AgentStatus]
    healthy: int
    total: int


class PingResult(BaseModel):
    agent: str
    ok: bool
    rtt_ms: float | None = None
    instance_id: str | None = None
    trace_id: str | None = None
    error: str | None = None


class PingResponse(BaseModel):
    results: list[PingResult]


class DlqMessage(BaseModel):
    message_id: str
    kind: str | None = None
    idempotency_key: str | None = None
    workflow_id: str | None = None
    sender: str | None = None
    receive_count: int
    body_preview: str


class DlqInfo(BaseModel):
    agent: str
    queue: str
    dlq: str
    depth: int
    messages: list[DlqMessage]


class DlqList(BaseModel):
    dlqs: list[DlqInfo]
    total: int


class ReplayRequest(BaseModel):
    max_messages: int = Field(default=10, ge=1, le=1000)


class ReplayResult(BaseModel):
    agent: str
    replayed: int
    remaining: int


class IngestedAlertOut(BaseModel):
    alert_id: str
    incident_id: str | None = Field(default=None, description="None when the alert was `ignored`")
    outcome: Literal["new_incident", "deduplicated", "correlated", "duplicate", "resolved", "ignored"]
    workflow_id: str | None = None
    reason: str | None = Field(default=None, description="Why an alert was resolved or ignored")


class AlertBatchAccepted(BaseModel):
    accepted: int
    incidents: list[str]
    results: list[IngestedAlertOut]


class AlertOut(BaseModel):
    alert_id: str
    incident_id: str
    fingerprint: str
    source: str
    source_format: str
    type: str
    severity: str
    title: str
    occurred_at: datetime
    received_at: datetime
    last_received_at: datetime
    occurrences: int
    outcome: str
    status: Literal["active", "resolved"] = "active"
    status_reason: str | None = None
    account_id: str | None = None
    normalized: dict[str, object] | None = None
    evidence: list[object] | None = None


class AlertPage(BaseModel):
    alerts: list[AlertOut]


class AlertQuery(BaseModel):
    incident_id: uuid.UUID | None = None
    limit: int = Field(default=50, ge=1, le=500)


class WorkflowStepOut(BaseModel):
    step: str
    agent: str
    status: str
    attempts: int
    max_attempts: int
    sent_at: str | None = None
    deadline_at: str | None = None
    completed_at: str | None = None
    result: dict[str, object] | None = None
    error: str | None = None


class WorkflowSummaryOut(BaseModel):
    """The summary of a completed workflow and how it was written."""

    reasoning: Literal["llm", "deterministic"]
    summary: str
    open_items: list[str] = Field(default_factory=list)
    confidence: float
    provider: str
    model_id: str | None = None
    degraded_reason: str | None = None
    injection_findings: list[dict[str, object]] = Field(default_factory=list)
    usage: dict[str, object] = Field(default_factory=dict)


class WorkflowOut(BaseModel):
    workflow_id: str
    kind: str
    incident_id: str | None = None
    alert_id: str | None = None
    status: str
    error: str | None = None
    created_at: str
    updated_at: str
    completed_at: str | None = None
    steps: list[WorkflowStepOut] = Field(default_factory=list)
    summary: WorkflowSummaryOut | None = None
    llm_usage: dict[str, object] | None = Field(
        default=None, description="Model calls, tokens and estimated cost of every step and the summary"
    )


class WorkflowPage(BaseModel):
    workflows: list[WorkflowOut]


class WorkflowQuery(BaseModel):
    incident_id: uuid.UUID | None = None
    status: Literal["running", "completed", "failed"] | None = None
    limit: int = Field(default=50, ge=1, le=500)
