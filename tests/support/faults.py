"""Faults injected into a running local system (tests/support/stack.RunningSystem), each bounded in time.

- `kill_service`: `kill -9` of one agent process; the launcher restarts it, as ECS would.
- `postgres_down`: stop the embedded PostgreSQL for a while, then start it again on the same data
  directory and port (what an RDS reboot or fail-over looks like to the services).
- `emulator_paused`: SIGSTOP the AWS emulator for a while, then SIGCONT. moto keeps its state in
  memory, so restarting it would wipe every queue, table and bucket: a fault AWS itself never
  has (SQS does not forget messages). What AWS does have is the endpoint being unreachable or
  hanging for a while; a stopped process is exactly that (connections open, no answers).
- `wait_healthy`, `readiness`: what the tests wait on and assert.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlparse

import aiohttp

from acso_shared.local.postgres import EmbeddedPostgres
from acso_shared.resources import Agent
from tests.support.stack import RunningSystem, wait_until

AGENTS = [agent.value for agent in Agent]


def _state(system: RunningSystem) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((system.data_dir / "run" / "state.json").read_text())
    return data


async def kill_service(system: RunningSystem, agent: str, *, restart_timeout_s: float = 30.0) -> int:
    """`kill -9` the agent and wait until the launcher has started a new process; return its pid."""
    old = system.pids()[agent]
    os.kill(old, signal.SIGKILL)

    def restarted() -> int | None:
        new = system.pids().get(agent)
        return new if new and new != old else None

    new_pid: int = await wait_until(restarted, timeout_s=restart_timeout_s, interval_s=0.2)
    return new_pid


async def readiness(system: RunningSystem, session: aiohttp.ClientSession) -> dict[str, int]:
    """Each agent's `/readyz` status code (0 when it does not answer)."""

    async def one(agent: str) -> tuple[str, int]:
        try:
            async with session.get(f"{system.url(agent)}/readyz", timeout=aiohttp.ClientTimeout(total=5)) as response:
                return agent, response.status
        except (aiohttp.ClientError, TimeoutError):
            return agent, 0

    return dict(await asyncio.gather(*(one(agent) for agent in AGENTS)))


async def wait_healthy(system: RunningSystem, *, timeout_s: float = 60.0) -> dict[str, Any]:
    """Until every agent is ready and `GET /v1/agents` lists all five healthy; return that listing."""
    async with aiohttp.ClientSession() as session:

        async def all_healthy() -> dict[str, Any] | None:
            if set((await readiness(system, session)).values()) != {200}:
                return None
            try:
                async with session.get(
                    f"{system.url('supervisor')}/v1/agents", headers=system.auth("analyst")
                ) as response:
                    body: dict[str, Any] = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError):
                return None
            return body if response.status == 200 and body.get("healthy") == len(AGENTS) else None

        listing: dict[str, Any] = await wait_until(all_healthy, timeout_s=timeout_s, interval_s=0.5)
        return listing


def embedded_postgres(system: RunningSystem) -> EmbeddedPostgres:
    """The launcher's PostgreSQL, by its data directory and port (from the system's database URL)."""
    port = urlparse(system.database_url).port
    if port is None:
        raise ValueError(f"no port in {system.database_url}")
    return EmbeddedPostgres(system.data_dir / "postgres", port)


@contextlib.asynccontextmanager
async def postgres_down(system: RunningSystem) -> AsyncIterator[None]:
    """PostgreSQL is stopped inside the block and started again (same data, same port) on leaving it."""
    postgres = embedded_postgres(system)
    await asyncio.to_thread(postgres.stop)
    try:
        yield
    finally:
        await asyncio.to_thread(postgres.start)


@contextlib.asynccontextmanager
async def emulator_paused(system: RunningSystem) -> AsyncIterator[int]:
    """The emulator process is frozen (SIGSTOP) inside the block and resumed (SIGCONT) on leaving it."""
    pid = int(_state(system)["emulator_pid"])
    os.kill(pid, signal.SIGSTOP)
    try:
        yield pid
    finally:
        os.kill(pid, signal.SIGCONT)


async def hold(seconds: float) -> None:
    """Keep a fault in place for `seconds` (the fault's duration is the point, not a wait for a condition)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await asyncio.sleep(min(left, 0.5))
