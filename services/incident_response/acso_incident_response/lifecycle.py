"""Incident lifecycle: status transitions, versions, timeline entries and what each change announces.

EventBridge events (`source: acso`, on the ACSO bus), detail `{incident_id, status, severity, ...}`:

| detail-type         | when                                                     | extra detail keys                  |
|---------------------|----------------------------------------------------------|------------------------------------|
| `Incident Opened`   | an incident is created                                   | title, finding_type, version       |
| `Incident Updated`  | status, severity, assignee, title or comments change     | version, changes                   |
| `Incident Closed`   | the incident is closed                                   | version, resolution                |
| `Action Executed`   | an action succeeded, failed, was blocked/rejected/reverted| action_id, action_type, target,   |
|                     |                                                          | action_status                      |
| `Approval Requested`| a high-risk action waits for a responder                 | approval_id, action_id, expires_at |
| `Approval Decided`  | an approval is approved, rejected or expired             | approval_id, action_id, decision,  |
|                     |                                                          | decided_by, expired                |

Every version of an incident also sends `incident.status` to the supervisor's results queue and
`ticket.sync` to the service-orchestration agent; both are keyed on (incident, version), so a
re-send is a no-op. High and critical incidents are published to the SNS notification topic when
they open or are raised to high or critical.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from acso_incident_response import outbox
from acso_shared.contracts import (
    INCIDENT_STATUS,
    TICKET_SYNC,
    IncidentComment,
    IncidentStatusChanged,
    TicketSync,
)
from acso_shared.errors import Conflict
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent

SENDER = Agent.INCIDENT_RESPONSE.value
STATUSES: tuple[str, ...] = ("new", "triaged", "contained", "eradicated", "recovered", "closed")
HIGH_SEVERITIES = frozenset({"high", "critical", "fatal"})


def check_transition(current: str, wanted: str) -> None:
    """Statuses move forward only; a closed incident stays closed."""
    if current == "closed":
        raise Conflict("incident_closed", "the incident is closed")
    if STATUSES.index(wanted) < STATUSES.index(current):
        raise Conflict("invalid_transition", f"cannot move an incident from {current} back to {wanted}")


async def timeline(
    conn: asyncpg.Connection, incident_id: str, kind: str, actor: str, summary: str, data: dict[str, Any] | None = None
) -> None:
    await conn.execute(
        "INSERT INTO ir_timeline (incident_id, kind, actor, summary, data) VALUES ($1, $2, $3, $4, $5)",
        incident_id,
        kind,
        actor,
        summary,
        data or {},
    )


async def event(conn: asyncpg.Connection, dedupe_key: str, detail_type: str, detail: dict[str, Any]) -> None:
    await outbox.add(conn, f"event:{dedupe_key}", "event", {"detail_type": detail_type, "detail": detail})


async def announce(
    conn: asyncpg.Connection, incident_id: str, detail_type: str, extra: dict[str, Any], *, was_severity: str | None
) -> None:
    """Queue everything a new version of the incident announces (call after bumping the version)."""
    row = await conn.fetchrow("SELECT * FROM ir_incidents WHERE id = $1", incident_id)
    if row is None:
        raise Conflict("incident_missing", incident_id)
    version = row["version"]
    detail = {"incident_id": incident_id, "status": row["status"], "severity": row["severity"], "version": version}
    await event(conn, f"{incident_id}:{version}", detail_type, {**detail, **extra})
    changed_at = row["updated_at"]
    status = IncidentStatusChanged(
        incident_id=incident_id, status=row["status"], severity=row["severity"], changed_at=changed_at
    )
    await outbox.add_result(
        conn,
        Envelope(
            idempotency_key=f"{INCIDENT_STATUS}:{incident_id}:{version}",
            kind=INCIDENT_STATUS,
            workflow_id=row["workflow_id"],
            step="incident_status",
            sender=SENDER,
            payload=status.model_dump(mode="json"),
        ),
    )
    comments = await conn.fetch(
        "SELECT author, text, source, created_at FROM ir_comments WHERE incident_id = $1 ORDER BY id", incident_id
    )
    sync = TicketSync(
        incident_id=incident_id,
        title=row["title"],
        status=row["status"],
        severity=row["severity"],
        summary=row["summary"],
        assignee=row["assignee"],
        comments=[
            IncidentComment(author=c["author"], text=c["text"], created_at=c["created_at"], source=c["source"])
            for c in comments
        ],
        updated_at=changed_at,
    )
    await outbox.add_task(
        conn,
        Agent.SERVICE_ORCHESTRATION,
        Envelope(
            idempotency_key=f"{TICKET_SYNC}:{incident_id}:{version}",
            kind=TICKET_SYNC,
            workflow_id=row["workflow_id"],
            step="ticket_sync",
            sender=SENDER,
            payload=sync.model_dump(mode="json"),
        ),
    )
    if row["severity"] in HIGH_SEVERITIES and (was_severity is None or was_severity not in HIGH_SEVERITIES):
        await outbox.add(
            conn,
            f"sns:{incident_id}:{version}",
            "sns",
            {
                "subject": f"ACSO {row['severity']} incident: {row['title']}",
                "message": {**detail, "title": row["title"], "finding_type": row["finding_type"]},
                "attributes": {"severity": row["severity"], "incident_id": incident_id},
            },
        )


async def bump(conn: asyncpg.Connection, incident_id: str, sets: str = "", *args: Any) -> asyncpg.Record:
    """Increment the version (and apply `sets`, SQL with parameters from $2) under a row lock."""
    extra = f", {sets}" if sets else ""
    row = await conn.fetchrow(
        f"UPDATE ir_incidents SET version = version + 1, updated_at = clock_timestamp(){extra}"  # noqa: S608
        " WHERE id = $1 RETURNING *",
        incident_id,
        *args,
    )
    if row is None:
        raise Conflict("incident_missing", incident_id)
    return row


async def set_status(
    conn: asyncpg.Connection, incident_id: str, status: str, actor: str, reason: str, *, current: str
) -> None:
    """Move the incident to `status`, stamp the SLA clocks, and announce the new version."""
    check_transition(current, status)
    if status == current:
        return
    stamps = {"triaged": "triaged_at", "contained": "contained_at", "closed": "closed_at"}
    # Marks the incident for a (debounced, after-commit) summary by the reasoning layer.
    sets = ["status = $2", "summary_due_at = clock_timestamp()"]
    for name, column in stamps.items():
        if STATUSES.index(status) >= STATUSES.index(name):
            sets.append(f"{column} = COALESCE({column}, clock_timestamp())")
    row = await bump(conn, incident_id, ", ".join(sets), status)
    await timeline(
        conn, incident_id, "status", actor, f"status {current} -> {status}: {reason}", {"from": current, "to": status}
    )
    detail_type = "Incident Closed" if status == "closed" else "Incident Updated"
    extra: dict[str, Any] = {"changes": {"status": [current, status]}}
    if status == "closed":
        extra = {"resolution": row["resolution"]}
    await announce(conn, incident_id, detail_type, extra, was_severity=row["severity"])


async def close(conn: asyncpg.Connection, incident_id: str, actor: str, resolution: str, *, current: str) -> None:
    """Close the incident with its resolution (recorded before the status, so the announcement has it)."""
    await conn.execute("UPDATE ir_incidents SET resolution = $2 WHERE id = $1", incident_id, resolution)
    await set_status(conn, incident_id, "closed", actor, resolution, current=current)


async def reopen(conn: asyncpg.Connection, incident_id: str, actor: str, reason: str) -> None:
    """Take a contained incident back to `triaged`: new resources of it still need containment.

    The one backward move: containment is a claim about every affected resource, and a resource
    that joined later makes it untrue. `contained_at` is cleared and stamped again when it holds.
    """
    row = await bump(conn, incident_id, "status = 'triaged', contained_at = NULL, summary_due_at = clock_timestamp()")
    await timeline(
        conn,
        incident_id,
        "status",
        actor,
        f"status contained -> triaged: {reason}",
        {"from": "contained", "to": "triaged", "reopened": True},
    )
    await announce(
        conn,
        incident_id,
        "Incident Updated",
        {"changes": {"status": ["contained", "triaged"]}},
        was_severity=row["severity"],
    )


def utcnow() -> datetime:
    return datetime.now(UTC)
