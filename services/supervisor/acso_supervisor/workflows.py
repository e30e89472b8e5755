"""The workflow engine: alert-to-containment workflows persisted in PostgreSQL, steps sent as SQS tasks.

A workflow is a row; each step is a row holding the exact envelope it sends, so a resend after a
timeout or a crash is byte-for-byte the same message with the same idempotency key (the receiving
agent's claim turns a duplicate into a no-op). The engine is resumable: every transition is
recorded before the next message goes out, and a sweeper sends steps that are due (never sent, or
past their deadline) and fails a step visibly once its attempts are used up.

Steps of `alert_to_containment`, one workflow per distinct alert (an alert joining an incident gets its
own): `triage` (threat hunter), `respond` (incident response plans the alert's actions), then
`contain`, a step that waits for incident response's `containment.result` once every action on the
alert's resources has finished. The workflow is complete only then.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from acso_shared.alerts.models import SEVERITY_ORDER, NormalizedAlert
from acso_shared.contracts import (
    CONTAINMENT_RESULT,
    INCIDENT_ALERT_RESOLVED,
    INCIDENT_ALERTS_UPDATED,
    INCIDENT_STATUS,
    RESPONSE_REQUEST,
    RESPONSE_RESULT,
    TRIAGE_REQUEST,
    TRIAGE_RESULT,
    AlertBrief,
    ContainmentResult,
    IncidentAlertResolved,
    IncidentAlertsUpdated,
    IncidentStatusChanged,
    ResponseRequest,
    ResponseResult,
    TriageRequest,
    TriageResult,
)
from acso_shared.db import Database
from acso_shared.errors import Invalid, NotFound
from acso_shared.llm.records import publish_usage
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_supervisor.reasoning import WorkflowReasoner, workflow_usage
from acso_supervisor.stream import EventHub

log = get_logger("acso.supervisor.workflows")

ALERT_WORKFLOW = "alert_to_containment"
SENDER = Agent.SUPERVISOR.value


class WorkflowEngine:
    def __init__(
        self,
        runtime: AgentRuntime,
        hub: EventHub,
        *,
        step_timeout: timedelta,
        max_attempts: int,
    ) -> None:
        self._runtime = runtime
        self._hub = hub
        self._timeout = step_timeout
        self._max_attempts = max_attempts
        namespace = f"acso-{runtime.settings.env}/reasoning"
        self._reasoner = WorkflowReasoner(
            runtime.reasoning, lambda outcome: publish_usage(runtime.clients, namespace, SENDER, outcome)
        )

    @property
    def db(self) -> Database:
        return self._runtime.db

    # -- starting ----------------------------------------------------------------------------
    async def create_alert_workflow(self, conn: asyncpg.Connection, incident_id: str, alert: NormalizedAlert) -> str:
        """Record a new workflow and its first step inside the caller's transaction."""
        workflow_id = str(uuid.uuid4())
        await conn.execute(
            "INSERT INTO workflows (workflow_id, kind, incident_id, alert_id) VALUES ($1, $2, $3, $4)",
            uuid.UUID(workflow_id),
            ALERT_WORKFLOW,
            uuid.UUID(incident_id),
            alert.alert_id,
        )
        request = TriageRequest(incident_id=incident_id, alert=alert)
        await self._add_step(
            conn, workflow_id, "triage", 1, Agent.THREAT_HUNTER, TRIAGE_REQUEST, request.model_dump(mode="json")
        )
        return workflow_id

    async def _add_step(
        self,
        conn: asyncpg.Connection,
        workflow_id: str,
        step: str,
        position: int,
        agent: Agent,
        kind: str,
        payload: dict[str, Any],
    ) -> None:
        envelope = Envelope.new(
            kind=kind,
            sender=SENDER,
            payload=payload,
            idempotency_key=f"{workflow_id}:{step}",
            workflow_id=workflow_id,
            step=step,
        )
        await conn.execute(
            """
            INSERT INTO workflow_steps (workflow_id, step, position, agent, max_attempts, idempotency_key, envelope)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (workflow_id, step) DO NOTHING
            """,
            uuid.UUID(workflow_id),
            step,
            position,
            agent.value,
            self._max_attempts,
            envelope.idempotency_key,
            envelope.model_dump(mode="json"),
        )

    # -- sending -----------------------------------------------------------------------------
    async def dispatch_pending(self, workflow_id: str) -> None:
        """Send the workflow's steps that are recorded but not yet sent."""
        rows = await self.db.fetch(
            "SELECT step FROM workflow_steps WHERE workflow_id = $1 AND status = 'pending' ORDER BY position",
            uuid.UUID(workflow_id),
        )
        for row in rows:
            await self._send(workflow_id, row["step"])

    async def _send(self, workflow_id: str, step: str) -> None:
        now = datetime.now(UTC)
        # Mark first, send second: a crash in between leaves a `sent` step past its deadline,
        # which the sweeper resends with the same idempotency key.
        row = await self.db.fetchrow(
            """
            UPDATE workflow_steps SET status = 'sent', attempts = attempts + 1, sent_at = $3, deadline_at = $4
            WHERE workflow_id = $1 AND step = $2 AND status IN ('pending', 'sent')
            RETURNING agent, envelope, attempts
            """,
            uuid.UUID(workflow_id),
            step,
            now,
            now + self._timeout,
        )
        if row is None:
            return
        envelope = Envelope.model_validate(row["envelope"])
        await self._runtime.send_task(Agent(row["agent"]), envelope)
        if row["attempts"] == 1:
            self._hub.publish(
                "workflow.step_started", {"workflow_id": workflow_id, "step": step, "agent": row["agent"]}
            )

    async def sweep(self) -> int:
        """Send due steps: never sent, or sent and past their deadline; fail those out of attempts."""
        now = datetime.now(UTC)
        due = await self.db.fetch(
            """
            SELECT s.workflow_id, s.step, s.status, s.attempts, s.max_attempts
            FROM workflow_steps s JOIN workflows w USING (workflow_id)
            WHERE w.status = 'running' AND (
                (s.status = 'pending' AND s.created_at < $1) OR (s.status = 'sent' AND s.deadline_at < $2))
            ORDER BY s.created_at LIMIT 200
            """,
            now - timedelta(seconds=5),
            now,
        )
        for row in due:
            workflow_id = str(row["workflow_id"])
            if row["status"] == "sent" and row["attempts"] >= row["max_attempts"]:
                await self._fail_step(workflow_id, row["step"], f"no result after {row['attempts']} attempts")
                continue
            log.warning("step_resent", workflow_id=workflow_id, step=row["step"], attempt=row["attempts"] + 1)
            await self._send(workflow_id, row["step"])
        return len(due)

    # -- results -----------------------------------------------------------------------------
    async def handle_triage_result(self, envelope: Envelope) -> dict[str, Any]:
        result = TriageResult.model_validate(envelope.payload)
        workflow_id = _workflow_of(envelope)
        async with self.db.transaction() as conn:
            if not await self._complete_step(conn, workflow_id, "triage", envelope.payload):
                return {"ignored": "step already completed"}
            group = await conn.fetchrow(
                "SELECT alert_count, first_seen, last_seen FROM incident_groups WHERE incident_id = $1",
                uuid.UUID(result.incident_id),
            )
            alert_row = await conn.fetchrow(
                "SELECT a.normalized, a.fingerprint FROM alerts a JOIN workflows w ON w.alert_id = a.alert_id "
                "WHERE w.workflow_id = $1",
                uuid.UUID(workflow_id),
            )
            if group is None or alert_row is None:
                raise NotFound("workflow_context_missing", f"workflow {workflow_id} has no incident or alert")
            request = ResponseRequest(
                incident_id=result.incident_id,
                alert=NormalizedAlert.model_validate(alert_row["normalized"]),
                triage=result,
                alert_count=group["alert_count"],
                first_seen=group["first_seen"],
                last_seen=group["last_seen"],
                fingerprint=alert_row["fingerprint"],
            )
            # The incident is as severe as its most severe alert: a milder triage never lowers it.
            await conn.execute(
                "UPDATE incident_groups SET updated_at = now(), severity = CASE"
                " WHEN array_position($3::text[], $2) > array_position($3::text[], severity) THEN $2"
                " ELSE severity END WHERE incident_id = $1",
                uuid.UUID(result.incident_id),
                result.severity.value,
                SEVERITY_ORDER,
            )
            await self._add_step(
                conn,
                workflow_id,
                "respond",
                2,
                Agent.INCIDENT_RESPONSE,
                RESPONSE_REQUEST,
                request.model_dump(mode="json"),
            )
        self._hub.publish(
            "workflow.step_completed",
            {"workflow_id": workflow_id, "step": "triage", "verdict": result.verdict, "severity": result.severity},
        )
        await self.dispatch_pending(workflow_id)
        return {"workflow_id": workflow_id, "verdict": result.verdict}

    async def handle_response_result(self, envelope: Envelope) -> dict[str, Any]:
        """The alert's response is planned. The workflow completes now when nothing of this alert is
        left to run; otherwise it waits, in step `contain`, for the alert's `containment.result`."""
        result = ResponseResult.model_validate(envelope.payload)
        workflow_id = _workflow_of(envelope)
        async with self.db.transaction() as conn:
            if not await self._complete_step(conn, workflow_id, "respond", envelope.payload):
                # A crash between completing and summarising left no summary: the redelivery writes it.
                await self.summarise(workflow_id)
                return {"ignored": "step already completed"}
            await conn.execute(
                "UPDATE incident_groups SET lifecycle = $2, updated_at = now() WHERE incident_id = $1",
                uuid.UUID(result.incident_id),
                result.status,
            )
            waiting = result.open_actions > 0 and await self._await_containment(conn, workflow_id)
            if not waiting:
                await self._complete_workflow(conn, workflow_id)
        self._hub.publish(
            "workflow.step_completed" if waiting else "workflow.completed",
            {
                "workflow_id": workflow_id,
                "incident_id": result.incident_id,
                "step": "respond",
                "status": result.status,
                "actions": [a.model_dump() for a in result.actions],
                "pending_approvals": result.pending_approvals,
            },
        )
        if not waiting:
            await self.summarise(workflow_id)
        return {"workflow_id": workflow_id, "status": result.status, "waiting": waiting}

    async def handle_containment_result(self, envelope: Envelope) -> dict[str, Any]:
        """Every action on the alert's resources finished: the workflow is complete."""
        result = ContainmentResult.model_validate(envelope.payload)
        workflow_id = _workflow_of(envelope)
        key = uuid.UUID(workflow_id)
        async with self.db.transaction() as conn:
            # It may overtake the response result (SQS does not keep order): record it either way.
            updated = await conn.fetchval(
                """
                INSERT INTO workflow_steps (workflow_id, step, position, agent, status, max_attempts, idempotency_key,
                                            envelope, completed_at, result)
                VALUES ($1, 'contain', 3, $2, 'completed', 1, $3, '{}'::jsonb, now(), $4)
                ON CONFLICT (workflow_id, step) DO UPDATE SET status = 'completed', completed_at = now(),
                    result = EXCLUDED.result
                WHERE workflow_steps.status <> 'completed'
                RETURNING 1
                """,
                key,
                Agent.INCIDENT_RESPONSE.value,
                f"{workflow_id}:contain",
                envelope.payload,
            )
            if not updated:
                return {"ignored": "containment already recorded"}
            await conn.execute(
                "UPDATE incident_groups SET lifecycle = $2, updated_at = now() WHERE incident_id = $1",
                uuid.UUID(result.incident_id),
                result.incident_status,
            )
            respond_done = await conn.fetchval(
                "SELECT status = 'completed' FROM workflow_steps WHERE workflow_id = $1 AND step = 'respond'", key
            )
            if respond_done:
                await self._complete_workflow(conn, workflow_id)
        self._hub.publish(
            "workflow.completed" if respond_done else "workflow.step_completed",
            {
                "workflow_id": workflow_id,
                "incident_id": result.incident_id,
                "step": "contain",
                "outcome": result.outcome,
                "status": result.incident_status,
                "targets": result.targets,
            },
        )
        if respond_done:
            await self.summarise(workflow_id)
        return {"workflow_id": workflow_id, "outcome": result.outcome}

    async def _await_containment(self, conn: asyncpg.Connection, workflow_id: str) -> bool:
        """Record step `contain` as waiting; False when its result already arrived."""
        status = await conn.fetchval(
            """
            INSERT INTO workflow_steps (workflow_id, step, position, agent, status, max_attempts, idempotency_key,
                                        envelope)
            VALUES ($1, 'contain', 3, $2, 'waiting', 1, $3, '{}'::jsonb)
            ON CONFLICT (workflow_id, step) DO UPDATE SET status = workflow_steps.status
            RETURNING status
            """,
            uuid.UUID(workflow_id),
            Agent.INCIDENT_RESPONSE.value,
            f"{workflow_id}:contain",
        )
        return bool(status != "completed")

    async def _complete_workflow(self, conn: asyncpg.Connection, workflow_id: str) -> None:
        await conn.execute(
            "UPDATE workflows SET status = 'completed', completed_at = now(), updated_at = now() "
            "WHERE workflow_id = $1",
            uuid.UUID(workflow_id),
        )

    async def summarise(self, workflow_id: str) -> dict[str, Any] | None:
        """Write the summary of a completed workflow once; None when it is not completed."""
        key = uuid.UUID(workflow_id)
        workflow = await self.db.fetchrow(
            "SELECT w.status, w.incident_id, w.summary, a.normalized FROM workflows w "
            "LEFT JOIN alerts a ON a.alert_id = w.alert_id WHERE w.workflow_id = $1",
            key,
        )
        if workflow is None or workflow["status"] != "completed":
            return None
        if workflow["summary"] is not None:
            return dict(workflow["summary"])
        results = {
            r["step"]: r["result"]
            for r in await self.db.fetch("SELECT step, result FROM workflow_steps WHERE workflow_id = $1", key)
        }
        record = await self._reasoner.summarise(
            workflow_id,
            str(workflow["incident_id"]) if workflow["incident_id"] else None,
            NormalizedAlert.model_validate(workflow["normalized"]) if workflow["normalized"] else None,
            TriageResult.model_validate(results["triage"]) if results.get("triage") else None,
            ResponseResult.model_validate(results["respond"]) if results.get("respond") else None,
        )
        stored = await self.db.fetchval(
            "UPDATE workflows SET summary = COALESCE(summary, $2), updated_at = now() WHERE workflow_id = $1 "
            "RETURNING summary",
            key,
            record,
        )
        self._hub.publish(
            "workflow.summarised",
            {"workflow_id": workflow_id, "reasoning": stored["reasoning"], "usage": stored["usage"]},
        )
        return dict(stored)

    async def handle_incident_status(self, envelope: Envelope) -> dict[str, Any]:
        change = IncidentStatusChanged.model_validate(envelope.payload)
        await self.db.execute(
            """
            UPDATE incident_groups
            SET lifecycle = $2, status = CASE WHEN $2 = 'closed' THEN 'closed' ELSE status END,
                severity = $3, updated_at = now()
            WHERE incident_id = $1
            """,
            uuid.UUID(change.incident_id),
            change.status,
            change.severity.value,
        )
        self._hub.publish("incident.updated", change.model_dump(mode="json"))
        return {"incident_id": change.incident_id, "status": change.status}

    async def _complete_step(
        self, conn: asyncpg.Connection, workflow_id: str, step: str, result: dict[str, Any]
    ) -> bool:
        updated = await conn.fetchval(
            """
            UPDATE workflow_steps SET status = 'completed', completed_at = now(), result = $3, error = NULL
            WHERE workflow_id = $1 AND step = $2 AND status IN ('pending', 'sent', 'failed')
            RETURNING 1
            """,
            uuid.UUID(workflow_id),
            step,
            result,
        )
        if updated:
            # A late result revives a workflow that had timed out: the work did happen.
            await conn.execute(
                "UPDATE workflows SET status = 'running', error = NULL, updated_at = now() "
                "WHERE workflow_id = $1 AND status = 'failed'",
                uuid.UUID(workflow_id),
            )
        return bool(updated)

    async def _fail_step(self, workflow_id: str, step: str, error: str) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE workflow_steps SET status = 'failed', error = $3 WHERE workflow_id = $1 AND step = $2",
                uuid.UUID(workflow_id),
                step,
                error,
            )
            await conn.execute(
                "UPDATE workflows SET status = 'failed', error = $2, updated_at = now() WHERE workflow_id = $1",
                uuid.UUID(workflow_id),
                f"step {step}: {error}",
            )
        log.error("workflow_step_failed", workflow_id=workflow_id, step=step, error=error)
        self._hub.publish("workflow.failed", {"workflow_id": workflow_id, "step": step, "error": error})

    # -- folded alerts -----------------------------------------------------------------------
    async def notify_alerts_updated(self, incident_id: str, alerts: list[NormalizedAlert] | None = None) -> None:
        """Tell incident response the absolute alert count of an incident (order-independent), and the
        alerts that were folded into it, so the incident lists every one."""
        group = await self.db.fetchrow(
            "SELECT alert_count, first_seen, last_seen FROM incident_groups WHERE incident_id = $1",
            uuid.UUID(incident_id),
        )
        if group is None:
            return
        members = alerts or []
        update = IncidentAlertsUpdated(
            incident_id=incident_id,
            alert_ids=[str(a.alert_id) for a in members],
            alerts=[AlertBrief.of(a) for a in members],
            alert_count=group["alert_count"],
            first_seen=group["first_seen"],
            last_seen=group["last_seen"],
        )
        ids = ",".join(sorted(update.alert_ids))
        envelope = Envelope.new(
            kind=INCIDENT_ALERTS_UPDATED,
            sender=SENDER,
            payload=update.model_dump(mode="json"),
            idempotency_key=f"{INCIDENT_ALERTS_UPDATED}:{incident_id}:{group['alert_count']}:"
            + hashlib.sha256(ids.encode()).hexdigest()[:16],
        )
        await self._runtime.send_task(Agent.INCIDENT_RESPONSE, envelope)
        self._hub.publish(
            "incident.alerts_updated",
            update.model_dump(mode="json", include={"incident_id", "alert_ids", "alert_count"}),
        )

    async def notify_alert_resolved(self, incident_id: str, alert_id: str, reason: str) -> None:
        """The source resolved an alert of the incident: incident response resolves it there too."""
        update = IncidentAlertResolved(
            incident_id=incident_id, alert_id=alert_id, reason=reason[:256], resolved_at=datetime.now(UTC)
        )
        envelope = Envelope.new(
            kind=INCIDENT_ALERT_RESOLVED,
            sender=SENDER,
            payload=update.model_dump(mode="json"),
            idempotency_key=f"{INCIDENT_ALERT_RESOLVED}:{alert_id}:{update.resolved_at.isoformat()}",
        )
        await self._runtime.send_task(Agent.INCIDENT_RESPONSE, envelope)
        self._hub.publish("alert.resolved", {"incident_id": incident_id, "alert_id": alert_id, "reason": reason})

    # -- reading -----------------------------------------------------------------------------
    async def get(self, workflow_id: str) -> dict[str, Any]:
        try:
            key = uuid.UUID(workflow_id)
        except ValueError as err:
            raise NotFound("workflow_not_found", f"no workflow {workflow_id}") from err
        workflow = await self.db.fetchrow("SELECT * FROM workflows WHERE workflow_id = $1", key)
        if workflow is None:
            raise NotFound("workflow_not_found", f"no workflow {workflow_id}")
        steps = await self.db.fetch(
            "SELECT step, agent, status, attempts, max_attempts, sent_at, deadline_at, completed_at, result, error "
            "FROM workflow_steps WHERE workflow_id = $1 ORDER BY position",
            key,
        )
        out_steps = [_jsonable(dict(s)) for s in steps]
        return {
            **_jsonable(dict(workflow)),
            "steps": out_steps,
            "llm_usage": workflow_usage(out_steps, workflow["summary"]),
        }

    async def list(self, *, incident_id: uuid.UUID | None, status: str | None, limit: int) -> list[dict[str, Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        if incident_id:
            args.append(incident_id)
            clauses.append(f"incident_id = ${len(args)}")
        if status:
            args.append(status)
            clauses.append(f"status = ${len(args)}")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        args.append(limit)
        sql = f"SELECT * FROM workflows {where} ORDER BY created_at DESC LIMIT ${len(args)}"  # noqa: S608 - our clauses
        rows = await self.db.fetch(sql, *args)
        return [_jsonable(dict(r)) for r in rows]


def _workflow_of(envelope: Envelope) -> str:
    if not envelope.workflow_id:
        raise Invalid("workflow_missing", f"{envelope.kind} without a workflow id")
    return envelope.workflow_id


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, uuid.UUID):
            out[key] = str(value)
        elif isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, str) and key in ("result",):
            out[key] = json.loads(value)
        else:
            out[key] = value
    return out


__all__ = [
    "ALERT_WORKFLOW",
    "CONTAINMENT_RESULT",
    "INCIDENT_STATUS",
    "RESPONSE_RESULT",
    "TRIAGE_RESULT",
    "WorkflowEngine",
]
