"""Reading and changing incidents: the REST API's logic and the supervisor's/ITSM's updates."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

import asyncpg

from acso_incident_response import lifecycle
from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.approvals import APPROVALS_SELECT, approval_of
from acso_incident_response.compliance import config_resources
from acso_incident_response.models import (
    Action,
    ActionList,
    AlertRef,
    CloseRequest,
    Comment,
    IncidentDetail,
    IncidentList,
    IncidentPatch,
    IncidentQuery,
    IncidentReasoning,
    IncidentSummary,
    ObservableRef,
    TimelineEntry,
)
from acso_incident_response.outbox import OutboxPump
from acso_incident_response.planning import record_alert, resolve_if_done
from acso_incident_response.settings import Settings
from acso_incident_response.sla import sla_of
from acso_shared.aws.compliance import ComplianceReader
from acso_shared.contracts import IncidentAlertResolved, IncidentAlertsUpdated, IncidentExternalUpdate
from acso_shared.errors import Conflict, Invalid, NotFound
from acso_shared.messaging.envelope import Envelope
from acso_shared.runtime import AgentRuntime


def _encode_cursor(created_at: datetime, incident_id: str) -> str:
    return base64.urlsafe_b64encode(f"{created_at.isoformat()}|{incident_id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        created, _, incident_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(created), incident_id
    except (ValueError, UnicodeDecodeError) as err:
        raise Invalid("cursor_invalid", "the cursor is not one this API returned") from err


_ACTIONS_OF_INCIDENT = "SELECT * FROM ir_actions WHERE incident_id = $1 ORDER BY seq, target"


def action_of(row: asyncpg.Record) -> Action:
    action = ACTIONS.get(row["action_type"])
    return Action(
        id=row["id"],
        incident_id=row["incident_id"],
        playbook=row["playbook"],
        alert_id=row["alert_id"],
        step=row["step"],
        action_type=row["action_type"],
        target=row["target"],
        account_id=row["account_id"],
        risk=row["risk"],
        dry_run=row["dry_run"],
        revertible=bool(action and action.revertible),
        status=row["status"],
        reason=row["reason"],
        before_state=row["before_state"],
        after_state=row["after_state"],
        error=row["error"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        reverted_at=row["reverted_at"],
        reverted_by=row["reverted_by"],
    )


class Incidents:
    def __init__(
        self, runtime: AgentRuntime, settings: Settings, pump: OutboxPump, compliance: ComplianceReader
    ) -> None:
        self._runtime = runtime
        self._outbox = pump
        self._settings = settings
        self._compliance = compliance

    def _summary_fields(self, row: asyncpg.Record, now: datetime) -> dict[str, Any]:
        return {
            "id": row["id"],
            "title": row["title"],
            "status": row["status"],
            "severity": row["severity"],
            "verdict": row["verdict"],
            "assignee": row["assignee"],
            "finding_type": row["finding_type"],
            "account_id": row["account_id"],
            "playbook": row["playbook"],
            "alert_count": row["alert_count"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
            "version": row["version"],
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "sla": sla_of(
                self._settings,
                row["severity"],
                row["created_at"],
                row["triaged_at"],
                row["contained_at"],
                now,
                benign=row["verdict"] == "benign",
            ),
        }

    async def list(self, query: IncidentQuery) -> IncidentList:
        after_at, after_id = _decode_cursor(query.cursor) if query.cursor else (None, None)
        rows = await self._runtime.db.fetch(
            """
            SELECT *, clock_timestamp() AS now FROM ir_incidents
            WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR severity = $2)
              AND ($3::text IS NULL OR assignee = $3)
              AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5))
            ORDER BY created_at DESC, id DESC LIMIT $6
            """,
            query.status,
            query.severity.value if query.severity else None,
            query.assignee,
            after_at,
            after_id,
            query.limit + 1,
        )
        page = rows[: query.limit]
        items = [IncidentSummary(**self._summary_fields(r, r["now"])) for r in page]
        more = len(rows) > query.limit
        return IncidentList(
            items=items, next_cursor=_encode_cursor(page[-1]["created_at"], page[-1]["id"]) if more else None
        )

    async def get(self, incident_id: str) -> IncidentDetail:
        # One snapshot for every part: read separately, a change committing in between showed an
        # action's new state beside a timeline that did not have its entry yet.
        async with self._runtime.db.connection() as db, db.transaction(isolation="repeatable_read", readonly=True):
            row = await db.fetchrow("SELECT *, clock_timestamp() AS now FROM ir_incidents WHERE id = $1", incident_id)
            if row is None:
                raise NotFound("incident_not_found", f"no incident {incident_id}")
            alerts = await db.fetch(
                "SELECT * FROM ir_incident_alerts WHERE incident_id = $1 ORDER BY joined_at, occurred_at, alert_id",
                incident_id,
            )
            observables = await db.fetch(
                "SELECT type, value FROM ir_incident_observables WHERE incident_id = $1 ORDER BY type, value",
                incident_id,
            )
            timeline = await db.fetch("SELECT * FROM ir_timeline WHERE incident_id = $1 ORDER BY id", incident_id)
            comments = await db.fetch("SELECT * FROM ir_comments WHERE incident_id = $1 ORDER BY id", incident_id)
            approvals = await db.fetch(
                f"{APPROVALS_SELECT} WHERE p.incident_id = $1 ORDER BY p.requested_at", incident_id
            )
            action_rows = await db.fetch(_ACTIONS_OF_INCIDENT, incident_id)
        actions = [action_of(r) for r in action_rows]
        observable_refs = [ObservableRef(type=o["type"], value=o["value"]) for o in observables]
        key_users = [r["target_user"] for r in action_rows if r["target_user"]]
        resources = config_resources(observable_refs, actions, key_users)
        return IncidentDetail(
            **self._summary_fields(row, row["now"]),
            summary=row["summary"],
            confidence=row["confidence"],
            techniques=row["techniques"],
            fingerprint=row["fingerprint"],
            resolution=row["resolution"],
            triaged_at=row["triaged_at"],
            contained_at=row["contained_at"],
            closed_at=row["closed_at"],
            alerts=[
                AlertRef(
                    alert_id=a["alert_id"],
                    source=a["source"],
                    type=a["type"],
                    title=a["title"],
                    occurred_at=a["occurred_at"],
                    severity=a["severity"],
                    account_id=a["account_id"],
                    status=a["status"],
                    status_reason=a["status_reason"],
                    resolved_at=a["resolved_at"],
                    verdict=a["verdict"],
                    playbook=a["playbook"],
                    resources=a["resources"],
                    observables=a["observables"],
                    targets=a["targets"],
                    containment=a["containment"],
                    joined_at=a["joined_at"],
                )
                for a in alerts
            ],
            observables=observable_refs,
            timeline=[
                TimelineEntry(
                    id=t["id"], at=t["at"], kind=t["kind"], actor=t["actor"], summary=t["summary"], data=t["data"]
                )
                for t in timeline
            ],
            comments=[
                Comment(id=c["id"], author=c["author"], text=c["text"], source=c["source"], created_at=c["created_at"])
                for c in comments
            ],
            actions=actions,
            approvals=[approval_of(a) for a in approvals],
            reasoning=IncidentReasoning.model_validate(row["reasoning"]) if row["reasoning"] else None,
            llm_usage=row["llm_usage"],
            compliance=await self._compliance.mixed(resources),
        )

    async def actions(self, incident_id: str) -> ActionList:
        rows = await self._runtime.db.fetch(_ACTIONS_OF_INCIDENT, incident_id)
        if not rows and not await self._runtime.db.fetchval("SELECT 1 FROM ir_incidents WHERE id = $1", incident_id):
            raise NotFound("incident_not_found", f"no incident {incident_id}")
        return ActionList(items=[action_of(r) for r in rows])

    async def _locked(self, conn: asyncpg.Connection, incident_id: str) -> asyncpg.Record:
        row = await conn.fetchrow("SELECT * FROM ir_incidents WHERE id = $1 FOR UPDATE", incident_id)
        if row is None:
            raise NotFound("incident_not_found", f"no incident {incident_id}")
        return row

    async def update(self, incident_id: str, patch: IncidentPatch, actor: str) -> IncidentDetail:
        fields = patch.model_fields_set - {"expected_version"}
        if not fields:
            raise Invalid("nothing_to_update", "name at least one of status, severity, assignee, title")
        async with self._runtime.db.transaction() as conn:
            row = await self._locked(conn, incident_id)
            if patch.expected_version is not None and patch.expected_version != row["version"]:
                raise Conflict("version_conflict", f"the incident is at version {row['version']}")
            if row["status"] == "closed":
                raise Conflict("incident_closed", "the incident is closed")
            changes: dict[str, list[Any]] = {}
            sets: list[str] = []
            args: list[Any] = []
            for name in ("severity", "assignee", "title"):
                if name in fields:
                    value = getattr(patch, name)
                    value = value.value if name == "severity" and value is not None else value
                    if name in ("severity", "title") and value is None:
                        raise Invalid("validation_failed", f"{name} cannot be null")
                    if value != row[name]:
                        args.append(value)
                        sets.append(f"{name} = ${len(args) + 1}")
                        changes[name] = [row[name], value]
            if sets:
                await lifecycle.bump(conn, incident_id, ", ".join(sets), *args)
                summary = ", ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in changes.items())
                await lifecycle.timeline(conn, incident_id, "updated", actor, summary, {"changes": changes})
                await lifecycle.announce(
                    conn, incident_id, "Incident Updated", {"changes": changes}, was_severity=row["severity"]
                )
            if "status" in fields and patch.status is not None and patch.status != row["status"]:
                await lifecycle.set_status(
                    conn, incident_id, patch.status, actor, "changed by a responder", current=row["status"]
                )
        self._outbox.wake()
        return await self.get(incident_id)

    async def comment(self, incident_id: str, text: str, actor: str) -> Comment:
        async with self._runtime.db.transaction() as conn:
            row = await self._locked(conn, incident_id)
            comment = await conn.fetchrow(
                "INSERT INTO ir_comments (incident_id, author, text) VALUES ($1, $2, $3) RETURNING *",
                incident_id,
                actor,
                text,
            )
            await lifecycle.bump(conn, incident_id)
            await lifecycle.timeline(conn, incident_id, "comment", actor, text[:200], {"comment_id": comment["id"]})
            await lifecycle.announce(
                conn, incident_id, "Incident Updated", {"changes": {"comments": 1}}, was_severity=row["severity"]
            )
        self._outbox.wake()
        return Comment(
            id=comment["id"],
            author=comment["author"],
            text=comment["text"],
            source=comment["source"],
            created_at=comment["created_at"],
        )

    async def close(self, incident_id: str, body: CloseRequest, actor: str) -> IncidentDetail:
        async with self._runtime.db.transaction() as conn:
            row = await self._locked(conn, incident_id)
            if row["status"] == "closed":
                raise Conflict("incident_closed", "the incident is already closed")
            await lifecycle.close(conn, incident_id, actor, body.resolution, current=row["status"])
        self._outbox.wake()
        return await self.get(incident_id)

    async def handle_alerts_updated(self, envelope: Envelope) -> dict[str, Any]:
        """`incident.alerts_updated`: counts are absolute, so the greatest wins whatever the order."""
        update = IncidentAlertsUpdated.model_validate(envelope.payload)
        async with self._runtime.db.transaction() as conn:
            result = await conn.execute(
                "UPDATE ir_incidents SET alert_count = GREATEST(alert_count, $2), first_seen = LEAST(first_seen, $3),"
                " last_seen = GREATEST(last_seen, $4) WHERE id = $1",
                update.incident_id,
                update.alert_count,
                update.first_seen,
                update.last_seen,
            )
            if result.endswith(" 0"):
                # Not opened yet (triage still running): keep the latest count for the incident's creation.
                await conn.execute(
                    """
                    INSERT INTO ir_pending_alert_counts (incident_id, alert_count, first_seen, last_seen, alert_ids)
                    VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (incident_id) DO UPDATE SET
                        alert_count = GREATEST(ir_pending_alert_counts.alert_count, EXCLUDED.alert_count),
                        first_seen = LEAST(ir_pending_alert_counts.first_seen, EXCLUDED.first_seen),
                        last_seen = GREATEST(ir_pending_alert_counts.last_seen, EXCLUDED.last_seen),
                        alert_ids = ir_pending_alert_counts.alert_ids || EXCLUDED.alert_ids
                    """,
                    update.incident_id,
                    update.alert_count,
                    update.first_seen,
                    update.last_seen,
                    update.alert_ids,
                )
                return {"incident_id": update.incident_id, "alert_count": update.alert_count, "pending": True}
            known = {a.alert_id for a in update.alerts}
            await conn.executemany(
                "INSERT INTO ir_incident_alerts (incident_id, alert_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [(update.incident_id, a) for a in update.alert_ids if a not in known],
            )
            for alert in update.alerts:
                await record_alert(conn, update.incident_id, alert)
        return {"incident_id": update.incident_id, "alert_count": update.alert_count}

    async def handle_alert_resolved(self, envelope: Envelope) -> dict[str, Any]:
        """`incident.alert_resolved`: the source passed, archived or resolved an alert of the incident.

        The alert is marked resolved, with a timeline entry. When every alert of the incident is
        resolved and no action is still running, the incident resolves itself (`auto_resolve`).
        """
        update = IncidentAlertResolved.model_validate(envelope.payload)
        async with self._runtime.db.transaction() as conn:
            row = await conn.fetchrow("SELECT * FROM ir_incidents WHERE id = $1 FOR UPDATE", update.incident_id)
            if row is None:
                raise NotFound("incident_not_found", f"no incident {update.incident_id}")
            changed = await conn.fetchval(
                "UPDATE ir_incident_alerts SET status = 'resolved', status_reason = $3, resolved_at = $4"
                " WHERE incident_id = $1 AND alert_id = $2 AND status <> 'resolved' RETURNING 1",
                update.incident_id,
                update.alert_id,
                update.reason,
                update.resolved_at,
            )
            if not changed:
                return {"incident_id": update.incident_id, "alert_id": update.alert_id, "duplicate": True}
            await lifecycle.timeline(
                conn,
                update.incident_id,
                "alert_resolved",
                "source",
                f"alert {update.alert_id} resolved at its source: {update.reason}",
                {"alert_id": update.alert_id, "reason": update.reason},
            )
            resolved = await self._maybe_resolve(conn, row)
        self._outbox.wake()
        return {"incident_id": update.incident_id, "alert_id": update.alert_id, "incident_resolved": resolved}

    async def _maybe_resolve(self, conn: asyncpg.Connection, row: asyncpg.Record) -> bool:
        if not self._settings.auto_resolve or row["status"] == "closed":
            return False
        left = await conn.fetchval(
            "SELECT count(*) FROM ir_incident_alerts WHERE incident_id = $1 AND status <> 'resolved'", row["id"]
        )
        if left:
            return False
        # Closes now when no action is running, else once the last one finishes (`settle`).
        await conn.execute("UPDATE ir_incidents SET resolve_when_done = true WHERE id = $1", row["id"])
        return await resolve_if_done(conn, row["id"])

    async def close_benign(self) -> int:
        """Close benign incidents older than `benign_close_after_s` (a benign verdict needs no containment)."""
        closed = 0
        rows = await self._runtime.db.fetch(
            "SELECT id FROM ir_incidents WHERE verdict = 'benign' AND status NOT IN ('closed')"
            " AND created_at < clock_timestamp() - make_interval(secs => $1) ORDER BY created_at LIMIT 100",
            self._settings.benign_close_after_s,
        )
        for item in rows:
            async with self._runtime.db.transaction() as conn:
                row = await conn.fetchrow("SELECT * FROM ir_incidents WHERE id = $1 FOR UPDATE", item["id"])
                if row is None or row["status"] == "closed" or row["verdict"] != "benign":
                    continue
                resolution = f"benign: closed after {self._settings.benign_close_after_s:g} s"
                await lifecycle.close(conn, row["id"], "acso", resolution, current=row["status"])
                closed += 1
        if closed:
            self._outbox.wake()
        return closed

    async def handle_external_update(self, envelope: Envelope) -> dict[str, Any]:
        """`incident.external_update`: a ticket-side comment or status change, recorded once."""
        update = IncidentExternalUpdate.model_validate(envelope.payload)
        actor = f"{update.system}:{update.actor or 'unknown'}"
        key = hashlib.sha256(
            f"{update.system}|{update.external_id}|{update.occurred_at.isoformat()}|{update.status}|{update.comment}".encode()
        ).hexdigest()
        async with self._runtime.db.transaction() as conn:
            row = await self._locked(conn, update.incident_id)
            first = (
                await conn.fetchval(
                    "INSERT INTO ir_comments (incident_id, author, text, source, external_key, created_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (external_key) DO NOTHING RETURNING id",
                    update.incident_id,
                    actor,
                    update.comment or f"status set to {update.status} in {update.system}",
                    update.system,
                    key,
                    update.occurred_at,
                )
                if update.comment
                else await conn.fetchval(
                    "SELECT NOT EXISTS (SELECT 1 FROM ir_timeline"
                    " WHERE incident_id = $1 AND data->>'external_key' = $2)",
                    update.incident_id,
                    key,
                )
            )
            if not first:
                return {"incident_id": update.incident_id, "duplicate": True}
            await lifecycle.timeline(
                conn,
                update.incident_id,
                "external_update",
                actor,
                f"{update.system} ticket {update.external_id} updated",
                {"external_key": key, "status": update.status, "comment": update.comment},
            )
            if update.status and update.status != row["status"]:
                try:
                    lifecycle.check_transition(row["status"], update.status)
                except Conflict as err:
                    await lifecycle.timeline(
                        conn, update.incident_id, "external_update_ignored", actor, err.message, {"external_key": key}
                    )
                else:
                    if update.status == "closed":
                        await conn.execute(
                            "UPDATE ir_incidents SET resolution = COALESCE(resolution, $2) WHERE id = $1",
                            update.incident_id,
                            f"closed in {update.system} ticket {update.external_id}",
                        )
                    await lifecycle.set_status(
                        conn,
                        update.incident_id,
                        update.status,
                        actor,
                        f"changed in {update.system}",
                        current=row["status"],
                    )
        self._outbox.wake()
        return {"incident_id": update.incident_id, "duplicate": False}
