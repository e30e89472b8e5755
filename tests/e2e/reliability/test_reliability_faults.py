"""Faults during load: every alert reaches a terminal state, nothing is duplicated, nothing is lost.

"Terminal" means: the incident's one workflow is completed or failed and incident response has
the incident. "Not duplicated": each threat of the load is exactly one incident with one workflow,
and no containment action (type, target) appears twice in an incident.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from acso_shared.aws.sqs import SqsClient
from acso_shared.contracts import INCIDENT_EXTERNAL_UPDATE, IncidentExternalUpdate
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.settings import AcsoSettings
from tests.e2e.reliability.conftest import load_target
from tests.support.faults import (
    AGENTS,
    emulator_paused,
    hold,
    kill_service,
    postgres_down,
    readiness,
    wait_healthy,
)
from tests.support.load import LoadProfile, LoadReport, LoadRun, emulator_clients, run_load
from tests.support.stack import RunningSystem, get_json, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture(scope="module", autouse=True)
async def prepared(fault_system: RunningSystem) -> None:
    await wait_healthy(fault_system)


def assert_nothing_lost(report: LoadReport) -> None:
    problems = report.problems()
    assert problems == [], f"{len(problems)} problems, first: {problems[:5]}; summary: {report.summary()}"
    assert report.settled_at is not None, report.summary()


async def test_a_poison_task_ends_in_the_dlq_is_listed_and_its_replay_succeeds_once_the_cause_is_fixed(
    fault_system: RunningSystem,
) -> None:
    # Given an incident the supervisor knows but incident response does not yet (triage is held
    # back by freezing the threat hunter), a ticket-side comment for it cannot be applied: it fails
    # on every receive.
    supervisor, responder = fault_system.url("supervisor"), fault_system.url("incident_response")
    headers = fault_system.auth("admin")
    hunter_pid = fault_system.pids()["threat_hunter"]
    settings = AcsoSettings()
    clients = emulator_clients(fault_system.emulator_url)
    os.kill(hunter_pid, signal.SIGSTOP)
    try:
        async with aiohttp.ClientSession() as session:
            alert = _poison_alert()
            async with session.post(f"{supervisor}/v1/alerts", json=alert, headers=headers) as response:
                assert response.status == 202
                incident_id = (await response.json())["incidents"][0]
            comment = f"ticket-side note {uuid.uuid4().hex[:8]}"
            update = IncidentExternalUpdate(
                incident_id=incident_id,
                system="servicenow",
                external_id="INC0012345",
                comment=comment,
                actor="it.desk",
                occurred_at=datetime.now(UTC),
            )
            poison = Envelope.new(
                kind=INCIDENT_EXTERNAL_UPDATE, sender="service_orchestration", payload=update.model_dump(mode="json")
            )
            await SqsClient(clients).send(
                settings.manifest.task_queues[Agent.INCIDENT_RESPONSE].name,
                poison.to_body(),
                attributes=poison.message_attributes(),
            )

            # When it has been received 5 times (retried after 1, 2, 4, 8 s), it is in the DLQ.
            async def listed() -> dict[str, Any] | None:
                _, body = await get_json(session, f"{supervisor}/v1/dlq", headers=headers)
                dlq = next(d for d in body["dlqs"] if d["agent"] == "incident_response")
                return next((m for m in dlq["messages"] if m["idempotency_key"] == poison.idempotency_key), None)

            entry = await wait_until(listed, timeout_s=45, interval_s=1.0)
            assert entry["kind"] == INCIDENT_EXTERNAL_UPDATE
            assert entry["receive_count"] >= 5

            # Then once the cause is gone (triage runs, incident response opens the incident) ...
            os.kill(hunter_pid, signal.SIGCONT)

            async def opened() -> bool:
                status, _ = await get_json(session, f"{responder}/v1/incidents/{incident_id}", headers=headers)
                return status == 200

            await wait_until(opened, timeout_s=40, interval_s=0.5)

            # ... a replay succeeds: the DLQ empties and the comment is on the incident.
            async with session.post(
                f"{supervisor}/v1/dlq/incident_response/replay", json={"max_messages": 10}, headers=headers
            ) as response:
                assert response.status == 200
                assert (await response.json())["replayed"] >= 1

            async def applied() -> bool:
                _, incident = await get_json(session, f"{responder}/v1/incidents/{incident_id}", headers=headers)
                return any(c["text"] == comment for c in incident["comments"])

            await wait_until(applied, timeout_s=30, interval_s=0.5)
            assert await listed() is None
    finally:
        os.kill(hunter_pid, signal.SIGCONT)
        await clients.aclose()
    await wait_healthy(fault_system)


# Every workflow now waits for its alert's containment: on two loaded cores (the whole suite running
# beside it) that takes up to about 95 s after five restarts, so the settle bound is 150 s.
@pytest.mark.timeout(300)
async def test_kill_9_of_each_service_in_turn_during_load_loses_and_duplicates_nothing(
    fault_system: RunningSystem,
) -> None:
    killed: dict[str, tuple[int, int]] = {}

    async def kill_each(_: LoadRun) -> None:
        for agent in AGENTS:
            await hold(1.5)
            old = fault_system.pids()[agent]
            killed[agent] = (old, await kill_service(fault_system, agent))

    report = await run_load(
        load_target(fault_system),
        LoadProfile(alerts=300, send_timeout_s=60, settle_timeout_s=150),
        emulator_url=fault_system.emulator_url,
        during=kill_each,
    )

    assert sorted(killed) == sorted(AGENTS)
    assert all(old != new for old, new in killed.values())
    assert_nothing_lost(report)
    await wait_healthy(fault_system)


async def test_a_postgresql_restart_during_load_turns_services_not_ready_and_they_recover(
    fault_system: RunningSystem,
) -> None:
    seen_not_ready: dict[str, int] = {}

    async def restart_postgres(_: LoadRun) -> None:
        await hold(1.0)
        async with postgres_down(fault_system), aiohttp.ClientSession() as session:

            async def all_not_ready() -> bool:
                seen_not_ready.update({a: s for a, s in (await readiness(fault_system, session)).items() if s != 200})
                return len(seen_not_ready) == len(AGENTS)

            await wait_until(all_not_ready, timeout_s=20, interval_s=0.3)
            await hold(3.0)

    report = await run_load(
        load_target(fault_system),
        LoadProfile(alerts=150, send_timeout_s=60, settle_timeout_s=60),
        emulator_url=fault_system.emulator_url,
        during=restart_postgres,
    )

    assert set(seen_not_ready.values()) == {503}
    assert_nothing_lost(report)
    await wait_healthy(fault_system)


async def test_an_unreachable_emulator_during_load_turns_services_not_ready_and_they_recover(
    fault_system: RunningSystem,
) -> None:
    seen_not_ready: dict[str, int] = {}

    async def freeze_emulator(_: LoadRun) -> None:
        await hold(1.0)
        async with emulator_paused(fault_system), aiohttp.ClientSession() as session:

            async def all_not_ready() -> bool:
                seen_not_ready.update({a: s for a, s in (await readiness(fault_system, session)).items() if s != 200})
                return len(seen_not_ready) == len(AGENTS)

            await wait_until(all_not_ready, timeout_s=20, interval_s=0.3)
            await hold(3.0)

    report = await run_load(
        load_target(fault_system),
        LoadProfile(alerts=150, send_timeout_s=60, settle_timeout_s=60),
        emulator_url=fault_system.emulator_url,
        during=freeze_emulator,
    )

    assert set(seen_not_ready.values()) == {503}
    assert_nothing_lost(report)
    await wait_healthy(fault_system)


async def test_a_slow_consumer_lets_its_backlog_grow_reported_by_the_supervisor_and_drain_without_loss(
    fault_system: RunningSystem,
) -> None:
    hunter_backlog: list[float] = []

    async def slow_threat_hunter(run: LoadRun) -> None:
        # The threat hunter runs 20% of the time (SIGSTOP/SIGCONT duty cycle) while alerts arrive.
        pid = fault_system.pids()["threat_hunter"]
        try:
            for _ in range(12):
                os.kill(pid, signal.SIGSTOP)
                await asyncio.sleep(0.8)
                os.kill(pid, signal.SIGCONT)
                await asyncio.sleep(0.2)
        finally:
            os.kill(pid, signal.SIGCONT)
        hunter_backlog.extend(s.values.get("threat_hunter", 0.0) for s in run.report.queue_samples)

    report = await run_load(
        load_target(fault_system),
        LoadProfile(alerts=150, new_fraction=0.4, send_timeout_s=60, settle_timeout_s=75),
        emulator_url=fault_system.emulator_url,
        during=slow_threat_hunter,
    )

    assert max(hunter_backlog) >= 20, f"the backlog never built up: {hunter_backlog}"
    assert_nothing_lost(report)
    listing = await wait_healthy(fault_system)
    hunter = next(a for a in listing["agents"] if a["agent"] == "threat_hunter")
    assert hunter["queue"]["depth"] == 0


def _poison_alert() -> dict[str, Any]:
    instance = f"i-{uuid.uuid4().hex[:17]}"
    return {
        "schema": "acso.alert/v1",
        "source": "generic",
        "id": f"poison-{uuid.uuid4()}",
        "title": f"Outbound SSH brute force from {instance}",
        "type": "network.ssh_bruteforce.outbound",
        "severity": "medium",
        "occurred_at": "2026-11-20T15:02:44Z",
        "first_seen": "2026-11-20T14:57:40Z",
        "last_seen": "2026-11-20T15:02:44Z",
        "account_id": "123456789012",
        "region": "us-east-1",
        "resources": [{"type": "ec2_instance", "id": instance}],
    }
