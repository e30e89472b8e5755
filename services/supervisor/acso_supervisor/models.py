"""Wire schemas of the supervisor's agent directory and DLQ console."""

from __future__ import annotations

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
