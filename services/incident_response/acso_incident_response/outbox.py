"""The transactional outbox: notifications and tasks are written with the change that causes them.

Rows are inserted in the same transaction as the incident change, so a crash after commit cannot
lose them, and `flush` sends them at least once. Each row's `dedupe_key` is also the message's
idempotency key (or the event's identity), so a re-send is a no-op for the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

import asyncpg

from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime

log = get_logger("acso.incident_response.outbox")

OutboxKind = Literal["event", "sns", "result", "task"]
ALL_KINDS: tuple[OutboxKind, ...] = ("task", "result", "event", "sns")
# Two lanes: tasks and results drive the workflow and must not wait behind a slow or failing
# notification destination (an EventBridge or SNS outage retries for seconds per call).
LANES: tuple[tuple[OutboxKind, ...], ...] = (("task", "result"), ("event", "sns"))
_BATCH = 50
_RETRY_BASE_S = 1.0
_RETRY_MAX_S = 300.0


async def add(conn: asyncpg.Connection, dedupe_key: str, kind: OutboxKind, payload: dict[str, Any]) -> None:
    """Queue one message; a second add with the same key is ignored."""
    await conn.execute(
        "INSERT INTO ir_outbox (dedupe_key, kind, payload) VALUES ($1, $2, $3) ON CONFLICT (dedupe_key) DO NOTHING",
        dedupe_key,
        kind,
        payload,
    )


async def add_task(conn: asyncpg.Connection, agent: Agent, envelope: Envelope) -> None:
    payload = {"agent": agent.value, "envelope": envelope.model_dump(mode="json")}
    await add(conn, envelope.idempotency_key, "task", payload)


async def add_result(conn: asyncpg.Connection, envelope: Envelope) -> None:
    await add(conn, envelope.idempotency_key, "result", {"envelope": envelope.model_dump(mode="json")})


async def flush(runtime: AgentRuntime, kinds: tuple[OutboxKind, ...] = ALL_KINDS) -> int:
    """Send what is due, oldest first; rows locked by another flusher are skipped.

    A row that fails is retried later with backoff (the sweeper calls this periodically) and
    never holds up the rows behind it: one broken destination must not stop the others.
    """
    sent = 0
    while True:
        async with runtime.db.transaction() as conn:
            rows = await conn.fetch(
                "SELECT id, kind, payload, attempts FROM ir_outbox WHERE sent_at IS NULL AND kind = ANY($2::text[])"
                " AND next_attempt_at <= clock_timestamp() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                _BATCH,
                list(kinds),
            )
            for row in rows:
                try:
                    await _send(runtime, row["kind"], row["payload"])
                except Exception as err:
                    delay = min(_RETRY_BASE_S * 2 ** row["attempts"], _RETRY_MAX_S)
                    log.warning("outbox_send_failed", outbox_id=row["id"], kind=row["kind"], error=str(err))
                    await conn.execute(
                        "UPDATE ir_outbox SET attempts = attempts + 1, last_error = $2,"
                        " next_attempt_at = clock_timestamp() + make_interval(secs => $3) WHERE id = $1",
                        row["id"],
                        str(err)[:1000],
                        delay,
                    )
                    continue
                await conn.execute("UPDATE ir_outbox SET sent_at = clock_timestamp() WHERE id = $1", row["id"])
                sent += 1
        if len(rows) < _BATCH:
            return sent


async def _send(runtime: AgentRuntime, kind: str, payload: dict[str, Any]) -> None:
    if kind == "event":
        await runtime.events.put(payload["detail_type"], payload["detail"], resources=payload.get("resources"))
    elif kind == "sns":
        await runtime.notifications.publish(payload["subject"], payload["message"], attributes=payload["attributes"])
    elif kind == "result":
        await runtime.send_result(Envelope.model_validate(payload["envelope"]))
    else:
        await runtime.send_task(Agent(payload["agent"]), Envelope.model_validate(payload["envelope"]))


class OutboxPump:
    """Sends the outbox in the background: at once when woken after a commit, else every `interval_s`."""

    def __init__(self, runtime: AgentRuntime, interval_s: float) -> None:
        self._runtime = runtime
        self._interval_s = interval_s
        self._wakers = [asyncio.Event() for _ in LANES]
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """Something was committed to the outbox: send it now."""
        for waker in self._wakers:
            waker.set()

    def start(self) -> None:
        for lane, waker in zip(LANES, self._wakers, strict=True):
            self._tasks.append(asyncio.create_task(self._pump(lane, waker), name=f"outbox:{'+'.join(lane)}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _pump(self, lane: tuple[OutboxKind, ...], waker: asyncio.Event) -> None:
        while True:
            waker.clear()
            try:
                await flush(self._runtime, lane)
            except Exception:
                log.exception("outbox_flush_failed", lane=list(lane))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waker.wait(), timeout=self._interval_s)
