"""Restarts keep what the user had; a killed launcher leaves nothing in the way; the demo works as written.

One data directory, started again and again by the real launcher (`acso run`, what `make run`
runs) on the same ports, as a user would from one checkout. Each spec starts from whatever the
one before left running, so the module starts as few systems as the specs need.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.local.processes import free_port, pid_alive
from acso_shared.resources import Agent
from acso_shared.settings import AcsoSettings
from tests.e2e.flow_support import Api, run_instance
from tests.e2e.reliability.conftest import reliability_env
from tests.support.ids import unique_finding_id, unique_public_ip
from tests.support.stack import RunningSystem, make_work_dir, remove_work_dir, start_system, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


class Launches:
    """Start, stop (Ctrl-C) and kill (SIGKILL) the launcher of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.ports = {
            "ACSO_EMULATOR_PORT": str(free_port()),
            "ACSO_POSTGRES_PORT": str(free_port()),
            "ACSO_BASE_PORT": str(free_port(len(Agent))),
        }
        self.system: RunningSystem | None = None
        self._run: Iterator[RunningSystem] | None = None

    def start(self, **env: str) -> RunningSystem:
        assert self.system is None, "stop or kill the running launcher first"
        self._run = start_system(self.data_dir, {**reliability_env(), **self.ports, **env})
        self.system = next(self._run)
        return self.system

    def running(self) -> RunningSystem:
        return self.system or self.start()

    def stop(self) -> None:
        """What Ctrl-C in the terminal does."""
        assert self.system is not None
        self.system.process.send_signal(signal.SIGINT)
        self.system.process.wait(timeout=120)
        self._close()

    def kill(self) -> None:
        assert self.system is not None
        self.system.process.kill()
        self.system.process.wait(timeout=10)
        self._close()

    def _close(self) -> None:
        assert self._run is not None
        self._run.close()
        self._run, self.system = None, None

    def stack_json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.data_dir / "run" / "stack.json").read_text())
        return data


@pytest.fixture(scope="module")
def launches() -> Iterator[Launches]:
    work_dir = make_work_dir("acso-restarts-")
    launches = Launches(work_dir)
    try:
        yield launches
    finally:
        if launches.system is not None:
            launches.stop()
        remove_work_dir(work_dir)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def emulator(system: RunningSystem) -> AwsClientFactory:
    return AwsClientFactory(AcsoSettings(aws_endpoint_url=system.emulator_url))


async def instance_exists(system: RunningSystem, instance_id: str) -> str:
    """The instance's state in the emulator (raises when the emulator does not know it)."""
    aws = emulator(system)
    try:
        ec2 = await aws.client("ec2")
        reservations = (await ec2.describe_instances(InstanceIds=[instance_id]))["Reservations"]
        return str(reservations[0]["Instances"][0]["State"]["Name"])
    finally:
        await aws.aclose()


async def open_incident_on_new_instance(system: RunningSystem, http: aiohttp.ClientSession) -> tuple[str, str]:
    """An instance in the emulator, and an incident (in the database) that names it."""
    aws = emulator(system)
    try:
        instance_id = await run_instance(aws, {"Name": "restart-spec"})
    finally:
        await aws.aclose()
    alert = {
        "schema": "acso.alert/v1",
        "source": "generic",
        "id": unique_finding_id(),
        "title": f"Outbound SSH brute force from {instance_id}",
        "type": "network.ssh_bruteforce.outbound",
        "severity": "high",
        "occurred_at": "2026-11-20T15:02:44Z",
        "account_id": "123456789012",
        "region": "us-east-1",
        "resources": [{"type": "ec2_instance", "id": instance_id}],
        "observables": [{"type": "ip", "value": unique_public_ip()}],
    }
    result = await Api(system, http).send_alert(alert)
    incident_id = str(result["incident_id"])

    async def recorded() -> bool:
        return await Api(system, http).incident(incident_id) is not None

    await wait_until(recorded, timeout_s=60, interval_s=0.5)
    return instance_id, incident_id


async def me(system: RunningSystem, http: aiohttp.ClientSession, token: str) -> tuple[int, Any]:
    url = f"{system.url('supervisor')}/v1/me"
    async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
        return response.status, await response.json(content_type=None)


