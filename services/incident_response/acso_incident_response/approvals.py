"""Approvals of high-risk actions: one decision per action, and expiry that rejects.

Posting the same decision again returns the recorded one; the opposite decision is a conflict. A
pending approval past its deadline is rejected (marked `expired`) by the sweeper, or on the spot
when someone tries to decide it late.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from acso_incident_response import lifecycle
from acso_incident_response.models import Approval, ApprovalDecision, ApprovalList, ApprovalQuery
from acso_incident_response.outbox import OutboxPump
from acso_incident_response.planning import action_event, dispatch_ready, maybe_contained
from acso_shared.errors import Conflict, NotFound
from acso_shared.runtime import AgentRuntime

APPROVALS_SELECT = "SELECT p.*, a.action_type, a.target FROM ir_approvals p JOIN ir_actions a ON a.id = p.action_id"


def approval_of(row: asyncpg.Record) -> Approval:
    return Approval(
        id=row["id"],
        action_id=row["action_id"],
        incident_id=row["incident_id"],
        status=row["status"],
        expired=row["expired"],
        requested_at=row["requested_at"],
        expires_at=row["expires_at"],
        decided_by=row["decided_by"],
        decided_at=row["decided_at"],
        comment=row["comment"],
        action_type=row["action_type"],
        target=row["target"],
    )


class Approvals:
    def __init__(self, runtime: AgentRuntime, pump: OutboxPump) -> None:
        self._runtime = runtime
        self._outbox = pump

    async def list(self, query: ApprovalQuery) -> ApprovalList:
        rows = await self._runtime.db.fetch(
            f"{APPROVALS_SELECT} WHERE ($1::text IS NULL OR p.status = $1) AND ($2::text IS NULL OR p.incident_id = $2)"
            " ORDER BY p.requested_at DESC, p.id LIMIT $3",
            query.status,
            query.incident_id,
            query.limit,
        )
        return ApprovalList(items=[approval_of(r) for r in rows])

    async def decide(self, approval_id: str, body: ApprovalDecision, actor: str) -> Approval:
        wanted = "approved" if body.decision == "approve" else "rejected"
        expired = False
        async with self._runtime.db.transaction() as conn:
            row = await conn.fetchrow(
                "SELECT *, expires_at <= clock_timestamp() AS overdue FROM ir_approvals WHERE id = $1 FOR UPDATE",
                approval_id,
            )
            if row is None:
                raise NotFound("approval_not_found", f"no approval {approval_id}")
            if row["status"] == "pending" and row["overdue"]:
                await _reject_expired(conn, row)
                expired = True
            elif row["status"] == "pending":
                await _decide(conn, row, wanted, actor, body.comment)
            elif row["status"] != wanted or row["expired"]:
                raise Conflict("approval_decided", f"the approval was already {row['status']}")
        self._outbox.wake()
        if expired:
            raise Conflict("approval_expired", "the approval expired and was rejected")
        result = await self._runtime.db.fetchrow(f"{APPROVALS_SELECT} WHERE p.id = $1", approval_id)
        return approval_of(result)

    async def expire_overdue(self) -> int:
        """Reject every pending approval past its deadline; returns how many."""
        async with self._runtime.db.transaction() as conn:
            rows = await conn.fetch(
                "SELECT * FROM ir_approvals WHERE status = 'pending' AND expires_at <= clock_timestamp()"
                " FOR UPDATE SKIP LOCKED"
            )
            for row in rows:
                await _reject_expired(conn, row)
        if rows:
            self._outbox.wake()
        return len(rows)


async def _decide(conn: asyncpg.Connection, row: asyncpg.Record, status: str, actor: str, comment: str | None) -> None:
    await conn.execute(
        "UPDATE ir_approvals SET status = $2, decided_by = $3, decided_at = clock_timestamp(), comment = $4"
        " WHERE id = $1",
        row["id"],
        status,
        actor,
        comment,
    )
    await _apply(conn, row, status, actor, expired=False)


async def _reject_expired(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
    await conn.execute(
        "UPDATE ir_approvals SET status = 'rejected', expired = true, decided_by = 'system',"
        " decided_at = clock_timestamp(),"
        " comment = 'expired without a decision' WHERE id = $1",
        row["id"],
    )
    await _apply(conn, row, "rejected", "system", expired=True)


async def _apply(conn: asyncpg.Connection, row: asyncpg.Record, status: str, actor: str, *, expired: bool) -> None:
    """The decision's effect on the action, the timeline and the event stream."""
    incident_id, action_id = row["incident_id"], row["action_id"]
    action_status = "planned" if status == "approved" else "rejected"
    reason = None if status == "approved" else ("approval expired" if expired else f"rejected by {actor}")
    await conn.execute(
        "UPDATE ir_actions SET status = $2, reason = COALESCE($3, reason)"
        " WHERE id = $1 AND status = 'pending_approval'",
        action_id,
        action_status,
        reason,
    )
    verb = "expired and was rejected" if expired else f"{status} by {actor}"
    await lifecycle.timeline(
        conn,
        incident_id,
        "approval_decided",
        actor,
        f"approval {verb}",
        {"approval_id": row["id"], "action_id": action_id, "decision": status, "expired": expired},
    )
    incident = await conn.fetchrow("SELECT status, severity FROM ir_incidents WHERE id = $1", incident_id)
    detail: dict[str, Any] = {
        "incident_id": incident_id,
        "status": incident["status"],
        "severity": incident["severity"],
        "approval_id": row["id"],
        "action_id": action_id,
        "decision": status,
        "decided_by": actor,
        "expired": expired,
    }
    await lifecycle.event(conn, f"approval-decided:{row['id']}", "Approval Decided", detail)
    if action_status == "rejected":
        await action_event(conn, action_id, "rejected")
    await dispatch_ready(conn, incident_id)
    await maybe_contained(conn, incident_id)
