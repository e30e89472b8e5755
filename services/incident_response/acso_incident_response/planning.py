"""Turning a triaged alert into an incident and a plan of actions (the `response.request` handler's logic).

Everything is idempotent on the incident id the supervisor allocated: the incident row is upserted,
alerts and observables are linked once, and each action has one row per (incident, step, target).
A repeated request therefore changes nothing but the alert count.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from acso_incident_response import lifecycle, outbox
from acso_incident_response.actions.base import ActionContext
from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.outbox import OutboxPump
from acso_incident_response.playbook import Playbook, PlaybookStep, select_playbook
from acso_incident_response.policy import Decision, check
from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target, TargetKind, targets_of
from acso_shared.contracts import RESPONSE_RESULT, ActionSummary, ResponseRequest, ResponseResult
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime

ACTION_EXECUTE = "action.execute"
TERMINAL = ("succeeded", "failed", "reverted", "rejected", "blocked")
SYSTEM = "acso"
# Runs after the deterministic plan has committed (the reasoning layer's response plan).
AfterPlanning = Callable[[ResponseRequest, str | None, Playbook | None], Awaitable[object]]


def action_id_for(incident_id: str, step: str, target: str) -> str:
    """Deterministic, so the unique key and the id always agree."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"acso-action:{incident_id}:{step}:{target}"))


@dataclass(frozen=True)
class PlannedStep:
    step: PlaybookStep
    target: Target
    action_id: str
    decision: Decision | None


