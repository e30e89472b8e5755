"""Running and reverting actions. Each run is its own `action.execute` task, so a crash resumes it.

A run holds a PostgreSQL session advisory lock on its action, which the database drops when the
process dies, so two workers never run one action at once and a dead one never blocks it. The
state before the change is persisted before anything is changed; the resumed run then finds the
resource already in the desired state and records it instead of changing it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from acso_incident_response import lifecycle, outbox
from acso_incident_response.actions.base import DirectAction
from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.actions.delegated import DelegatedAction, operation_step
from acso_incident_response.outbox import OutboxPump
from acso_incident_response.planning import SYSTEM, Planner, action_event, dispatch_ready, maybe_contained
from acso_incident_response.policy import check
from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target
from acso_shared.audit.chain import ActorKind, AuditResult
from acso_shared.audit.repository import AuditLog
from acso_shared.aws.sqs import SqsClient
from acso_shared.contracts import OPERATION_REQUEST
from acso_shared.db import Database
from acso_shared.errors import AcsoError, Conflict, NotFound, Unavailable
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime

log = get_logger("acso.incident_response.executor")

_LOCK_CLASS = 0x1C0  # advisory lock namespace of action runs


class Executor:
    def __init__(self, runtime: AgentRuntime, settings: Settings, planner: Planner, pump: OutboxPump) -> None:
        self._runtime = runtime
        self._outbox = pump
        self._settings = settings
        self._planner = planner
        self._audit = AuditLog(runtime.db)
        # Action locks are session advisory locks held for a whole run, while the run itself needs
        # connections too. Taking both from one pool starves it once every slot holds a lock, so the
        # locks have a pool of their own, one connection per concurrent handler.
        self._locks = Database(
            settings.database_url.get_secret_value(), min_size=0, max_size=settings.consumer_concurrency + 2
        )

    async def start(self) -> None:
        await self._locks.connect()

    async def stop(self) -> None:
        await self._locks.close()

    @asynccontextmanager
    async def action_lock(self, action_id: str) -> AsyncIterator[None]:
        """Hold the action for one worker (runs, results, reverts, timeouts); Conflict `action_busy` if taken."""
        async with self._locks.connection() as conn:
            locked = await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", _LOCK_CLASS, action_id)
            if not locked:
                raise Conflict("action_busy", f"action {action_id} is being worked on")
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", _LOCK_CLASS, action_id)

    async def handle(self, envelope: Envelope) -> dict[str, Any]:
        """`action.execute`: run one planned action (or finish a run a crash interrupted)."""
        action_id = str(envelope.payload.get("action_id", ""))
        async with self.action_lock(action_id):
            outcome = await self._run(action_id, envelope)
        self._outbox.wake()
        return {"action_id": action_id, "outcome": outcome}

    async def _run(self, action_id: str, envelope: Envelope) -> str:
        row = await self._runtime.db.fetchrow("SELECT * FROM ir_actions WHERE id = $1", action_id)
        if row is None:
            raise NotFound("action_not_found", f"no action {action_id}")
        if row["status"] not in ("planned", "running"):
            return f"skipped:{row['status']}"
        action = ACTIONS[row["action_type"]]
        target = Target.parse(row["target"], account_id=row["account_id"], user_name=row["target_user"])
        ctx = self._planner.context(action_id, row["incident_id"])
        ctx.reads.share()  # one description of the resource for the guard, `before` and `state`
        # The scope may have changed since planning (a protected tag added): decide again, fail closed.
        decision = await check(ctx, target, actions_in_incident=0)
        if not decision.allowed:
            await self.finish(row, "blocked", reason=f"{decision.code}: {decision.reason}")
            return "blocked"
        if not await self._start(row, envelope):
            return "deferred"
        params = dict(row["params"])
        try:
            before = row["before_state"]
            if before is None:
                before = await action.current(ctx, target, params)
                await self._runtime.db.execute(
                    "UPDATE ir_actions SET before_state = $2 WHERE id = $1", action_id, before
                )
            if row["dry_run"]:
                # The preview: what applying would change, setting by setting, read from the live state.
                would = {"dry_run": True, "would": action.describe(target, params)}
                changes = action.preview(before, params)
                await self.finish(
                    row, "succeeded", before=before, after={**would, **({"changes": changes} if changes else {})}
                )
                return "dry_run"
            if isinstance(action, DelegatedAction):
                return await self._delegate(row, action, target, params)
            if not isinstance(action, DirectAction):
                raise TypeError(f"{action.name} is neither a direct nor a delegated action")
            state = await action.current(ctx, target, params)
            if not action.done(state, params):
                async with ctx.reads.changing():
                    await action.apply(ctx, target, params, state)
                state = await action.current(ctx, target, params)
                if not action.done(state, params):
                    await self.finish(row, "failed", before=before, after=state, error="the change did not take effect")
                    return "failed"
            await self.finish(row, "succeeded", before=before, after=state)
            return "succeeded"
        except Unavailable:
            # Throttled or unreachable: the task is retried by the consumer.
            raise
        except AcsoError as err:
            await self.finish(row, "failed", error=f"{err.code}: {err.message}")
            return "failed"

    async def _start(self, row: asyncpg.Record, envelope: Envelope) -> bool:
        """Mark the action running, within the account's rate limit; otherwise retry it later."""
        account = row["account_id"] or ""
        async with self._runtime.db.transaction() as conn:
            if row["started_at"] is None:
                await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS + 1, account)
                recent = await conn.fetchval(
                    "SELECT count(*) FROM ir_actions WHERE account_id = $1"
                    " AND started_at > clock_timestamp() - interval '60 seconds'",
                    account,
                )
                if recent >= self._settings.account_rate_limit_per_minute:
                    deferrals = await conn.fetchval(
                        "UPDATE ir_actions SET attempts = attempts + 1 WHERE id = $1 RETURNING attempts", row["id"]
                    )
                    await lifecycle.timeline(
                        conn,
                        row["incident_id"],
                        "action_deferred",
                        SYSTEM,
                        f"{row['action_type']} on {row['target']} deferred: account {account} is at its rate limit",
                        {"action_id": row["id"]},
                    )
                    await self._send_later(envelope, deferrals)
                    return False
            await conn.execute(
                "UPDATE ir_actions SET status = 'running', started_at = COALESCE(started_at, clock_timestamp()),"
                " attempts = attempts + 1 WHERE id = $1",
                row["id"],
            )
        return True

    async def _delegate(
        self, row: asyncpg.Record, action: DelegatedAction, target: Target, params: dict[str, Any]
    ) -> str:
        """Ask service orchestration for the operation, once; the action stays running until a final result.

        The request goes through the outbox in the same transaction that records it on the action, so
        a crash loses neither, and a redelivered `action.execute` finds it recorded and asks nothing.
        """
        action_id, incident_id = row["id"], row["incident_id"]
        request = action.operation_request(target, params, incident_id)
        async with self._runtime.db.transaction() as conn:
            current = await conn.fetchrow(
                "SELECT status, after_state FROM ir_actions WHERE id = $1 FOR UPDATE", action_id
            )
            if current["status"] != "running":
                return f"skipped:{current['status']}"
            if (current["after_state"] or {}).get("delegated_to"):
                return "delegated"
            workflow_id = await conn.fetchval("SELECT workflow_id FROM ir_incidents WHERE id = $1", incident_id)
            envelope = Envelope(
                idempotency_key=f"{OPERATION_REQUEST}:{action_id}",
                kind=OPERATION_REQUEST,
                workflow_id=workflow_id,
                step=operation_step(action_id),
                sender=lifecycle.SENDER,
                payload=request.model_dump(mode="json"),
            )
            await outbox.add_task(conn, Agent.SERVICE_ORCHESTRATION, envelope)
            after = {
                "delegated_to": Agent.SERVICE_ORCHESTRATION.value,
                "operation": request.operation,
                "request_key": envelope.idempotency_key,
                "status": "requested",
            }
            await conn.execute("UPDATE ir_actions SET after_state = $2 WHERE id = $1", action_id, after)
            await lifecycle.timeline(
                conn,
                incident_id,
                "action_delegated",
                SYSTEM,
                f"requested from service orchestration: {action.describe(target, params)}",
                {"action_id": action_id, "operation": request.operation, "request_key": envelope.idempotency_key},
            )
        return "delegated"

    async def _send_later(self, envelope: Envelope, deferrals: int) -> None:
        """The same task again after `rate_limit_retry_s` (SQS DelaySeconds)."""
        later = envelope.model_copy(update={"idempotency_key": f"{envelope.idempotency_key}:deferred:{deferrals}"})
        sqs = await self._runtime.clients.client("sqs")
        url = await SqsClient(self._runtime.clients).queue_url(self._runtime.task_queue)
        await sqs.send_message(
            QueueUrl=url, MessageBody=later.to_body(), DelaySeconds=self._settings.rate_limit_retry_s
        )

    async def finish(
        self,
        row: asyncpg.Record,
        status: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        error: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Record a final status (succeeded, failed, blocked, rejected), then release the steps after it."""
        action_id, incident_id = row["id"], row["incident_id"]
        # Audited before the status is committed: a crash in between re-runs this, and the key dedupes it.
        await self._audit.record(
            f"action.{row['action_type']}",
            target=row["target"],
            result={"succeeded": AuditResult.SUCCESS, "failed": AuditResult.FAILURE}.get(status, AuditResult.DENIED),
            details={
                "incident_id": incident_id,
                "action_id": action_id,
                "status": status,
                "dry_run": row["dry_run"],
                "before": before,
                "after": after,
                "error": error,
                "reason": reason,
            },
            idempotency_key=f"ir-action:{action_id}:{status}",
        )
        async with self._runtime.db.transaction() as conn:
            await conn.execute(
                "UPDATE ir_actions SET status = $2, before_state = COALESCE($3, before_state), after_state = $4,"
                " error = $5, reason = COALESCE($6, reason), finished_at = clock_timestamp() WHERE id = $1",
                action_id,
                status,
                before,
                after,
                error,
                reason,
            )
            summary = {
                "succeeded": f"done: {row['action_type']} on {row['target']}",
                "failed": f"failed: {row['action_type']} on {row['target']}: {error}",
                "blocked": f"not done: {row['action_type']} on {row['target']} ({reason})",
                "rejected": f"not done: {row['action_type']} on {row['target']} was rejected ({reason})",
            }[status]
            await lifecycle.timeline(
                conn,
                incident_id,
                f"action_{status}",
                SYSTEM,
                summary,
                {"action_id": action_id, "before": before, "after": after, "dry_run": row["dry_run"]},
            )
            await action_event(conn, action_id, status)
            await dispatch_ready(conn, incident_id)
            await maybe_contained(conn, incident_id)

    async def revert(self, incident_id: str, action_id: str, actor: str) -> None:
        """Restore the state an action found; only a succeeded, real, revertible action can be reverted."""
        async with self.action_lock(action_id):
            row = await self._runtime.db.fetchrow(
                "SELECT * FROM ir_actions WHERE id = $1 AND incident_id = $2", action_id, incident_id
            )
            if row is None:
                raise NotFound("action_not_found", f"incident {incident_id} has no action {action_id}")
            action = ACTIONS[row["action_type"]]
            if row["status"] != "succeeded":
                raise Conflict("action_not_revertible", f"the action is {row['status']}, not succeeded")
            if row["dry_run"] or not action.revertible:
                raise Conflict("action_not_revertible", f"{row['action_type']} cannot be reverted")
            target = Target.parse(row["target"], account_id=row["account_id"], user_name=row["target_user"])
            ctx = self._planner.context(action_id, incident_id)
            decision = await check(ctx, target, actions_in_incident=0)
            if not decision.allowed:
                raise Conflict("action_blocked", decision.reason)
            async with ctx.reads.changing():
                await action.revert(ctx, target, row["before_state"])
            restored = await action.current(ctx, target, dict(row["params"]))
            await self._audit.record(
                f"action.{row['action_type']}.revert",
                target=row["target"],
                details={
                    "incident_id": incident_id,
                    "action_id": action_id,
                    "before": row["after_state"],
                    "after": restored,
                },
                actor=actor,
                actor_kind=ActorKind.USER,
                idempotency_key=f"ir-action:{action_id}:reverted",
            )
            async with self._runtime.db.transaction() as conn:
                await conn.execute(
                    "UPDATE ir_actions SET status = 'reverted', reverted_at = clock_timestamp(), reverted_by = $2,"
                    " after_state = $3 WHERE id = $1",
                    action_id,
                    actor,
                    restored,
                )
                await lifecycle.timeline(
                    conn,
                    incident_id,
                    "action_reverted",
                    actor,
                    f"reverted: {row['action_type']} on {row['target']}",
                    {"action_id": action_id, "before": row["after_state"], "after": restored},
                )
                await action_event(conn, action_id, "reverted")
        self._outbox.wake()
