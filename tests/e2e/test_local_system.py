"""The whole system as `make run` starts it: five agents, authenticated API, the message path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.support.stack import RunningSystem, get_json, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


async def test_all_five_agents_are_listed_healthy(system: RunningSystem) -> None:
    async with aiohttp.ClientSession() as session:

        async def all_healthy() -> dict[str, object] | None:
            status, body = await get_json(
                session, f"{system.url('supervisor')}/v1/agents", headers=system.auth("analyst")
            )
            return body if status == 200 and body["healthy"] == 5 else None

        body = await wait_until(all_healthy, timeout_s=60, interval_s=0.5)
        assert {a["agent"] for a in body["agents"]} == {
            "supervisor",
            "threat_hunter",
            "incident_response",
            "service_orchestration",
            "financial_intelligence",
        }
        assert all(a["queue"]["name"].endswith("-tasks") and a["dlq"]["depth"] == 0 for a in body["agents"])


async def test_the_ping_probe_goes_to_every_agent_and_back(system: RunningSystem) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{system.url('supervisor')}/v1/agents/ping", headers=system.auth("admin")) as response:
            assert response.status == 200
            results = (await response.json())["results"]
        assert sorted(r["agent"] for r in results if r["ok"]) == sorted(r["agent"] for r in results)
        assert len(results) == 5


async def test_the_api_refuses_callers_without_a_token(system: RunningSystem) -> None:
    async with aiohttp.ClientSession() as session:
        for url in system.urls.values():
            status, body = await get_json(session, f"{url}/v1/agents")
            assert status == 401
            assert body["error"]["code"] == "token_missing"


def test_a_second_run_says_the_system_is_already_running(system: RunningSystem) -> None:
    import os

    env = {**os.environ, "ACSO_DATA_DIR": str(system.data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "acso_shared.cli", "run"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "already running" in (result.stdout + result.stderr)


def test_the_launcher_names_the_emulator_account_as_the_one_containment_may_act_in(
    system: RunningSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside ACSO_ENV=local there is no default allow-list: the launcher sets it explicitly."""
    from acso_incident_response.settings import Settings

    pid = system.pids()["incident_response"]
    environ = dict(
        item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0") if "=" in item
    )
    # Read as incident response reads it, outside ACSO_ENV=local where nothing would default it.
    monkeypatch.setenv("ACSO_ALLOWED_ACCOUNT_IDS", environ["ACSO_ALLOWED_ACCOUNT_IDS"])
    assert Settings(env="staging").allowed_account_ids == ("123456789012",)
