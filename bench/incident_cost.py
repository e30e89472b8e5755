"""What one new incident and one repeat cost on the running system: AWS calls and CPU (issue 19).

Used by `load_bench.py` before its load, on the same freshly started system:

- `one_incident`: one GuardDuty EC2 finding on its own emulated instance, from the alert to the
  incident contained with its actions settled. AWS calls are read from every service's
  `GET /v1/aws-calls` before and after (the counts of the client factory's botocore hooks), split
  into messaging (SQS, empty long polls apart), state (DynamoDB), actions (EC2) and other
  (EventBridge, SNS, Config); CPU is the sum of the service processes' `cpu_times` over the window.
  The window is wall-clock time: it starts right after a ping probe (every 30 s) has finished, so
  no probe falls in it, but heartbeats (`dynamodb:UpdateItem`, one per service every
  `ACSO_HEARTBEAT_INTERVAL_S`) do: they are printed apart, with the window's length.
  The deterministic count is the spec `tests/integration/performance/test_aws_call_budget.py`.
- `repeats`: `alerts` copies of one detection (the same GuardDuty finding id, as a SIEM forwarding
  the same finding again) in POST batches of `batch`, `clients` at a time, after the first one has
  opened its incident. Repeats cross no queue: this is the supervisor's own cost. Prints alerts/s,
  p50/p99 per batch request and the supervisor's CPU per repeat.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import psutil

from tests.support.load import AlertFactory, Threat, create_instances, percentiles
from tests.support.stack import RunningSystem

AGENTS = ("supervisor", "threat_hunter", "incident_response", "service_orchestration", "financial_intelligence")
ACTION_SERVICES = frozenset({"ec2", "iam", "s3", "ecs", "rds", "wafv2", "securityhub", "lambda"})


def cpu_seconds(pids: dict[str, int], names: tuple[str, ...]) -> dict[str, float]:
    """User + system CPU seconds of each named service process so far."""
    seconds: dict[str, float] = {}
    for name in names:
        if name not in pids:
            continue
        try:
            times = psutil.Process(pids[name]).cpu_times()
        except psutil.Error:
            continue
        seconds[name] = times.user + times.system
    return seconds


async def aws_calls(session: aiohttp.ClientSession, system: RunningSystem) -> Counter[str]:
    """Every service's AWS calls so far, summed."""
    total: Counter[str] = Counter()
    for agent in AGENTS:
        if agent not in system.urls:
            continue
        async with session.get(f"{system.url(agent)}/v1/aws-calls", headers=system.auth("admin")) as response:
            if response.status == 200:
                total.update((await response.json())["calls"])
    return total


