"""Wire schemas of the ticket endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from acso_service_orchestration.itsm.models import ItsmSystem


class TicketsQuery(BaseModel):
    incident_id: str = Field(min_length=1, max_length=64)


class TicketInfo(BaseModel):
    """The ticket an incident has in one system (absent until the first create succeeds)."""

    external_id: str
    external_key: str | None = None
    url: str | None = None
    created_at: datetime
    last_inbound_at: datetime | None = None
    last_inbound_state: str | None = None


class SyncState(BaseModel):
    """How pushing the incident to one system is going."""

    status: Literal["pending", "synced", "failing"]
    attempts: int = Field(description="Failed attempts since the last success")
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    last_synced_at: datetime | None = None
    next_retry_at: datetime | None = None


class TicketLink(BaseModel):
    system: ItsmSystem
    ticket: TicketInfo | None = None
    sync: SyncState


class TicketList(BaseModel):
    incident_id: str
    tickets: list[TicketLink]


class InboundAck(BaseModel):
    """The answer to an ITSM's webhook delivery: 202 whether or not it changed anything."""

    accepted: bool
    reason: Literal["forwarded", "no_change", "self_authored", "unknown_ticket", "duplicate"]
    incident_id: str | None = None
