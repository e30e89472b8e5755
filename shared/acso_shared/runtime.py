"""The agent runtime: what every service process owns besides its routes.

It holds the shared clients (AWS, PostgreSQL), consumes the agent's task queue, answers `ping`
tasks, writes heartbeats to the agent registry, and starts and stops all of it in order. Services
add their own message handlers and start/stop hooks; their web app runs it in a cleanup context.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.aws.dynamodb import AgentRegistry, IdempotencyStore, StateStore
from acso_shared.aws.metrics import publish_calls
from acso_shared.aws.publishers import EventPublisher, SnsPublisher
from acso_shared.aws.s3 import ObjectStore
from acso_shared.aws.sqs import SqsClient
from acso_shared.db import Database, MigrationSet, apply_migrations
from acso_shared.llm import ReasoningLayer, select_provider
from acso_shared.logging import get_logger
from acso_shared.messaging.consumer import ConsumerOptions, Handler, SqsConsumer
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.settings import ServiceSettings
from acso_shared.tracing import trace_id_of

Hook = Callable[["AgentRuntime"], Awaitable[None]]

log = get_logger("acso.runtime")

PING_REQUEST = "ping.request"
PING_RESULT = "ping.result"


class AgentRuntime:
    """Composition root of one agent process."""

    def __init__(
        self,
        settings: ServiceSettings,
        agent: Agent,
        version: str,
        *,
        migrations: list[MigrationSet] | None = None,
    ) -> None:
        self.settings = settings
        self.agent = agent
        self.version = version
        self.instance_id = f"{agent.kebab}-{uuid.uuid4().hex[:8]}"
        self.manifest = settings.manifest
        self.clients = AwsClientFactory(settings, max_pool=max(50, settings.consumer_concurrency * 4))
        self.sqs = SqsClient(self.clients)
        self.idempotency = IdempotencyStore(
            self.clients, self.manifest.table("idempotency").name, ttl_s=settings.idempotency_ttl_s
        )
        self.registry = AgentRegistry(self.clients, self.manifest.table("agent_registry").name)
        self.state = StateStore(self.clients, self.manifest.table("agent_state").name)
        self.db = Database(
            settings.database_url.get_secret_value(),
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
        )
        arn_prefix = f"arn:aws:sns:{settings.aws_region}:{settings.aws_account_id}"
        self.notifications = SnsPublisher(self.clients, f"{arn_prefix}:{self.manifest.notifications_topic}")
        self.events = EventPublisher(self.clients, self.manifest.event_bus)
        self.artifacts = ObjectStore(self.clients, self.manifest.artifacts_bucket)
        self.threat_intel = ObjectStore(self.clients, self.manifest.threat_intel_bucket)
        # The reasoning layer over the deterministic core; `none` (the local default) never calls a model.
        self.reasoning = ReasoningLayer(settings.llm, select_provider(settings.llm))
        self.status = "starting"
        self.started_at = datetime.now(UTC)
        self._migrations = list(migrations or [])
        self._handlers: dict[str, Handler] = {PING_REQUEST: self._handle_ping}
        self._extra_queues: dict[str, dict[str, Handler]] = {}
        self._consumers: list[SqsConsumer] = []
        self._on_start: list[Hook] = []
        self._on_stop: list[Hook] = []
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._background: list[asyncio.Task[None]] = []
        self._url = f"http://{settings.service_host}:{settings.port_for(agent)}"

    # -- composition -----------------------------------------------------------------------
    def add_handlers(self, handlers: dict[str, Handler]) -> None:
        """Handlers for kinds arriving on this agent's task queue."""
        self._handlers.update(handlers)

    def consume(self, queue_name: str, handlers: dict[str, Handler]) -> None:
        """Also consume another queue (the supervisor consumes the results queue)."""
        self._extra_queues.setdefault(queue_name, {}).update(handlers)

    def on_start(self, hook: Hook) -> None:
        self._on_start.append(hook)

    def on_stop(self, hook: Hook) -> None:
        self._on_stop.append(hook)

    def run_in_background(self, name: str, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run `coroutine` as a task of this agent (call from an on_start hook); `stop()` cancels
        and awaits it after the consumers have drained and before the on_stop hooks close what it uses."""
        self._background.append(asyncio.create_task(coroutine, name=name))

    def run_every(self, name: str, interval_s: float, step: Callable[[], Awaitable[object]]) -> None:
        """Run `step` now and then every `interval_s` in the background; a failing step is logged
        and the loop goes on (sweepers, retry loops, schedulers)."""

        async def loop() -> None:
            while True:
                try:
                    await step()
                except Exception:
                    log.exception("background_step_failed", loop=name)
                await asyncio.sleep(interval_s)

        self.run_in_background(name, loop())

    @property
    def task_queue(self) -> str:
        return self.manifest.task_queues[self.agent].name

    @property
    def consumers(self) -> list[SqsConsumer]:
        return list(self._consumers)

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.db.connect()
        if self._migrations:
            applied = await apply_migrations(self.settings.database_url.get_secret_value(), self._migrations)
            if applied:
                log.info("migrations_applied", versions=applied)
        for hook in self._on_start:
            await hook(self)
        options = dict(
            concurrency=self.settings.consumer_concurrency,
            wait_time_s=self.settings.consumer_wait_time_s,
            visibility_timeout_s=self.settings.visibility_timeout_s,
            retry_backoff_base_s=self.settings.retry_backoff_base_s,
            shutdown_grace_s=self.settings.shutdown_grace_s,
            owner=self.instance_id,
        )
        queues = {self.task_queue: self._handlers, **self._extra_queues}
        for queue_name, handlers in queues.items():
            consumer = SqsConsumer(self.sqs, self.idempotency, queue_name, handlers, ConsumerOptions(**options))  # type: ignore[arg-type]
            consumer.start()
            self._consumers.append(consumer)
        self.status = "ready"
        await self._beat()
        self._heartbeat_task = asyncio.create_task(self._heartbeat_forever(), name="heartbeat")
        if self.settings.publishes_aws_call_metrics:
            self.run_in_background("aws-call-metrics", self._publish_calls_forever())
        log.info("agent_started", instance_id=self.instance_id, queue=self.task_queue)

    async def begin_shutdown(self) -> None:
        """Mark the agent as stopping (readiness turns 503) before draining."""
        if self.status != "stopping":
            self.status = "stopping"
            with contextlib.suppress(Exception):
                await self._beat()

    async def stop(self) -> None:
        await self.begin_shutdown()
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
        await asyncio.gather(*(consumer.stop() for consumer in self._consumers))
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        if self.settings.publishes_aws_call_metrics:
            await publish_calls(self.clients, self._calls_namespace, self.agent.value)
        for hook in reversed(self._on_stop):
            try:
                await hook(self)
            except Exception:
                log.exception("stop_hook_failed")
        self.status = "stopped"
        with contextlib.suppress(Exception):
            await self._beat()
        await self.reasoning.provider.aclose()
        await self.db.close()
        await self.clients.aclose()
        log.info("agent_stopped", instance_id=self.instance_id)

    async def readiness(self) -> dict[str, bool]:
        """Each dependency's reachability, for `/readyz`."""

        async def sqs_ok() -> bool:
            try:
                await asyncio.wait_for(self.sqs.depth(self.task_queue), timeout=3)
                return True
            except Exception:
                return False

        database, queue = await asyncio.gather(self.db.ping(), sqs_ok())
        consumers = bool(self._consumers) and all(c.running for c in self._consumers)
        return {"database": database, "task_queue": queue, "consumers": consumers}

    # -- messaging -------------------------------------------------------------------------
    async def send_task(self, agent: Agent, envelope: Envelope) -> str:
        return await self.sqs.send(
            self.manifest.task_queues[agent].name, envelope.to_body(), attributes=envelope.message_attributes()
        )

    async def send_result(self, envelope: Envelope) -> str:
        return await self.sqs.send(
            self.manifest.results_queue.name, envelope.to_body(), attributes=envelope.message_attributes()
        )

    async def _handle_ping(self, envelope: Envelope) -> dict[str, Any]:
        """Answer on the results queue: proves the message path to and from this agent."""
        payload = {
            "agent": self.agent.value,
            "instance_id": self.instance_id,
            "version": self.version,
            "sent_at": envelope.payload.get("sent_at"),
            "received_at": time.time(),
            "trace_id": trace_id_of(envelope.trace_header),
        }
        await self.send_result(envelope.reply(kind=PING_RESULT, sender=self.agent.value, payload=payload))
        return payload

    # -- AWS call metrics ------------------------------------------------------------------
    @property
    def _calls_namespace(self) -> str:
        return f"acso-{self.settings.env}/aws"

    async def _publish_calls_forever(self) -> None:
        """Put the AWS call counts as CloudWatch metrics every interval (batched, best effort)."""
        while True:
            await asyncio.sleep(self.settings.aws_call_metrics_interval_s)
            await publish_calls(self.clients, self._calls_namespace, self.agent.value)

    # -- heartbeat -------------------------------------------------------------------------
    async def _beat(self) -> None:
        await self.registry.heartbeat(
            self.agent.value,
            {
                "status": self.status,
                "version": self.version,
                "instance_id": self.instance_id,
                "url": self._url,
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "started_at": self.started_at.isoformat(),
                "heartbeat_interval_s": self.settings.heartbeat_interval_s,
                "consumed": sum(c.stats.succeeded for c in self._consumers),
                "failed": sum(c.stats.failed for c in self._consumers),
                "in_flight": sum(c.stats.in_flight for c in self._consumers),
            },
        )

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval_s)
            try:
                await self._beat()
            except Exception as err:
                log.warning("heartbeat_failed", error=str(err))