def split(calls: Counter[str]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for key, n in calls.items():
        service, operation = key.split(":", 1)
        if service == "sqs":
            kinds["messaging, empty long polls" if operation == "ReceiveMessage.empty" else "messaging"] += n
        elif service == "dynamodb":
            kinds["state (heartbeats)" if operation == "UpdateItem" else "state"] += n
        elif service in ACTION_SERVICES:
            kinds["actions"] += n
        else:
            kinds["other"] += n
    return dict(kinds)


async def after_a_ping_probe(session: aiohttp.ClientSession, system: RunningSystem, timeout_s: float = 60) -> None:
    """Wait until the supervisor's next ping probe (every ACSO_PING_INTERVAL_S, 30 s) has been
    answered by every agent, so the probe's own messages stay out of the window that follows."""

    async def pings() -> dict[str, Any]:
        async with session.get(f"{system.url('supervisor')}/v1/agents", headers=system.auth("admin")) as response:
            body = await response.json()
        return {a["agent"]: a.get("last_ping_at") for a in body["agents"]}

    first = await pings()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = await pings()
        if all(now[agent] != first.get(agent) for agent in now if agent in system.urls):
            await asyncio.sleep(1.0)  # the last replies' deletes and completions
            return


@dataclass
class IncidentCost:
    calls: Counter[str]
    cpu_s: dict[str, float]
    window_s: float
    contained_s: float


async def one_incident(system: RunningSystem) -> IncidentCost:
    instance_id = (await create_instances(system.emulator_url, 1))[0]
    threat = Threat(index=0, instance_id=instance_id, remote_ip="11.250.250.1")
    finding = AlertFactory("cost0000").guardduty(threat, datetime.now(UTC))
    pids = system.pids()
    async with aiohttp.ClientSession() as session:
        await after_a_ping_probe(session, system)
        calls_before = await aws_calls(session, system)
        cpu_before = cpu_seconds(pids, AGENTS)
        started = time.monotonic()
        async with session.post(
            f"{system.url('supervisor')}/v1/alerts", json=finding, headers=system.auth("admin")
        ) as response:
            body = await response.json()
        incident_id = body["results"][0]["incident_id"]
        contained_s = float("nan")
        deadline = started + 120
        while time.monotonic() < deadline:
            async with session.get(
                f"{system.url('incident_response')}/v1/incidents/{incident_id}", headers=system.auth("admin")
            ) as response:
                incident = await response.json() if response.status == 200 else {}
            waiting = {"planned", "running", "scheduled", "pending"}
            actions = incident.get("actions") or []
            if incident.get("status") == "contained" and actions and not any(a["status"] in waiting for a in actions):
                contained_s = time.monotonic() - started
                break
            await asyncio.sleep(0.1)
        # The last hop (containment.result to the supervisor) is handled after the incident shows contained.
        await asyncio.sleep(2.0)
        calls = await aws_calls(session, system) - calls_before
        cpu_after = cpu_seconds(pids, AGENTS)
        window = time.monotonic() - started
    cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    return IncidentCost(calls, cpu, window, contained_s)


@dataclass
class RepeatCost:
    alerts: int
    seconds: float
    batch_s: dict[str, float]
    supervisor_cpu_s: float
    outcomes: Counter[str]


async def repeats(system: RunningSystem, *, alerts: int = 2000, batch: int = 100, clients: int = 4) -> RepeatCost:
    instance_id = (await create_instances(system.emulator_url, 1))[0]
    threat = Threat(index=0, instance_id=instance_id, remote_ip="11.250.250.2")
    finding = AlertFactory("rept0000").guardduty(threat, datetime.now(UTC))
    url = f"{system.url('supervisor')}/v1/alerts"
    headers = system.auth("admin")
    outcomes: Counter[str] = Counter()
    timings: list[float] = []
    async with aiohttp.ClientSession() as session:
        async with session.post(url, json=finding, headers=headers) as response:
            assert response.status == 202, await response.text()
        queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
        for _ in range(alerts // batch):
            queue.put_nowait([copy.deepcopy(finding) for _ in range(batch)])

        async def client() -> None:
            while not queue.empty():
                body = queue.get_nowait()
                sent = time.monotonic()
                async with session.post(url, json=body, headers=headers) as response:
                    result = await response.json()
                    if response.status != 202:
                        raise AssertionError(f"repeats refused: {response.status} {result}")
                timings.append(time.monotonic() - sent)
                outcomes.update(r["outcome"] for r in result["results"])

        pid = system.pids()["supervisor"]
        cpu_before = cpu_seconds({"supervisor": pid}, ("supervisor",))["supervisor"]
        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.monotonic() - started
        cpu_after = cpu_seconds({"supervisor": pid}, ("supervisor",))["supervisor"]
    sent = sum(outcomes.values())
    return RepeatCost(sent, seconds, percentiles(timings), cpu_after - cpu_before, outcomes)


def rows(incident: IncidentCost, repeat: RepeatCost) -> list[str]:
    kinds = split(incident.calls)
    plumbing = sum(n for k, n in kinds.items() if k in ("messaging", "state", "other"))
    top = ", ".join(
        f"{k} {n}" for k, n in sorted(incident.calls.items(), key=lambda kv: -kv[1]) if not k.endswith(".empty")
    )
    return [
        f"| one new incident: alert to contained and settled (s) | {incident.contained_s:.2f} |",
        f"| AWS calls per new incident, actions excluded (messaging + state + other), "
        f"window {incident.window_s:.1f} s | {plumbing} (heartbeats apart) |",
        "| ... split | " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + " |",
        f"| ... by operation | {top} |",
        f"| CPU per new incident, all services (ms, window incl. idle polling) | "
        f"{sum(incident.cpu_s.values()) * 1000:.0f} ("
        + ", ".join(f"{k} {v * 1000:.0f}" for k, v in sorted(incident.cpu_s.items()))
        + ") |",
        f"| repeats of one detection: {repeat.alerts} alerts, batches of 100, 4 clients (alerts/s) | "
        f"{repeat.alerts / repeat.seconds:.0f} |",
        f"| ... per batch request p50 / p99 (ms) | {repeat.batch_s['p50'] * 1000:.0f} / "
        f"{repeat.batch_s['p99'] * 1000:.0f} |",
        f"| ... CPU per repeat, supervisor (ms) | {repeat.supervisor_cpu_s * 1000 / max(repeat.alerts, 1):.2f} |",
        "| ... outcomes | " + ", ".join(f"{k} {n}" for k, n in sorted(repeat.outcomes.items())) + " |",
    ]
