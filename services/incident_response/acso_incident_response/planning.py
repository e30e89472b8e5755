"""Turning a triaged alert into an incident and a plan of actions (the `response.request` handler's logic).

Everything is idempotent on the incident id the supervisor allocated: the incident row is upserted,
alerts and observables are linked once, and each action has one row per (incident, step, target).
A repeated request therefore changes nothing but the alert count.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

import asyncpg

from acso_incident_response import lifecycle, outbox
from acso_incident_response.actions.base import ActionContext, ReadCache
from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.outbox import OutboxPump
from acso_incident_response.playbook import Playbook, PlaybookStep, select_playbook
from acso_incident_response.policy import Decision, check
from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target, TargetKind, targets_of
from acso_shared.alerts.models import SEVERITY_ORDER
from acso_shared.contracts import (
    CONTAINMENT_RESULT,
    COST_IMPACT_REQUEST,
    RESPONSE_RESULT,
    ActionSummary,
    AlertBrief,
    ContainmentResult,
    CostImpactRequest,
    ResponseActionRecord,
    ResponseRequest,
    ResponseResult,
)
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime

ACTION_EXECUTE = "action.execute"
TERMINAL = ("succeeded", "failed", "reverted", "rejected", "blocked")
SYSTEM = "acso"
VERDICT_ORDER = ["benign", "suspicious", "malicious"]
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
        """`response.request`: open the incident or add the alert to it, plan the actions the alert's
        own finding calls for, reply `response.result` (with how many of this alert's actions are open)."""
        request = ResponseRequest.model_validate(envelope.payload)
        alert_id = str(request.alert.alert_id)
        verdict = request.triage.verdict
        playbook = None
        if verdict != "benign":
            techniques = sorted({*request.triage.techniques, *request.alert.attack_techniques})
            available = [kind for kind in TargetKind if targets_of(request.alert, kind)]
            playbook = select_playbook(self._playbooks, request.alert.type, techniques, available)
        steps = await self._evaluate(request, playbook) if playbook else []
        async with self._runtime.db.transaction() as conn:
            inserted, first = await self._upsert(conn, request, envelope.workflow_id, playbook, steps)
            if inserted:
                await self._open(conn, request, playbook)
            elif first:
                await self._join(conn, request, playbook)
            if playbook is not None:
                await self.plan_steps(conn, request.incident_id, playbook.id, steps, alert_id=alert_id)
                await dispatch_ready(conn, request.incident_id)
            open_actions = await settle(conn, request.incident_id, planning=alert_id)
            result = await self._result(conn, request.incident_id, alert_id, open_actions)
            await outbox.add_result(
                conn,
                envelope.reply(kind=RESPONSE_RESULT, sender=lifecycle.SENDER, payload=result.model_dump(mode="json")),
            )
        self._outbox.wake()
        if self.after_planning is not None and inserted:
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
        # One live read of each target serves the scope checks of all the steps acting on it.
        reads = ReadCache()
        reads.share()
        for step in playbook.steps:
            for target in targets_of(request.alert, step.target):
                action_id = action_id_for(request.incident_id, step.id, target.key)
                decision = None
                if action_id not in existing:
                    ctx = replace(self.context(action_id, request.incident_id), reads=reads)
                    decision = await check(ctx, target, actions_in_incident=0)
                planned.append(PlannedStep(step, target, action_id, decision))
        return planned

    async def _upsert(
        self,
        conn: asyncpg.Connection,
        request: ResponseRequest,
        workflow_id: str | None,
        playbook: Playbook | None,
        steps: list[PlannedStep],
    ) -> tuple[bool, bool]:
        """Create the incident or fold the alert's counts into it, and record the alert itself.

        Returns whether the incident was created, and whether this alert's response is new to it (a
        repeated request for the same alert changes nothing but the counts).
        """
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
        planned_before = await conn.fetchval(
            "SELECT workflow_id IS NOT NULL FROM ir_incident_alerts WHERE incident_id = $1 AND alert_id = $2",
            request.incident_id,
            str(alert.alert_id),
        )
        await record_alert(
            conn,
            request.incident_id,
            AlertBrief.of(alert),
            workflow_id=workflow_id,
            verdict=triage.verdict,
            playbook=playbook.id if playbook else None,
            targets=sorted({p.target.key for p in steps}),
            action_ids=sorted({p.action_id for p in steps}),
        )
        return (bool(row["inserted"]) if row else False), not planned_before

    async def _join(self, conn: asyncpg.Connection, request: ResponseRequest, playbook: Playbook | None) -> None:
        """A further alert of an open incident: its triage and response are recorded on the incident, the
        incident's verdict and severity become the worst of its alerts."""
        incident_id, alert, triage = request.incident_id, request.alert, request.triage
        row = await conn.fetchrow(
            "SELECT status, severity, verdict, techniques FROM ir_incidents WHERE id = $1 FOR UPDATE", incident_id
        )
        names = ", ".join(f"{r.type.value} {r.id}" for r in alert.resources[:5]) or "no resource"
        await lifecycle.timeline(
            conn,
            incident_id,
            "alert_added",
            SYSTEM,
            f"{alert.source} alert {alert.type} joined the incident ({names})",
            {
                "alert_id": str(alert.alert_id),
                "fingerprint": request.fingerprint,
                "resources": [r.model_dump(mode="json") for r in alert.resources],
            },
        )
        await lifecycle.timeline(
            conn,
            incident_id,
            "triage",
            "threat_hunter",
            triage.summary or f"verdict {triage.verdict} ({triage.confidence:.2f}), severity {triage.severity.value}",
            {
                "alert_id": str(alert.alert_id),
                "verdict": triage.verdict,
                "confidence": triage.confidence,
                "techniques": triage.techniques,
                "reasoning": triage.reasoning,
                "evidence": [item.model_dump(mode="json") for item in triage.evidence],
            },
        )
        await lifecycle.timeline(
            conn,
            incident_id,
            "playbook",
            SYSTEM,
            _playbook_note(request, playbook),
            {"alert_id": str(alert.alert_id), "playbook": playbook.id if playbook else None},
        )
        severity = worse(row["severity"], triage.severity.value, SEVERITY_ORDER)
        verdict = worse(row["verdict"], triage.verdict, VERDICT_ORDER)
        techniques = sorted({*row["techniques"], *triage.techniques, *alert.attack_techniques})
        if (severity, verdict, techniques) != (row["severity"], row["verdict"], row["techniques"]):
            await lifecycle.bump(
                conn, incident_id, "severity = $2, verdict = $3, techniques = $4", *(severity, verdict, techniques)
            )
            changes: dict[str, list[Any]] = {}
            if severity != row["severity"]:
                changes["severity"] = [row["severity"], severity]
            if verdict != row["verdict"]:
                changes["verdict"] = [row["verdict"], verdict]
            if changes:
                await lifecycle.timeline(
                    conn,
                    incident_id,
                    "updated",
                    SYSTEM,
                    ", ".join(f"{k}: {v[0]} -> {v[1]}" for k, v in changes.items()) + " (a further alert)",
                    {"changes": changes, "alert_id": str(alert.alert_id)},
                )
            await lifecycle.announce(
                conn, incident_id, "Incident Updated", {"changes": changes}, was_severity=row["severity"]
            )

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
        await lifecycle.timeline(
            conn,
            incident_id,
            "playbook",
            SYSTEM,
            _playbook_note(request, playbook),
            {"alert_id": str(request.alert.alert_id), "playbook": playbook.id if playbook else None},
        )

    async def plan_steps(
        self,
        conn: asyncpg.Connection,
        incident_id: str,
        playbook_id: str,
        steps: list[PlannedStep],
        *,
        first_seq: int = 0,
        alert_id: str | None = None,
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
            await self._insert_action(conn, incident_id, playbook_id, seq, planned, decision, alert_id)
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
        alert_id: str | None,
    ) -> None:
        step, target = planned.step, planned.target
        action = ACTIONS[step.action]
        dry_run = step.dry_run or self._settings.dry_run
        params = action.planned_params(dict(step.params), self._settings)
        if not decision.allowed:
            status = "blocked"
        elif action.risk == "high" and not dry_run:
            status = "pending_approval"
        else:
            status = "planned"
        created = await conn.fetchval(
            """
            INSERT INTO ir_actions (id, incident_id, playbook, step, seq, action_type, target, target_user, account_id,
                risk, dry_run, params, after_steps, status, reason, alert_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
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
            params,
            list(step.after),
            status,
            None if decision.allowed else f"{decision.code}: {decision.reason}",
            alert_id,
        )
        if created is None:
            return
        describe = action.describe(target, params)
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

    async def _result(
        self, conn: asyncpg.Connection, incident_id: str, alert_id: str, open_actions: int
    ) -> ResponseResult:
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
            alert_id=alert_id,
            open_actions=open_actions,
        )


def worse(a: str, b: str, order: list[str]) -> str:
    """The later of two values in `order` (severities, verdicts); an unknown value loses."""
    rank = {value: index for index, value in enumerate(order)}
    return a if rank.get(a, -1) >= rank.get(b, -1) else b


def _playbook_note(request: ResponseRequest, playbook: Playbook | None) -> str:
    names = ", ".join(f"{r.type.value} {r.id}" for r in request.alert.resources[:5]) or "no resource"
    if request.triage.verdict == "benign":
        return f"benign verdict for {request.alert.type} on {names}: no containment actions"
    if playbook is None:
        return f"no playbook applies to {request.alert.type} on {names}: no automated actions"
    return f"playbook {playbook.id} selected for {request.alert.type} on {names}"


async def record_alert(
    conn: asyncpg.Connection,
    incident_id: str,
    alert: AlertBrief,
    *,
    workflow_id: str | None = None,
    verdict: str | None = None,
    playbook: str | None = None,
    targets: list[str] | None = None,
    action_ids: list[str] | None = None,
) -> None:
    """List an alert on the incident with what it names (once; a later, fuller record fills it in)."""
    await conn.execute(
        """
        INSERT INTO ir_incident_alerts (incident_id, alert_id, source, type, title, occurred_at, severity, account_id,
            resources, observables, workflow_id, verdict, playbook, targets, action_ids)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        ON CONFLICT (incident_id, alert_id) DO UPDATE SET source = EXCLUDED.source, type = EXCLUDED.type,
            title = EXCLUDED.title, occurred_at = EXCLUDED.occurred_at, severity = EXCLUDED.severity,
            account_id = EXCLUDED.account_id, resources = EXCLUDED.resources, observables = EXCLUDED.observables,
            workflow_id = COALESCE(EXCLUDED.workflow_id, ir_incident_alerts.workflow_id),
            verdict = COALESCE(EXCLUDED.verdict, ir_incident_alerts.verdict),
            playbook = COALESCE(EXCLUDED.playbook, ir_incident_alerts.playbook),
            targets = CASE WHEN EXCLUDED.workflow_id IS NULL THEN ir_incident_alerts.targets ELSE EXCLUDED.targets END,
            action_ids = CASE WHEN EXCLUDED.workflow_id IS NULL THEN ir_incident_alerts.action_ids
                              ELSE EXCLUDED.action_ids END
        """,
        incident_id,
        alert.alert_id,
        alert.source,
        alert.type,
        alert.title,
        alert.occurred_at,
        alert.severity.value,
        alert.account_id,
        [r.model_dump(mode="json") for r in alert.resources],
        [o.model_dump(mode="json") for o in alert.observables],
        workflow_id,
        verdict,
        playbook,
        targets or [],
        action_ids or [],
    )
    await conn.executemany(
        "INSERT INTO ir_incident_observables (incident_id, type, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(incident_id, o.type.value, o.value) for o in alert.observables],
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
    """Queue `action.execute` for each planned action whose predecessors have all finished (once per action).

    `after` names steps of the same alert's plan: a second alert's quarantine waits for its own
    snapshot, not for another resource's.
    """
    await _decide_in_turn(conn, incident_id)
    rows = await conn.fetch(
        "SELECT id, step, after_steps, alert_id FROM ir_actions WHERE incident_id = $1 AND status = 'planned'",
        incident_id,
    )
    if not rows:
        return
    statuses = await conn.fetch("SELECT step, status, alert_id FROM ir_actions WHERE incident_id = $1", incident_id)
    unfinished = {(r["alert_id"], r["step"]) for r in statuses if r["status"] not in TERMINAL}
    workflow_id = await conn.fetchval("SELECT workflow_id FROM ir_incidents WHERE id = $1", incident_id)
    for row in rows:
        if any((row["alert_id"], step) in unfinished for step in row["after_steps"]):
            continue
        envelope = Envelope.new(
            idempotency_key=f"{ACTION_EXECUTE}:{row['id']}",
            kind=ACTION_EXECUTE,
            workflow_id=workflow_id,
            step=row["step"],
            sender=lifecycle.SENDER,
            payload={"action_id": row["id"], "incident_id": incident_id},
        )
        await outbox.add_task(conn, Agent.INCIDENT_RESPONSE, envelope)


def _target_outcomes(actions: list[asyncpg.Record]) -> dict[str, str]:
    """Each target's containment: `contained` once a real action on it succeeded, `failed` when its real
    actions all ended otherwise, `dry_run` when it only had dry runs."""
    outcomes: dict[str, str] = {}
    for target in sorted({a["target"] for a in actions}):
        mine = [a for a in actions if a["target"] == target]
        real = [a for a in mine if not a["dry_run"]]
        if any(a["status"] == "succeeded" for a in real):
            outcomes[target] = "contained"
        elif real:
            outcomes[target] = "failed"
        else:
            outcomes[target] = "dry_run"
    return outcomes


def _is_resource(target: str) -> bool:
    """An affected resource, not an address the response blocks: its containment must succeed."""
    return not target.startswith(f"{TargetKind.IP.value}:")


def _alert_outcome(outcomes: dict[str, str]) -> Literal["contained", "failed", "no_action"]:
    resources = {t: o for t, o in outcomes.items() if _is_resource(t)}
    if any(o == "failed" for o in resources.values()):
        return "failed"
    if any(o == "contained" for o in outcomes.values()):
        return "contained"
    return "no_action"


async def settle(conn: asyncpg.Connection, incident_id: str, *, planning: str | None = None) -> int:
    """Decide what finished actions mean, for each alert and for the incident.

    An alert whose actions have all finished gets its containment outcome, and its waiting workflow
    a `containment.result` (the alert being planned now, `planning`, is answered by the response
    result instead). The incident reads `contained` only when every affected resource's containment
    succeeded; an alert adding work to a contained incident reopens its response. Returns the number
    of open actions of the `planning` alert.
    """
    await _decide_in_turn(conn, incident_id)
    actions = await conn.fetch(
        "SELECT id, target, status, dry_run, action_type, started_at, finished_at, after_state"
        " FROM ir_actions WHERE incident_id = $1",
        incident_id,
    )
    by_id = {a["id"]: a for a in actions}
    incident = await conn.fetchrow("SELECT status, first_seen FROM ir_incidents WHERE id = $1", incident_id)
    status = incident["status"]
    open_actions = [a for a in actions if a["status"] not in TERMINAL]
    uncontained = sorted(t for t, o in _target_outcomes(actions).items() if _is_resource(t) and o == "failed")
    if status == "contained" and (open_actions or uncontained):
        await lifecycle.reopen(
            conn,
            incident_id,
            SYSTEM,
            "a further alert's resources need containment"
            if open_actions
            else f"containment of {', '.join(uncontained)} did not succeed",
        )
        status = "triaged"
    alerts = await conn.fetch(
        "SELECT alert_id, workflow_id, action_ids, containment FROM ir_incident_alerts"
        " WHERE incident_id = $1 AND workflow_id IS NOT NULL AND (containment IS NULL OR containment = 'pending'"
        " OR alert_id = $2)",
        incident_id,
        planning,
    )
    planning_open = 0
    real = [a for a in actions if not a["dry_run"]]
    if status == "triaged" and not open_actions and not uncontained and any(a["status"] == "succeeded" for a in real):
        await lifecycle.set_status(
            conn, incident_id, "contained", SYSTEM, "every affected resource's containment finished", current="triaged"
        )
        status = "contained"
        await _request_cost_impact(conn, incident_id, incident["first_seen"], actions)
    for alert in alerts:
        mine = [by_id[i] for i in alert["action_ids"] if i in by_id]
        still_open = [a for a in mine if a["status"] not in TERMINAL]
        if alert["alert_id"] == planning:
            planning_open = len(still_open)
        if still_open:
            if alert["containment"] is None:
                await _set_containment(conn, incident_id, alert["alert_id"], "pending")
            continue
        outcomes = _target_outcomes(mine)
        outcome = _alert_outcome(outcomes)
        await _set_containment(conn, incident_id, alert["alert_id"], outcome)
        if alert["alert_id"] == planning and alert["containment"] is None:
            continue
        result = ContainmentResult(
            incident_id=incident_id,
            alert_id=alert["alert_id"],
            outcome=outcome,
            incident_status=status,
            targets=outcomes,
        )
        await outbox.add_result(
            conn,
            Envelope.new(
                idempotency_key=f"{CONTAINMENT_RESULT}:{alert['workflow_id']}",
                kind=CONTAINMENT_RESULT,
                workflow_id=alert["workflow_id"],
                step="contain",
                sender=lifecycle.SENDER,
                payload=result.model_dump(mode="json"),
            ),
        )
    if not open_actions:
        await resolve_if_done(conn, incident_id)
    return planning_open


async def _set_containment(conn: asyncpg.Connection, incident_id: str, alert_id: str, outcome: str) -> None:
    await conn.execute(
        "UPDATE ir_incident_alerts SET containment = $3 WHERE incident_id = $1 AND alert_id = $2",
        incident_id,
        alert_id,
        outcome,
    )


async def _request_cost_impact(
    conn: asyncpg.Connection, incident_id: str, first_seen: datetime, actions: list[asyncpg.Record]
) -> None:
    """Ask financial intelligence for the contained incident's cost impact (replacing an earlier estimate)."""
    version = await conn.fetchval("SELECT version FROM ir_incidents WHERE id = $1", incident_id)
    resource_ids = sorted({a["target"].partition(":")[2] for a in actions if _is_resource(a["target"])})
    request = CostImpactRequest(
        incident_id=incident_id,
        resource_ids=resource_ids,
        window_start=first_seen,
        window_end=lifecycle.utcnow(),
        actions=[
            ResponseActionRecord(
                action_type=a["action_type"],
                target=a["target"],
                status=a["status"],
                started_at=a["started_at"],
                finished_at=a["finished_at"],
                details=dict(a["after_state"] or {}),
            )
            for a in actions
            if not a["dry_run"]
        ],
    )
    await outbox.add_task(
        conn,
        Agent.FINANCIAL_INTELLIGENCE,
        Envelope.new(
            idempotency_key=f"{COST_IMPACT_REQUEST}:{incident_id}:{version}",
            kind=COST_IMPACT_REQUEST,
            sender=lifecycle.SENDER,
            payload=request.model_dump(mode="json"),
        ),
    )


async def resolve_if_done(conn: asyncpg.Connection, incident_id: str) -> bool:
    """Close an incident marked `resolve_when_done` (every alert resolved at its source) once no
    action is still running; True when it closed."""
    row = await conn.fetchrow(
        "SELECT status, resolve_when_done,"
        " (SELECT count(*) FROM ir_actions a WHERE a.incident_id = i.id AND NOT (a.status = ANY($2::text[]))) AS open"
        " FROM ir_incidents i WHERE id = $1",
        incident_id,
        list(TERMINAL),
    )
    if row is None or not row["resolve_when_done"] or row["open"] or row["status"] == "closed":
        return False
    resolution = "resolved at the source: every alert of the incident was resolved, archived or passed"
    await lifecycle.close(conn, incident_id, SYSTEM, resolution, current=row["status"])
    return True


async def maybe_contained(conn: asyncpg.Connection, incident_id: str) -> None:
    """After an action finished: settle the alerts and the incident (see `settle`)."""
    await settle(conn, incident_id)
