"""PostgreSQL access for operations' ITSM change requests and the state of pushing them (so_change_requests).

A row is due while the ITSM record does not exist yet or reflects an older operation status
(`synced_status` differs from `so_operations.status`) and its next attempt time has come. One
attempt at a time holds a lease on the row, as in the ticket sync (tickets/store.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from acso_service_orchestration.itsm.models import ItsmSystem, TicketRef
from acso_shared.db import Database

# Due: the record is missing or behind the operation's status.
_BEHIND = """
    (c.external_id IS NULL
     OR c.synced_status IS DISTINCT FROM (SELECT o.status FROM so_operations o WHERE o.id = c.operation_id))
"""


@dataclass(frozen=True)
class ChangeWork:
    """One claimed change-request push: the ITSM record so far and the state last written to it."""

    operation_id: str
    system: ItsmSystem
    ref: TicketRef | None
    state: str | None
    attempts: int


class ChangeRequestStore:
    """The so_change_requests table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def track(self, operation_id: str, system: ItsmSystem) -> None:
        """Start tracking an operation's change request, or make it due now after a status change."""
        await self._db.execute(
            f"""
            INSERT INTO so_change_requests AS c (operation_id, system, status, next_attempt_at)
            VALUES ($1, $2, 'pending', now())
            ON CONFLICT (operation_id, system) DO UPDATE
               SET next_attempt_at = now(),
                   status = CASE WHEN c.status = 'failing' THEN 'failing'
                                 WHEN {_BEHIND} THEN 'pending' ELSE c.status END
            """,  # noqa: S608 - the interpolated text is a constant condition
            uuid.UUID(operation_id),
            system.value,
        )

    async def claim(self, operation_id: str, system: ItsmSystem, owner: str, lease_s: int) -> ChangeWork | None:
        """Lease the row for one attempt, or None when someone else holds it or nothing is due."""
        row = await self._db.fetchrow(
            f"""
            UPDATE so_change_requests c
               SET lease_owner = $3, lease_until = now() + make_interval(secs => $4)
             WHERE c.operation_id = $1 AND c.system = $2
               AND (c.lease_until IS NULL OR c.lease_until < now())
               AND {_BEHIND}
            RETURNING c.operation_id, c.system, c.external_id, c.number, c.url, c.state, c.attempts
            """,  # noqa: S608 - the interpolated text is a constant condition
            uuid.UUID(operation_id),
            system.value,
            owner,
            float(lease_s),
        )
        if row is None:
            return None
        ref = None
        if row["external_id"] is not None:
            ref = TicketRef(system=system, external_id=row["external_id"], external_key=row["number"], url=row["url"])
        return ChangeWork(str(row["operation_id"]), system, ref, row["state"], row["attempts"])

    async def due(self, limit: int) -> list[tuple[str, ItsmSystem]]:
        """Rows behind their operation whose retry time has come and that nobody holds.

        A synced row has no retry time: if its operation moved on without `track` (the hook failed),
        it is due at once. Rows in step with a finished operation can never fall behind again.
        """
        rows = await self._db.fetch(
            f"""
            SELECT c.operation_id, c.system FROM so_change_requests c
             WHERE (c.next_attempt_at IS NULL OR c.next_attempt_at <= now())
               AND (c.synced_status IS NULL
                    OR c.synced_status NOT IN ('succeeded', 'failed', 'partially_failed', 'rejected'))
               AND (c.lease_until IS NULL OR c.lease_until < now())
               AND {_BEHIND}
             ORDER BY c.next_attempt_at NULLS FIRST
             LIMIT $1
            """,  # noqa: S608 - the interpolated text is a constant condition
            limit,
        )
        return [(str(r["operation_id"]), ItsmSystem(r["system"])) for r in rows]

    async def save_ref(self, work: ChangeWork, owner: str, ref: TicketRef) -> None:
        """Record the ITSM record as soon as it exists, before any state is written to it."""
        await self._db.execute(
            """
            UPDATE so_change_requests SET external_id = $3, number = $4, url = $5
             WHERE operation_id = $1 AND system = $2 AND lease_owner = $6
            """,
            uuid.UUID(work.operation_id),
            work.system.value,
            ref.external_id,
            ref.external_key,
            ref.url,
            owner,
        )

    async def succeeded(self, work: ChangeWork, owner: str, synced_status: str, state: str) -> None:
        """The record reflects `synced_status`; when the operation moved on meanwhile it stays due."""
        await self._db.execute(
            """
            UPDATE so_change_requests c
               SET synced_status = $3, state = $4,
                   status = CASE WHEN o.status = $3 THEN 'synced' ELSE 'pending' END,
                   attempts = 0, last_error = NULL, last_attempt_at = now(),
                   next_attempt_at = CASE WHEN o.status = $3 THEN NULL ELSE now() END,
                   lease_owner = NULL, lease_until = NULL
              FROM so_operations o
             WHERE o.id = c.operation_id AND c.operation_id = $1 AND c.system = $2 AND c.lease_owner = $5
            """,
            uuid.UUID(work.operation_id),
            work.system.value,
            synced_status,
            state,
            owner,
        )

    async def failed(self, work: ChangeWork, owner: str, error: str, retry_in_s: float) -> None:
        """Record a failed attempt and when to try again."""
        await self._db.execute(
            """
            UPDATE so_change_requests
               SET status = 'failing', attempts = attempts + 1, last_error = $3, last_attempt_at = now(),
                   next_attempt_at = now() + make_interval(secs => $4),
                   lease_owner = NULL, lease_until = NULL
             WHERE operation_id = $1 AND system = $2 AND lease_owner = $5
            """,
            uuid.UUID(work.operation_id),
            work.system.value,
            error[:2000],
            retry_in_s,
            owner,
        )
