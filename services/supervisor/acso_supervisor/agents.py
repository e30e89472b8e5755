"""The agent directory: heartbeats, queue depths and the ping probe of the message path."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import PING_REQUEST, AgentRuntime
from acso_shared.tracing import trace_id_of
from acso_supervisor.models import AgentList, AgentStatus, PingResult, QueueInfo

log = get_logger("acso.supervisor.agents")


class AgentDirectory:
    def __init__(self, runtime: AgentRuntime, *, ping_timeout_s: float) -> None:
        self._runtime = runtime
        self._ping_timeout_s = ping_timeout_s
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def list_agents(self) -> AgentList:
        registry = {item["agent"]: item for item in await self._runtime.registry.all()}
        statuses = await asyncio.gather(*(self._status(agent, registry.get(agent.value)) for agent in Agent))
        healthy = sum(1 for s in statuses if s.status == "healthy")
        return AgentList(agents=list(statuses), healthy=healthy, total=len(statuses))

    async def _status(self, agent: Agent, item: dict[str, Any] | None) -> AgentStatus:
        spec = self._runtime.manifest.task_queues[agent]
        queue, dlq = await asyncio.gather(self._queue_info(spec.name), self._queue_info(spec.dlq_name))
        if item is None:
            return AgentStatus(agent=agent.value, status="unknown", queue=queue, dlq=dlq)
        age = time.time() - float(item["last_heartbeat"])
        interval = float(item.get("heartbeat_interval_s", 10.0))
        reported = item.get("status", "unknown")
        if reported == "ready":
            status = "healthy" if age <= 3 * interval else "unhealthy"
        elif reported in ("starting", "stopping", "stopped"):
            status = reported
        else:
            status = "unknown"
        return AgentStatus(
            agent=agent.value,
            status=status,
            version=item.get("version"),
            instance_id=item.get("instance_id"),
            url=item.get("url"),
            last_heartbeat=datetime.fromtimestamp(float(item["last_heartbeat"]), UTC),
            heartbeat_age_s=round(age, 3),
            queue=queue,
            dlq=dlq,
            last_ping_at=datetime.fromtimestamp(float(item["last_ping_at"]), UTC) if item.get("last_ping_at") else None,
            last_ping_rtt_ms=item.get("last_ping_rtt_ms"),
            consumed=item.get("consumed"),
            failed=item.get("failed"),
        )

    async def _queue_info(self, name: str) -> QueueInfo | None:
        try:
            depth = await self._runtime.sqs.depth(name)
        except Exception as err:
            log.warning("queue_depth_failed", queue=name, error=str(err))
            return None
        return QueueInfo(name=name, depth=depth.visible + depth.delayed, in_flight=depth.in_flight)

    # -- the ping probe ------------------------------------------------------------------------
    async def ping_all(self) -> list[PingResult]:
        return list(await asyncio.gather(*(self.ping(agent) for agent in Agent)))

    async def ping(self, agent: Agent) -> PingResult:
        sent_at = time.time()
        envelope = Envelope.new(kind=PING_REQUEST, sender=Agent.SUPERVISOR.value, payload={"sent_at": sent_at})
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[envelope.idempotency_key] = future
        try:
            await self._runtime.send_task(agent, envelope)
            answer = await asyncio.wait_for(future, timeout=self._ping_timeout_s)
        except TimeoutError:
            return PingResult(agent=agent.value, ok=False, error=f"no answer within {self._ping_timeout_s:.0f}s")
        except Exception as err:
            return PingResult(agent=agent.value, ok=False, error=str(err))
        finally:
            self._pending.pop(envelope.idempotency_key, None)
        rtt_ms = round((time.time() - sent_at) * 1000, 2)
        with contextlib.suppress(Exception):
            await self._runtime.registry.update(agent.value, {"last_ping_at": time.time(), "last_ping_rtt_ms": rtt_ms})
        return PingResult(
            agent=agent.value,
            ok=True,
            rtt_ms=rtt_ms,
            instance_id=answer.get("instance_id"),
            trace_id=answer.get("trace_id"),
        )

    async def handle_ping_result(self, envelope: Envelope) -> dict[str, Any]:
        """A `ping.result` on the results queue: resolve the waiting probe, if this process sent it."""
        request_key = envelope.idempotency_key.removeprefix("ping.result:")
        future = self._pending.get(request_key)
        payload = dict(envelope.payload)
        payload["result_trace_id"] = trace_id_of(envelope.trace_header)
        if future is not None and not future.done():
            future.set_result(payload)
        elif payload.get("sent_at"):
            # A late or other-process answer still proves the path: record it.
            rtt_ms = round((time.time() - float(payload["sent_at"])) * 1000, 2)
            await self._runtime.registry.update(
                str(payload["agent"]), {"last_ping_at": time.time(), "last_ping_rtt_ms": rtt_ms}
            )
        return {"agent": payload.get("agent")}

    async def probe(self) -> None:
        """One round of pings (the background probe runs it every `ping_interval_s`)."""
        results = await self.ping_all()
        failed = [r.agent for r in results if not r.ok]
        if failed:
            log.warning("ping_failed", agents=failed)
