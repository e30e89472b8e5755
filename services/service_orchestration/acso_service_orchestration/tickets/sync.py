"""Outbound ticket sync: `ticket.sync` snapshots pushed to every configured ITSM, with retries.

The handler stores the snapshot per system, then tries each push once. An ITSM failure is never
raised out of the handler: it is recorded on the (incident, system) row (attempts, last error,
next retry) and the background loop retries with exponential backoff, so an unreachable ITSM
never blocks the incident workflow. Each push is idempotent: the mapping table plus the
adapters' find-before-create keep one ticket per incident, updates write absolute values, and
sent comments are recorded one by one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from acso_service_orchestration.itsm.models import (
    IncidentComment,
    IncidentSnapshot,
    IncidentStatus,
    ItsmSystem,
)
from acso_service_orchestration.tickets.integrations import IntegrationRegistry
from acso_service_orchestration.tickets.store import SyncWork, TicketStore
from acso_shared.contracts import TicketSync
from acso_shared.errors import AcsoError, Invalid
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.web.api import validation_message

log = get_logger("acso.orchestration.tickets")


def comment_key(created_at: datetime, author: str, text: str) -> str:
    """A stable id for a comment that has none: the same comment always gets the same key."""
    basis = f"{created_at.isoformat()}\x1f{author}\x1f{text}".encode()
    return hashlib.sha256(basis).hexdigest()[:32]


def to_snapshot(sync: TicketSync) -> IncidentSnapshot:
    """The adapters' view of a `ticket.sync` payload; Invalid when it cannot be represented."""
    try:
        return IncidentSnapshot(
            id=sync.incident_id,
            title=sync.title,
            status=IncidentStatus(sync.status),
            severity=sync.severity,
            summary=sync.summary,
            assignee=sync.assignee,
            comments=tuple(
                IncidentComment(
                    id=comment_key(c.created_at, c.author, c.text),
                    author=c.author,
                    body=c.text,
                    created_at=c.created_at,
                    source=c.source,
                )
                for c in sync.comments
                if c.text.strip()
            ),
        )
    except ValidationError as err:
        raise Invalid("ticket_sync_invalid", validation_message(err)) from err


def retry_delay(attempts: int, base_s: float, max_s: float) -> float:
    """Seconds until the next attempt after `attempts` consecutive failures (1-based)."""
    return min(max_s, base_s * 2.0 ** max(attempts - 1, 0))


def describe_error(err: Exception) -> str:
    """A short, secret-free description of a failure for the sync state."""
    if isinstance(err, AcsoError):
        return f"{err.code}: {err.message}"
    return type(err).__name__


async def record_failed_push(
    registry: IntegrationRegistry,
    system: ItsmSystem,
    err: Exception,
    *,
    attempts_before: int,
    retry_base_s: float,
    retry_max_s: float,
    record: Callable[[str, float], Awaitable[None]],
    event: str,
    **fields: Any,
) -> None:
    """The one way a failed push to an ITSM is handled (tickets and change requests alike): refused
    credentials are read afresh next time, the failure is logged, and `record(error, retry_in_s)`
    stores it on the row with the backed-off time of the next attempt."""
    registry.failed(system, err)
    attempts = attempts_before + 1
    delay = retry_delay(attempts, retry_base_s, retry_max_s)
    error = describe_error(err)
    log.warning(
        event,
        system=system.value,
        attempts=attempts,
        error=error,
        retry_in_s=delay,
        exc_info=not isinstance(err, AcsoError),
        **fields,
    )
    await record(error, delay)


class TicketSyncService:
    """Pushes incident snapshots to tickets and keeps the sync state."""

    def __init__(
        self,
        store: TicketStore,
        registry: IntegrationRegistry,
        owner: str,
        *,
        lease_s: int,
        retry_base_s: float,
        retry_max_s: float,
    ) -> None:
        self._store = store
        self._registry = registry
        self._owner = owner
        self._lease_s = lease_s
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s

    async def handle_ticket_sync(self, envelope: Envelope) -> dict[str, Any]:
        """The `ticket.sync` handler: store the snapshot, try each system once, report the states."""
        try:
            sync = TicketSync.model_validate(envelope.payload)
        except ValidationError as err:
            raise Invalid("ticket_sync_invalid", validation_message(err)) from err
        snapshot = to_snapshot(sync)
        data = snapshot.model_dump(mode="json")
        for system in self._registry.systems:
            await self._store.save_snapshot(snapshot.id, system, data, sync.updated_at)
        states = await asyncio.gather(*(self.sync_one(snapshot.id, s) for s in self._registry.systems))
        return {"incident_id": snapshot.id, "systems": dict(zip(self._registry.systems, states, strict=True))}

    async def sync_one(self, incident_id: str, system: ItsmSystem) -> str:
        """One attempt for one (incident, system): `synced`, `failing`, or `deferred` when another
        worker holds the row or nothing is left to push (that worker, or the loop, finishes it)."""
        work = await self._store.claim(incident_id, system, self._owner, self._lease_s)
        if work is None:
            return "deferred"
        try:
            await self._push(work)
        except asyncio.CancelledError:
            raise
        except Exception as err:

            async def record(error: str, retry_in_s: float) -> None:
                await self._store.failed(work, self._owner, error, retry_in_s)

            await record_failed_push(
                self._registry,
                system,
                err,
                attempts_before=work.attempts,
                retry_base_s=self._retry_base_s,
                retry_max_s=self._retry_max_s,
                record=record,
                event="ticket_sync_failed",
                incident_id=incident_id,
            )
            return "failing"
        await self._store.succeeded(work, self._owner)
        log.info("ticket_synced", incident_id=incident_id, system=system.value, revision=work.revision)
        return "synced"

    async def _push(self, work: SyncWork) -> None:
        adapter = await self._registry.adapter(work.system)
        snapshot = IncidentSnapshot.model_validate(work.snapshot)
        ref = await self._store.ticket(work.incident_id, work.system)
        if ref is None:
            # create() finds a ticket an earlier, interrupted attempt opened before opening one.
            ref = await self._store.save_ticket(work.incident_id, await adapter.create(snapshot))
        elif snapshot.status is IncidentStatus.CLOSED:
            await adapter.resolve(ref, snapshot)
        else:
            await adapter.update(ref, snapshot)
        sent = await self._store.sent_comments(work.incident_id, work.system)
        for comment in sorted(snapshot.comments, key=lambda c: c.created_at):
            # A comment that came from this ticket is already there: sending it back would echo.
            if comment.id in sent or comment.source == work.system:
                continue
            await adapter.comment(ref, f"{comment.author} (ACSO): {comment.body}")
            await self._store.comment_sent(work.incident_id, work.system, comment.id)

    async def retry_due(self, limit: int = 20) -> int:
        """One pass of the retry loop: attempt every due row; returns how many were attempted."""
        due = await self._store.due(limit)
        for incident_id, system in due:
            await self.sync_one(incident_id, system)
        return len(due)