class Planner:
    """Opens incidents and plans their playbook's actions."""

    def __init__(
        self,
        runtime: AgentRuntime,
        settings: Settings,
        playbooks: list[Playbook],
        waf_set: list[str],
        pump: OutboxPump,
    ) -> None:
        self._runtime = runtime
        self._outbox = pump
        self._settings = settings
        self._playbooks = playbooks
        self._waf_set = waf_set
        self.after_planning: AfterPlanning | None = None

    def context(self, action_id: str, incident_id: str) -> ActionContext:
        return ActionContext(
            self._runtime.clients,
            self._settings,
            action_id,
            incident_id,
            self._waf_set[0] if self._waf_set else None,
        )

    async def handle(self, envelope: Envelope) -> dict[str, Any]:
        """`response.request`: open or update the incident, plan the actions, reply `response.result`."""
        request = ResponseRequest.model_validate(envelope.payload)
        verdict = request.triage.verdict
        playbook = None
        if verdict != "benign":
            techniques = sorted({*request.triage.techniques, *request.alert.attack_techniques})
            available = [kind for kind in TargetKind if targets_of(request.alert, kind)]
            playbook = select_playbook(self._playbooks, request.alert.type, techniques, available)
        steps = await self._evaluate(request, playbook) if playbook else []
        async with self._runtime.db.transaction() as conn:
            inserted = await self._upsert(conn, request, envelope.workflow_id, playbook)
            if inserted:
                await self._open(conn, request, playbook)
            if playbook is not None:
                await self.plan_steps(conn, request.incident_id, playbook.id, steps)
                await dispatch_ready(conn, request.incident_id)
            result = await self._result(conn, request.incident_id)
            await outbox.add_result(
                conn,
                envelope.reply(kind=RESPONSE_RESULT, sender=lifecycle.SENDER, payload=result.model_dump(mode="json")),
            )
        self._outbox.wake()
        if self.after_planning is not None:
            # After the commit: the incident and its deterministic plan never wait for a model.
            await self.after_planning(request, envelope.workflow_id, playbook)
        return {"incident_id": request.incident_id, "inserted": inserted, "actions": len(result.actions)}

    async def _evaluate(self, request: ResponseRequest, playbook: Playbook) -> list[PlannedStep]:
        """Each (step, target) not planned yet, with its policy decision (read from AWS, so outside the transaction)."""
        existing = {
            r["id"]
            for r in await self._runtime.db.fetch(
                "SELECT id FROM ir_actions WHERE incident_id = $1", request.incident_id
            )
        }
        planned: list[PlannedStep] = []
        for step in playbook.steps:
            for target in targets_of(request.alert, step.target):
                action_id = action_id_for(request.incident_id, step.id, target.key)
                decision = None
                if action_id not in existing:
                    decision = await check(self.context(action_id, request.incident_id), target, actions_in_incident=0)
                planned.append(PlannedStep(step, target, action_id, decision))
        return planned

    async def _upsert(
        self, conn: asyncpg.Connection, request: ResponseRequest, workflow_id: str | None, playbook: Playbook | None
    ) -> bool:
        alert, triage = request.alert, request.triage
        row = await conn.fetchrow(
            """
            INSERT INTO ir_incidents (id, title, summary, status, severity, verdict, confidence, finding_type,
                account_id, fingerprint, workflow_id, playbook, techniques, alert_count, first_seen, last_seen)
            VALUES ($1, $2, $3, 'new', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (id) DO UPDATE SET
                alert_count = GREATEST(ir_incidents.alert_count, EXCLUDED.alert_count),
                first_seen = LEAST(ir_incidents.first_seen, EXCLUDED.first_seen),
                last_seen = GREATEST(ir_incidents.last_seen, EXCLUDED.last_seen)
            RETURNING (xmax = 0) AS inserted
            """,
            request.incident_id,
            alert.title[:1024] or alert.type,
            triage.summary,
            triage.severity.value,
            triage.verdict,
            triage.confidence,
            alert.type,
            alert.account_id,
            request.fingerprint,
            workflow_id,
            playbook.id if playbook else None,
            sorted({*triage.techniques, *alert.attack_techniques}),
            request.alert_count,
            request.first_seen,
            request.last_seen,
        )
        # Counts the supervisor sent before the incident existed.
        pending = await conn.fetchrow(
            "DELETE FROM ir_pending_alert_counts WHERE incident_id = $1 RETURNING *", request.incident_id
        )
        if pending is not None:
            await conn.execute(
                "UPDATE ir_incidents SET alert_count = GREATEST(alert_count, $2), first_seen = LEAST(first_seen, $3),"
                " last_seen = GREATEST(last_seen, $4) WHERE id = $1",
                request.incident_id,
                pending["alert_count"],
                pending["first_seen"],
                pending["last_seen"],
            )
            await conn.executemany(
                "INSERT INTO ir_incident_alerts (incident_id, alert_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                [(request.incident_id, alert_id) for alert_id in pending["alert_ids"]],
            )
        await conn.execute(
            "INSERT INTO ir_incident_alerts (incident_id, alert_id, source, type, title, occurred_at)"
            " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (incident_id, alert_id)"
            " DO UPDATE SET source = EXCLUDED.source,"
            " type = EXCLUDED.type, title = EXCLUDED.title, occurred_at = EXCLUDED.occurred_at",
            request.incident_id,
            str(alert.alert_id),
            alert.source,
            alert.type,
            alert.title,
            alert.occurred_at,
        )
        await conn.executemany(
            "INSERT INTO ir_incident_observables (incident_id, type, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            [(request.incident_id, o.type.value, o.value) for o in alert.observables],
        )
        return bool(row["inserted"]) if row else False

    async def _open(self, conn: asyncpg.Connection, request: ResponseRequest, playbook: Playbook | None) -> None:
        incident_id, triage = request.incident_id, request.triage
        await lifecycle.timeline(
            conn,
            incident_id,
            "opened",
            SYSTEM,
            f"incident opened from {request.alert.source} alert {request.alert.type}",
            {"alert_id": str(request.alert.alert_id), "fingerprint": request.fingerprint},
        )
        await lifecycle.announce(
            conn,
            incident_id,
            "Incident Opened",
            {"title": request.alert.title, "finding_type": request.alert.type},
            was_severity=None,
        )
        reason = f"verdict {triage.verdict} ({triage.confidence:.2f}), severity {triage.severity.value}"
        # The triage conclusion and the evidence it rests on, as the threat hunter reported them.
        await lifecycle.timeline(
            conn,
            incident_id,
            "triage",
            "threat_hunter",
            triage.summary or reason,
            {
                "verdict": triage.verdict,
                "confidence": triage.confidence,
                "techniques": triage.techniques,
                "reasoning": triage.reasoning,
                "evidence": [item.model_dump(mode="json") for item in triage.evidence],
            },
        )
        await lifecycle.set_status(conn, incident_id, "triaged", SYSTEM, reason, current="new")
        if triage.verdict == "benign":
            note = "benign verdict: no containment actions"
        elif playbook is None:
            note = f"no playbook matches {request.alert.type}: no automated actions"
        else:
            note = f"playbook {playbook.id} selected"
        await lifecycle.timeline(
            conn, incident_id, "playbook", SYSTEM, note, {"playbook": playbook.id if playbook else None}
        )

    async def plan_steps(
        self,
        conn: asyncpg.Connection,
        incident_id: str,
        playbook_id: str,
        steps: list[PlannedStep],
        *,
        first_seq: int = 0,
    ) -> None:
        """Insert the evaluated steps not planned yet, under the blast-radius cap, with their timeline entries."""
        count = await conn.fetchval(
            "SELECT count(*) FROM ir_actions WHERE incident_id = $1 AND status <> 'blocked'", incident_id
        )
        for seq, planned in enumerate(steps, start=first_seq):
            if planned.decision is None:
                continue
            decision = planned.decision
            if decision.allowed and count >= self._settings.blast_radius_max_actions:
                decision = Decision(
                    False,
                    "blast_radius_exceeded",
                    f"the incident already has {count} actions (cap {self._settings.blast_radius_max_actions})",
                )
            await self._insert_action(conn, incident_id, playbook_id, seq, planned, decision)
            if decision.allowed:
                count += 1

    async def _insert_action(
        self,
        conn: asyncpg.Connection,
        incident_id: str,
        playbook_id: str,
        seq: int,
        planned: PlannedStep,
        decision: Decision,
    ) -> None:
        step, target = planned.step, planned.target
        action = ACTIONS[step.action]
        dry_run = step.dry_run or self._settings.dry_run
        if not decision.allowed:
            status = "blocked"
        elif action.risk == "high" and not dry_run:
            status = "pending_approval"
        else:
            status = "planned"
        created = await conn.fetchval(
            """
            INSERT INTO ir_actions (id, incident_id, playbook, step, seq, action_type, target, target_user, account_id,
                risk, dry_run, params, after_steps, status, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (incident_id, step, target) DO NOTHING RETURNING id
            """,
            planned.action_id,
            incident_id,
            playbook_id,
            step.id,
            seq,
            step.action,
            target.key,
            target.user_name,
            target.account_id,
            action.risk,
            dry_run,
            step.params,
            list(step.after),
            status,
            None if decision.allowed else f"{decision.code}: {decision.reason}",
        )
        if created is None:
            return
        describe = action.describe(target, step.params)
        if status == "blocked":
            await lifecycle.timeline(
                conn,
                incident_id,
                "action_blocked",
                SYSTEM,
                f"not done: {describe} ({decision.reason})",
                {"action_id": planned.action_id, "code": decision.code},
            )
            await action_event(conn, planned.action_id, "blocked")
        elif status == "pending_approval":
            approval_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"acso-approval:{planned.action_id}"))
            expires = await conn.fetchval(
                "INSERT INTO ir_approvals (id, action_id, incident_id, status, expires_at)"
                " VALUES ($1, $2, $3, 'pending', clock_timestamp() + make_interval(secs => $4)) RETURNING expires_at",
                approval_id,
                planned.action_id,
                incident_id,
                self._settings.approval_ttl_s,
            )
            await lifecycle.timeline(
                conn,
                incident_id,
                "approval_requested",
                SYSTEM,
                f"waiting for a responder's approval to {describe}",
                {"action_id": planned.action_id, "approval_id": approval_id, "expires_at": expires.isoformat()},
            )
            incident = await conn.fetchrow("SELECT status, severity FROM ir_incidents WHERE id = $1", incident_id)
            await lifecycle.event(
                conn,
                f"approval-requested:{approval_id}",
                "Approval Requested",
                {
                    "incident_id": incident_id,
                    "status": incident["status"],
                    "severity": incident["severity"],
                    "approval_id": approval_id,
                    "action_id": planned.action_id,
                    "expires_at": expires.isoformat(),
                },
            )
        else:
            await lifecycle.timeline(
                conn,
                incident_id,
                "action_planned",
                SYSTEM,
                f"planned{' (dry run)' if dry_run else ''}: {describe}",
                {"action_id": planned.action_id, "risk": action.risk},
            )

    async def _result(self, conn: asyncpg.Connection, incident_id: str) -> ResponseResult:
        incident = await conn.fetchrow("SELECT status, playbook FROM ir_incidents WHERE id = $1", incident_id)
        rows = await conn.fetch(
            "SELECT id, action_type, status, risk, target FROM ir_actions WHERE incident_id = $1 ORDER BY seq",
            incident_id,
        )
        actions = [
            ActionSummary(
                action_id=r["id"], action_type=r["action_type"], status=r["status"], risk=r["risk"], target=r["target"]
            )
            for r in rows
        ]
        pending = sum(1 for a in actions if a.status == "pending_approval")
        summary = f"{len(actions)} actions planned" if actions else "no actions"
        return ResponseResult(
            incident_id=incident_id,
            status=incident["status"],
            playbook=incident["playbook"],
            actions=actions,
            pending_approvals=pending,
            summary=summary,
        )