def run_demo(system: RunningSystem) -> dict[str, Any]:
    env = {**os.environ, "ACSO_DATA_DIR": str(system.data_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "acso_shared.cli", "demo", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout)
    return report


async def test_the_demo_seeds_what_the_fixtures_name_and_the_walkthrough_runs_to_a_stopped_miner(
    launches: Launches, http: aiohttp.ClientSession
) -> None:
    system = launches.running()

    report = await asyncio.to_thread(run_demo, system)

    # Every instance the fixtures name stands for one that exists in the emulator.
    miner = report["ids"]["i-0fedcba9876543210"]
    web = report["ids"]["i-0123456789abcdef0"]
    assert await instance_exists(system, miner) == "running"
    assert await instance_exists(system, web) == "running"
    outcomes = {a["file"]: a["outcome"] for a in report["alerts"]}
    assert outcomes["guardduty_bitcoin_tool_dns.json"] == "new_incident"
    approval = report["approval"]
    assert approval is not None, report
    assert approval["action_type"] == "ec2.stop"
    assert approval["target"].endswith(miner)

    api = Api(system, http)
    path = f"/v1/approvals/{approval['id']}"
    status, body = await api.call("POST", "incident_response", path, body={"decision": "approve"})
    assert status == 200, body
    incident = await api.wait_incident(
        approval["incident_id"],
        lambda i: any(a["id"] == approval["action_id"] and a["status"] == "succeeded" for a in i["actions"]),
    )
    assert incident["title"].endswith(f"{miner}.")  # the alert was sent with the emulated id in its text too

    async def stopped() -> bool:
        return await instance_exists(system, miner) in ("stopping", "stopped")

    await wait_until(stopped, timeout_s=30, interval_s=0.5)


async def test_after_a_restart_tokens_users_and_the_resources_incidents_name_are_still_there(
    launches: Launches, http: aiohttp.ClientSession
) -> None:
    system = launches.running()
    token = system.tokens["responder"]
    status, identity = await me(system, http, token)
    assert status == 200
    pool = launches.stack_json()
    instance_id, incident_id = await open_incident_on_new_instance(system, http)

    launches.stop()
    system = launches.start()

    assert "emulator state restored" in system.launcher_output()
    after = launches.stack_json()
    assert (after["user_pool_id"], after["app_client_id"]) == (pool["user_pool_id"], pool["app_client_id"])
    status, identity_after = await me(system, http, token)  # the token issued before the restart
    assert status == 200, identity_after
    assert identity_after["subject"] == identity["subject"]  # the same user, the same `sub`
    assert await instance_exists(system, instance_id) == "running"
    incident = await Api(system, http).incident(incident_id)
    assert incident is not None
    assert instance_id in json.dumps(incident)


async def test_a_killed_launcher_leaves_nothing_in_the_way_and_the_next_start_says_what_it_stopped(
    launches: Launches, http: aiohttp.ClientSession
) -> None:
    system = launches.running()
    token = system.tokens["analyst"]
    children = system.pids()
    state = json.loads((system.data_dir / "run" / "state.json").read_text())
    children["emulator"] = int(state["emulator_pid"])

    launches.kill()  # SIGKILL: no handler runs, as when a terminal's process group is killed
    system = launches.start()

    output = system.launcher_output()
    assert "was killed; stopped what it left running" in output
    assert "postgresql (pid" in output  # a daemon: only the next start can stop it
    assert not [name for name, pid in children.items() if pid_alive(pid)]
    assert "emulator state restored" in output  # the orphaned emulator outlived the agents, then saved
    status, _ = await me(system, http, token)
    assert status == 200


async def test_an_emulator_that_could_not_save_means_a_fresh_start_with_a_reset_database(
    launches: Launches, http: aiohttp.ClientSession
) -> None:
    system = launches.running()
    _, incident_id = await open_incident_on_new_instance(system, http)
    state = json.loads((system.data_dir / "run" / "state.json").read_text())
    # Everything dies at once, as in a crash: the emulator is gone without saving.
    for pid in [int(state["emulator_pid"]), *system.pids().values()]:
        os.kill(pid, signal.SIGKILL)
    launches.kill()

    system = launches.start()

    output = system.launcher_output()
    assert "the emulator starts fresh (no saved emulator state): resetting the database" in output
    assert await Api(system, http).incident(incident_id) is None
    status, body = await Api(system, http).call("GET", "incident_response", "/v1/incidents", role="analyst")
    assert status == 200, body
    assert body["items"] == []


async def test_fresh_starts_from_nothing_a_new_pool_and_an_empty_database(
    launches: Launches, http: aiohttp.ClientSession
) -> None:
    system = launches.running()
    old_token = system.tokens["analyst"]
    old_pool = launches.stack_json()["user_pool_id"]
    await open_incident_on_new_instance(system, http)
    launches.stop()

    system = launches.start(ACSO_FRESH="1")

    assert "FRESH was asked for" in system.launcher_output()
    assert launches.stack_json()["user_pool_id"] != old_pool
    status, body = await me(system, http, old_token)
    assert status == 401, body
    status, body = await Api(system, http).call("GET", "incident_response", "/v1/incidents", role="analyst")
    assert status == 200, body
    assert body["items"] == []
