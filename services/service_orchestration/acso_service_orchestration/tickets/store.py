"""PostgreSQL access for ticket mappings, sync state and sent comments."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from acso_service_orchestration.itsm.models import ItsmSystem, TicketRef
from acso_shared.db import Database


@dataclass(frozen=True)
class SyncWork:
    """One claimed (incident, system) sync: the snapshot to push and its revision."""

    incident_id: str
    system: ItsmSystem
    snapshot: dict[str, Any]
    revision: int
    attempts: int


class TicketStore:
    """The so_tickets / so_ticket_sync / so_ticket_comments tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def save_snapshot(self, incident_id: str, system: ItsmSystem, snapshot: dict[str, Any], at: datetime) -> bool:
        """Store the snapshot unless a newer one is stored already; True when it was stored.

        A stored snapshot is due at once (status pending unless it keeps failing), so the retry
        loop pushes it even when the handler's own attempt cannot (the row is leased).
        """
        row = await self._db.fetchrow(
            """
            INSERT INTO so_ticket_sync (incident_id, system, snapshot, snapshot_at, status, next_retry_at)
            VALUES ($1, $2, $3, $4, 'pending', now())
            ON CONFLICT (incident_id, system) DO UPDATE
               SET snapshot = EXCLUDED.snapshot,
                   snapshot_at = EXCLUDED.snapshot_at,
                   revision = so_ticket_sync.revision + 1,
                   status = CASE WHEN so_ticket_sync.status = 'failing' THEN 'failing' ELSE 'pending' END,
                   next_retry_at = now()
             WHERE so_ticket_sync.snapshot_at <= EXCLUDED.snapshot_at
            RETURNING revision
            """,
            incident_id,
            system.value,
            snapshot,
            at,
        )
        return row is not None

    async def claim(self, incident_id: str, system: ItsmSystem, owner: str, lease_s: int) -> SyncWork | None:
        """Lease the row for one attempt, or None when someone else holds it or nothing is due."""
        row = await self._db.fetchrow(
            """
            UPDATE so_ticket_sync
               SET lease_owner = $3, lease_until = now() + make_interval(secs => $4)
             WHERE incident_id = $1 AND system = $2
               AND synced_revision < revision
               AND (lease_until IS NULL OR lease_until < now())
            RETURNING incident_id, system, snapshot, revision, attempts
            """,
            incident_id,
            system.value,
            owner,
            float(lease_s),
        )
        return _work(row) if row is not None else None

    async def due(self, limit: int) -> list[tuple[str, ItsmSystem]]:
        """Unsynced rows whose retry time has come and that nobody holds."""
        rows = await self._db.fetch(
            """
            SELECT incident_id, system FROM so_ticket_sync
             WHERE status <> 'synced' AND synced_revision < revision
               AND next_retry_at <= now()
               AND (lease_until IS NULL OR lease_until < now())
             ORDER BY next_retry_at
             LIMIT $1
            """,
            limit,
        )
        return [(r["incident_id"], ItsmSystem(r["system"])) for r in rows]

    async def succeeded(self, work: SyncWork, owner: str) -> None:
        """Mark `work`'s revision synced; a newer snapshot stored meanwhile stays pending and due."""
        await self._db.execute(
            """
            UPDATE so_ticket_sync
               SET synced_revision = $3,
                   status = CASE WHEN revision = $3 THEN 'synced' ELSE 'pending' END,
                   attempts = 0, last_error = NULL, last_attempt_at = now(), last_synced_at = now(),
                   next_retry_at = CASE WHEN revision = $3 THEN NULL ELSE now() END,
                   lease_owner = NULL, lease_until = NULL
             WHERE incident_id = $1 AND system = $2 AND lease_owner = $4
            """,
            work.incident_id,
            work.system.value,
            work.revision,
            owner,
        )

    async def failed(self, work: SyncWork, owner: str, error: str, retry_in_s: float) -> None:
        """Record a failed attempt and when to try again."""
        await self._db.execute(
            """
            UPDATE so_ticket_sync
               SET status = 'failing', attempts = attempts + 1, last_error = $3, last_attempt_at = now(),
                   next_retry_at = now() + make_interval(secs => $4),
                   lease_owner = NULL, lease_until = NULL
             WHERE incident_id = $1 AND system = $2 AND lease_owner = $5
            """,
            work.incident_id,
            work.system.value,
            error[:2000],
            retry_in_s,
            owner,
        )

    async def ticket(self, incident_id: str, system: ItsmSystem) -> TicketRef | None:
        """The mapped ticket of an incident in one system."""
        row = await self._db.fetchrow(
            "SELECT system, external_id, external_key, url FROM so_tickets WHERE incident_id = $1 AND system = $2",
            incident_id,
            system.value,
        )
        return _ref(row) if row is not None else None

    async def save_ticket(self, incident_id: str, ref: TicketRef) -> TicketRef:
        """Insert the mapping; if one exists already (a concurrent create), keep and return that one."""
        await self._db.execute(
            """
            INSERT INTO so_tickets (incident_id, system, external_id, external_key, url)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (incident_id, system) DO NOTHING
            """,
            incident_id,
            ref.system.value,
            ref.external_id,
            ref.external_key,
            ref.url,
        )
        saved = await self.ticket(incident_id, ref.system)
        return saved or ref

    async def incident_of(self, system: ItsmSystem, external_id: str) -> str | None:
        """The incident a ticket belongs to, by the ticket's external id."""
        value = await self._db.fetchval(
            "SELECT incident_id FROM so_tickets WHERE system = $1 AND external_id = $2", system.value, external_id
        )
        return str(value) if value is not None else None

    async def record_inbound(self, incident_id: str, system: ItsmSystem, state: str | None, at: datetime) -> None:
        """Remember the ticket side's latest reported state, for GET /v1/tickets."""
        await self._db.execute(
            """
            UPDATE so_tickets SET last_inbound_at = $3, last_inbound_state = COALESCE($4, last_inbound_state)
             WHERE incident_id = $1 AND system = $2
            """,
            incident_id,
            system.value,
            at,
            state,
        )

    async def sent_comments(self, incident_id: str, system: ItsmSystem) -> set[str]:
        """Keys of the comments already sent to the ticket."""
        rows = await self._db.fetch(
            "SELECT comment_key FROM so_ticket_comments WHERE incident_id = $1 AND system = $2",
            incident_id,
            system.value,
        )
        return {r["comment_key"] for r in rows}

    async def comment_sent(self, incident_id: str, system: ItsmSystem, key: str) -> None:
        """Record one comment as sent."""
        await self._db.execute(
            "INSERT INTO so_ticket_comments (incident_id, system, comment_key) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            incident_id,
            system.value,
            key,
        )

    async def overview(self, incident_id: str) -> list[dict[str, Any]]:
        """Every system's mapping and sync state for one incident."""
        rows = await self._db.fetch(
            """
            SELECT s.system, s.status, s.attempts, s.last_error, s.last_attempt_at, s.last_synced_at,
                   s.next_retry_at, s.revision, s.synced_revision,
                   t.external_id, t.external_key, t.url, t.created_at, t.last_inbound_at, t.last_inbound_state
              FROM so_ticket_sync s
              LEFT JOIN so_tickets t ON t.incident_id = s.incident_id AND t.system = s.system
             WHERE s.incident_id = $1
             ORDER BY s.system
            """,
            incident_id,
        )
        return [dict(r) for r in rows]


def _work(row: Any) -> SyncWork:
    return SyncWork(
        incident_id=row["incident_id"],
        system=ItsmSystem(row["system"]),
        snapshot=row["snapshot"],
        revision=row["revision"],
        attempts=row["attempts"],
    )


def _ref(row: Any) -> TicketRef:
    return TicketRef(
        system=ItsmSystem(row["system"]),
        external_id=row["external_id"],
        external_key=row["external_key"],
        url=row["url"],
    )
