"""Following delegated actions: `operation.result` replies from service orchestration, and their timeout.

Each result is applied under the action's run lock: progress (pending approval, approved, running)
is recorded on the action, a final status finishes it through the executor, which also releases
the steps after it. Results for an action that is no longer running (late, duplicated, or after a
timeout) change nothing, so the handler is idempotent however often a result arrives.

A delegated action must never hold back its playbook for ever (orchestration down, approval never
given): the sweeper fails one with `operation_timeout` once it has run `delegated_action_timeout_s`.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from pydantic import ValidationError

from acso_incident_response import lifecycle
from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.actions.delegated import (
    ResultMeaning,
    action_id_of_step,
    advances,
    delegated_action_types,
    interpret,
)
from acso_incident_response.executor import Executor
from acso_incident_response.outbox import OutboxPump
from acso_incident_response.planning import SYSTEM
from acso_incident_response.settings import Settings
from acso_shared.contracts import OperationResult
from acso_shared.errors import Conflict, Invalid, NotFound
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.runtime import AgentRuntime
from acso_shared.web.api import validation_message

log = get_logger("acso.incident_response.delegation")

_SWEEP_BATCH = 100


class Delegations:
    """Applies operation results to delegated actions and times out the ones that wait too long."""

    def __init__(self, runtime: AgentRuntime, settings: Settings, executor: Executor, pump: OutboxPump) -> None:
        self._runtime = runtime
        self._settings = settings
        self._executor = executor
        self._outbox = pump
        self._types = delegated_action_types(ACTIONS)

    async def handle_result(self, envelope: Envelope) -> dict[str, Any]:
        """`operation.result`: move the action that asked for the operation along."""
        try:
            result = OperationResult.model_validate(envelope.payload)
        except ValidationError as err:
            raise Invalid("operation_result_invalid", validation_message(err)) from err
        action_id = action_id_of_step(envelope.step)
        if action_id is None:
            raise Invalid("operation_result_unrouted", f"step {envelope.step!r} names no action")
        meaning = interpret(result)
        async with self._executor.action_lock(action_id):
            outcome = await self._apply(action_id, result, meaning)
        self._outbox.wake()
        log.info("operation_result_applied", action_id=action_id, operation_status=result.status, outcome=outcome)
        return {"action_id": action_id, "operation_status": result.status, "outcome": outcome}

    async def _apply(self, action_id: str, result: OperationResult, meaning: ResultMeaning) -> str:
        row = await self._runtime.db.fetchrow("SELECT * FROM ir_actions WHERE id = $1", action_id)
        if row is None:
            raise NotFound("action_not_found", f"no action {action_id}")
        if row["action_type"] not in self._types:
            raise Invalid("action_not_delegated", f"{row['action_type']} is not carried out by another agent")
        if row["status"] != "running":
            # Late or repeated: the action already has its final status.
            return f"ignored:{row['status']}"
        recorded = dict(row["after_state"] or {})
        if meaning.action_status == "running":
            if not advances(recorded.get("status"), meaning.stage):
                return f"ignored:{meaning.stage}"
            await self._progress(row, {**recorded, **_operation_state(result)})
            return meaning.stage
        after = {"operation": recorded.get("operation"), **_operation_state(result)}
        await self._executor.finish(
            row,
            meaning.action_status,
            before=row["before_state"],
            after=after,
            error=meaning.error,
            reason=meaning.reason,
        )
        return meaning.action_status

    async def _progress(self, row: asyncpg.Record, after: dict[str, Any]) -> None:
        async with self._runtime.db.transaction() as conn:
            await conn.execute(
                "UPDATE ir_actions SET after_state = $2 WHERE id = $1 AND status = 'running'", row["id"], after
            )
            if after["status"] == "pending_approval":
                await lifecycle.timeline(
                    conn,
                    row["incident_id"],
                    "action_waiting",
                    SYSTEM,
                    f"{row['action_type']} on {row['target']} waits for an it_operator's approval"
                    f" (operation {after['operation_id']})",
                    {"action_id": row["id"], "operation_id": after["operation_id"]},
                )

    async def expire_overdue(self) -> int:
        """Fail every delegated action running longer than the timeout; returns how many."""
        timeout_s = self._settings.delegated_action_timeout_s
        rows = await self._runtime.db.fetch(
            "SELECT id FROM ir_actions WHERE status = 'running' AND action_type = ANY($1::text[])"
            " AND started_at <= clock_timestamp() - make_interval(secs => $2) ORDER BY started_at LIMIT $3",
            self._types,
            timeout_s,
            _SWEEP_BATCH,
        )
        expired = 0
        for candidate in rows:
            try:
                async with self._executor.action_lock(candidate["id"]):
                    expired += await self._expire(candidate["id"], timeout_s)
            except Conflict as err:
                if err.code != "action_busy":
                    raise
                # A result is being applied right now; the next sweep looks again.
        if expired:
            self._outbox.wake()
        return expired

    async def _expire(self, action_id: str, timeout_s: float) -> int:
        # Read again under the lock: a result may have finished it since the sweep's query.
        row = await self._runtime.db.fetchrow(
            "SELECT * FROM ir_actions WHERE id = $1 AND status = 'running'"
            " AND started_at <= clock_timestamp() - make_interval(secs => $2)",
            action_id,
            timeout_s,
        )
        if row is None:
            return 0
        recorded = dict(row["after_state"] or {})
        operation = recorded.get("operation_id") or "(not created yet)"
        await self._executor.finish(
            row,
            "failed",
            before=row["before_state"],
            after=recorded,
            error=(
                f"operation_timeout: no final result for operation {operation} within {timeout_s:g} s"
                f" (last status {recorded.get('status', 'not requested')})"
            ),
        )
        log.warning("delegated_action_timed_out", action_id=action_id, operation_id=operation)
        return 1


def _operation_state(result: OperationResult) -> dict[str, Any]:
    return {"operation_id": result.operation_id, "status": result.status, "per_instance": dict(result.per_instance)}
