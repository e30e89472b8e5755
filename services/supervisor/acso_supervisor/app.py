"""The supervisor's app factory."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from acso_shared.db.registry import agent_migrations
from acso_shared.resources import Agent
from acso_shared.runtime import PING_RESULT, AgentRuntime
from acso_shared.web.app import build_service_app
from acso_supervisor import __version__
from acso_supervisor.agents import AgentDirectory
from acso_supervisor.dlq import DlqConsole
from acso_supervisor.keys import DIRECTORY, DLQ
from acso_supervisor.routes import router
from acso_supervisor.settings import Settings


def create_app(settings: Settings) -> web.Application:
    runtime = AgentRuntime(settings, Agent.SUPERVISOR, __version__, migrations=agent_migrations(Agent.SUPERVISOR))
    directory = AgentDirectory(runtime, ping_timeout_s=settings.ping_timeout_s)
    runtime.consume(runtime.manifest.results_queue.name, {PING_RESULT: directory.handle_ping_result})
    probe: list[asyncio.Task[None]] = []

    async def start_probe(_: AgentRuntime) -> None:
        probe.append(asyncio.create_task(directory.probe_forever(settings.ping_interval_s), name="ping-probe"))

    async def stop_probe(_: AgentRuntime) -> None:
        for task in probe:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    runtime.on_start(start_probe)
    runtime.on_stop(stop_probe)
    app = build_service_app(runtime, [router])
    app[DIRECTORY] = directory
    app[DLQ] = DlqConsole(runtime)
    return app