async def action_event(conn: asyncpg.Connection, action_id: str, outcome: str) -> None:
    """`Action Executed` for one outcome of one action."""
    row = await conn.fetchrow(
        "SELECT a.incident_id, a.action_type, a.target, i.status, i.severity FROM ir_actions a"
        " JOIN ir_incidents i ON i.id = a.incident_id WHERE a.id = $1",
        action_id,
    )
    await lifecycle.event(
        conn,
        f"action:{action_id}:{outcome}",
        "Action Executed",
        {
            "incident_id": row["incident_id"],
            "status": row["status"],
            "severity": row["severity"],
            "action_id": action_id,
            "action_type": row["action_type"],
            "target": row["target"],
            "action_status": outcome,
        },
    )


async def _decide_in_turn(conn: asyncpg.Connection, incident_id: str) -> None:
    """Lock the incident row until commit, so the decisions of actions finishing together take turns.

    Without it, two parallel predecessors of one step finishing at once each see the other still
    running (each transaction reads before the other commits): neither releases the step after
    them, nor marks the incident contained. Statements after the lock read what the other committed.
    """
    await conn.execute("SELECT 1 FROM ir_incidents WHERE id = $1 FOR UPDATE", incident_id)


async def dispatch_ready(conn: asyncpg.Connection, incident_id: str) -> None:
    """Queue `action.execute` for each planned action whose predecessors have all finished (once per action)."""
    await _decide_in_turn(conn, incident_id)
    rows = await conn.fetch(
        "SELECT id, step, after_steps FROM ir_actions WHERE incident_id = $1 AND status = 'planned'", incident_id
    )
    if not rows:
        return
    statuses = await conn.fetch("SELECT step, status FROM ir_actions WHERE incident_id = $1", incident_id)
    unfinished = {r["step"] for r in statuses if r["status"] not in TERMINAL}
    workflow_id = await conn.fetchval("SELECT workflow_id FROM ir_incidents WHERE id = $1", incident_id)
    for row in rows:
        if any(step in unfinished for step in row["after_steps"]):
            continue
        envelope = Envelope(
            idempotency_key=f"{ACTION_EXECUTE}:{row['id']}",
            kind=ACTION_EXECUTE,
            workflow_id=workflow_id,
            step=row["step"],
            sender=lifecycle.SENDER,
            payload={"action_id": row["id"], "incident_id": incident_id},
        )
        await outbox.add_task(conn, Agent.INCIDENT_RESPONSE, envelope)


async def maybe_contained(conn: asyncpg.Connection, incident_id: str) -> None:
    """A triaged incident is contained once every action has finished and at least one real one succeeded."""
    await _decide_in_turn(conn, incident_id)
    row = await conn.fetchrow(
        "SELECT i.status,"
        " count(*) FILTER (WHERE a.status NOT IN ('succeeded','failed','reverted','rejected','blocked'))"
        " AS open, count(*) FILTER (WHERE a.status = 'succeeded' AND NOT a.dry_run) AS done"
        " FROM ir_incidents i LEFT JOIN ir_actions a ON a.incident_id = i.id WHERE i.id = $1 GROUP BY i.status",
        incident_id,
    )
    if row and row["status"] == "triaged" and row["open"] == 0 and row["done"] > 0:
        await lifecycle.set_status(
            conn, incident_id, "contained", SYSTEM, "every containment action finished", current="triaged"
        )
