"""A bounded load generator for the local system: a realistic alert mix in, terminal states out.

Used by the reliability tests (tests/e2e/reliability/) and the load benchmark (bench/load_bench.py).
Loopback only: it talks to the supervisor and incident response URLs of a running system and,
optionally, to the emulator to create the EC2 instances the alerts name (so containment acts on
real emulated resources).

The mix, per run (every id is unique to the run, so runs never correlate with each other):
- `new` threats: a GuardDuty `UnauthorizedAccess:EC2/TorIPCaller` finding or an ACSO generic
  alert on an instance of its own; each must open exactly one incident;
- `duplicate`: the same detection again (same source, type, instance) under a new finding id,
  or the very same finding redelivered; both fold into the threat's incident;
- `correlated`: a different detection (generic `network.ssh_bruteforce.outbound`) on the same
  instance; it joins the threat's incident.
Follow-ups are sent after their threat's first alert was accepted, as a SIEM would see them.

Bounded in count (`LoadProfile.alerts`) and time (`send_timeout_s`, `settle_timeout_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp
import psutil
from aiobotocore.session import get_session

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.settings import AcsoSettings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"
TERMINAL_WORKFLOW = frozenset({"completed", "failed"})
EMULATOR_CREDENTIALS = ("testing", "testing")
Kind = Literal["new", "duplicate", "redelivered", "correlated"]


@dataclass(frozen=True)
class LoadProfile:
    """How much to send and how: `alerts` in POST batches of `batch_size`, `concurrency` at a time."""

    alerts: int = 300
    new_fraction: float = 0.25
    correlated_fraction: float = 0.25
    redelivered_fraction: float = 0.1
    batch_size: int = 10
    concurrency: int = 4
    send_timeout_s: float = 60.0
    settle_timeout_s: float = 60.0
    seed: int = 11


@dataclass
class PlannedAlert:
    threat: int
    kind: Kind
    payload: dict[str, Any]
    sent_at: float = 0.0
    incident_id: str | None = None
    outcome: str | None = None
    workflow_id: str | None = None


@dataclass
class Threat:
    index: int
    instance_id: str
    remote_ip: str
    alerts: list[PlannedAlert] = field(default_factory=list)


@dataclass
class IncidentState:
    incident_id: str
    workflows: list[dict[str, Any]] = field(default_factory=list)
    detail: dict[str, Any] | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return (
            self.detail is not None
            and len(self.workflows) > 0
            and all(w["status"] in TERMINAL_WORKFLOW for w in self.workflows)
        )


@dataclass
class Sample:
    at: float
    values: dict[str, float]


@dataclass
class LoadReport:
    """What a run measured; `problems()` lists every broken reliability invariant."""

    profile: LoadProfile
    threats: list[Threat]
    send_started: float = 0.0
    send_finished: float = 0.0
    settled_at: float | None = None
    requests: int = 0
    request_errors: int = 0
    retried_batches: int = 0
    incidents: dict[str, IncidentState] = field(default_factory=dict)
    queue_samples: list[Sample] = field(default_factory=list)
    cpu_samples: list[Sample] = field(default_factory=list)
    rss_samples: list[Sample] = field(default_factory=list)

    @property
    def alerts(self) -> list[PlannedAlert]:
        return [a for t in self.threats for a in t.alerts]

    @property
    def accepted(self) -> int:
        return sum(1 for a in self.alerts if a.incident_id)

    @property
    def ingest_rate(self) -> float:
        """Alerts accepted per second over the send phase."""
        elapsed = self.send_finished - self.send_started
        return self.accepted / elapsed if elapsed > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.request_errors / self.requests if self.requests else 0.0

    def latencies(self, stamp: Literal["triaged_at", "contained_at"]) -> list[float]:
        """Seconds from a threat's first alert being sent to its incident's `stamp`."""
        out: list[float] = []
        for threat in self.threats:
            first = threat.alerts[0]
            state = self.incidents.get(first.incident_id or "")
            value = (state.detail or {}).get(stamp) if state else None
            if value:
                out.append(datetime.fromisoformat(value).timestamp() - first.sent_at)
        return out

    def problems(self) -> list[str]:
        """Every violated invariant: lost alerts, duplicated incidents, non-terminal or repeated work."""
        found: list[str] = []
        for alert in self.alerts:
            if alert.incident_id is None:
                found.append(f"threat {alert.threat} {alert.kind} alert was never accepted")
        incidents_of_threat: dict[int, set[str]] = defaultdict(set)
        for alert in self.alerts:
            if alert.incident_id:
                incidents_of_threat[alert.threat].add(alert.incident_id)
        threats_of_incident: dict[str, set[int]] = defaultdict(set)
        for threat, incident_ids in incidents_of_threat.items():
            if len(incident_ids) != 1:
                found.append(f"threat {threat} spread over {len(incident_ids)} incidents: {sorted(incident_ids)}")
            for incident_id in incident_ids:
                threats_of_incident[incident_id].add(threat)
        for incident_id, threats in threats_of_incident.items():
            if len(threats) > 1:
                found.append(f"incident {incident_id} merged threats {sorted(threats)}")
        for incident_id in threats_of_incident:
            state = self.incidents.get(incident_id)
            if state is None or state.detail is None:
                found.append(f"incident {incident_id} is missing from incident response")
                continue
            # One workflow per distinct alert (the one that opened the incident and each that joined
            # it), never two for one alert: a batch retried after a lost reply must not start any again.
            per_alert = Counter(w["alert_id"] for w in state.workflows)
            if not state.workflows:
                found.append(f"incident {incident_id} has no workflow")
            twice = sorted(str(a) for a, n in per_alert.items() if n > 1)
            if twice:
                found.append(f"incident {incident_id} ran two workflows for alerts {twice}")
            unfinished = [w["workflow_id"] for w in state.workflows if w["status"] not in TERMINAL_WORKFLOW]
            if unfinished:
                found.append(f"incident {incident_id} has unfinished workflows {unfinished}")
            repeated = [k for k, n in Counter((a["action_type"], a["target"]) for a in state.actions).items() if n > 1]
            if repeated:
                found.append(f"incident {incident_id} ran actions twice: {repeated}")
        return found

    def summary(self) -> dict[str, Any]:
        """The figures the benchmark table and test failure messages show."""
        triaged = self.latencies("triaged_at")
        contained = self.latencies("contained_at")
        statuses = Counter(w["status"] for s in self.incidents.values() for w in s.workflows)
        return {
            "alerts": len(self.alerts),
            "accepted": self.accepted,
            "incidents": len(self.incidents),
            "workflows": dict(statuses),
            "ingest_rate": round(self.ingest_rate, 1),
            "error_rate": round(self.error_rate, 4),
            "retried_batches": self.retried_batches,
            "settle_s": round(self.settled_at - self.send_started, 1) if self.settled_at else None,
            "triaged": percentiles(triaged),
            "contained": percentiles(contained),
            "contained_count": len(contained),
            "max_backlog": max((sum(s.values.values()) for s in self.queue_samples), default=0),
        }


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 by nearest rank (empty when there are no values)."""
    if not values:
        return {}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)

    return {"p50": round(statistics.median(ordered), 3), "p95": rank(0.95), "p99": rank(0.99)}


# -- planning -----------------------------------------------------------------------------------
def _load_fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


class AlertFactory:
    """Builds alert payloads from the fixtures with every identifying field replaced by the run's ids."""

    def __init__(self, run: str) -> None:
        self._run = run
        self._guardduty = _load_fixture("guardduty_tor_ip_caller.json")
        self._generic = _load_fixture("generic_alert.json")
        self._serial = 0

    def _next_id(self) -> str:
        self._serial += 1
        return f"{self._run}{self._serial:06d}"

    def guardduty(self, threat: Threat, at: datetime) -> dict[str, Any]:
        finding = copy.deepcopy(self._guardduty)
        finding_id = uuid.uuid4().hex
        finding["id"] = finding_id
        finding["arn"] = finding["arn"].rsplit("/", 1)[0] + f"/{finding_id}"
        details = finding["resource"]["instanceDetails"]
        details["instanceId"] = threat.instance_id
        interface = details["networkInterfaces"][0]
        # The fixture's public and security-group ids are shared by every copy: drop them so only
        # this threat's instance and remote address correlate.
        for key in ("publicIp", "publicDnsName"):
            interface.pop(key, None)
        interface["securityGroups"] = []
        remote = finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]
        remote["ipAddressV4"] = threat.remote_ip
        stamp = at.isoformat().replace("+00:00", "Z")
        finding["createdAt"] = finding["updatedAt"] = stamp
        finding["service"]["eventFirstSeen"] = finding["service"]["eventLastSeen"] = stamp
        return finding

    def generic(self, threat: Threat, at: datetime, *, alert_type: str | None = None) -> dict[str, Any]:
        alert = copy.deepcopy(self._generic)
        alert["id"] = self._next_id()
        alert["title"] = f"Outbound SSH brute force from {threat.instance_id}"
        alert["description"] = f"Host {threat.instance_id} opened many SSH connections."
        if alert_type:
            alert["type"] = alert_type
        stamp = at.isoformat().replace("+00:00", "Z")
        alert["occurred_at"] = alert["last_seen"] = stamp
        alert["first_seen"] = (at - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        alert["resources"] = [{"type": "ec2_instance", "id": threat.instance_id, "tags": {"Name": "load"}}]
        alert["observables"] = [{"type": "ip", "value": threat.remote_ip}]
        return alert


def plan(profile: LoadProfile, instance_ids: list[str], *, run: str | None = None) -> list[Threat]:
    """The run's threats and their alerts, deterministic for a seed (ids aside)."""
    run = run or uuid.uuid4().hex[:8]
    rng = random.Random(profile.seed)
    factory = AlertFactory(run)
    count = max(1, round(profile.alerts * profile.new_fraction))
    if len(instance_ids) < count:
        raise ValueError(f"{count} threats need {count} instances, got {len(instance_ids)}")
    # Remote addresses must be public IPv4 for the WAF block list to act on them. 11.0.0.0/8 is
    # globally routed; the run's 16 bits in the middle octets keep runs from correlating.
    if count > 250:
        raise ValueError("at most 250 new threats per run (one /24 of remote addresses)")
    run_word = int(run[:4], 16)
    threats = [
        Threat(index=i, instance_id=instance_ids[i], remote_ip=f"11.{run_word >> 8}.{run_word & 0xFF}.{i + 1}")
        for i in range(count)
    ]
    now = datetime.now(UTC)
    use_guardduty = [rng.random() < 0.5 for _ in threats]
    for threat, guardduty in zip(threats, use_guardduty, strict=True):
        payload = factory.guardduty(threat, now) if guardduty else factory.generic(threat, now)
        threat.alerts.append(PlannedAlert(threat.index, "new", payload))
    for _ in range(profile.alerts - count):
        threat = rng.choice(threats)
        guardduty = use_guardduty[threat.index]
        roll = rng.random()
        if roll < profile.redelivered_fraction:
            threat.alerts.append(PlannedAlert(threat.index, "redelivered", copy.deepcopy(threat.alerts[0].payload)))
        elif roll < profile.redelivered_fraction + profile.correlated_fraction:
            payload = factory.generic(threat, now, alert_type="network.ssh_bruteforce.outbound.followup")
            threat.alerts.append(PlannedAlert(threat.index, "correlated", payload))
        else:
            payload = factory.guardduty(threat, now) if guardduty else factory.generic(threat, now)
            threat.alerts.append(PlannedAlert(threat.index, "duplicate", payload))
    return threats


def emulator_clients(emulator_url: str) -> AwsClientFactory:
    """Clients for the local system's emulator (env `local`), with its dummy credentials."""
    session = get_session()
    session.set_credentials(*EMULATOR_CREDENTIALS)
    return AwsClientFactory(AcsoSettings(aws_endpoint_url=emulator_url), session=session)


async def create_instances(emulator_url: str, count: int) -> list[str]:
    """Launch `count` EC2 instances in the emulator (what containment acts on)."""
    clients = emulator_clients(emulator_url)
    try:
        ec2 = await clients.client("ec2")
        image = (await ec2.describe_images(Owners=["amazon"]))["Images"][0]["ImageId"]
        ids: list[str] = []
        while len(ids) < count:
            batch = min(50, count - len(ids))
            response = await ec2.run_instances(ImageId=image, MinCount=batch, MaxCount=batch, InstanceType="t3.micro")
            ids.extend(i["InstanceId"] for i in response["Instances"])
        return ids
    finally:
        await clients.aclose()


# -- running ------------------------------------------------------------------------------------
@dataclass
class Target:
    """Where the system is and who calls it."""

    supervisor_url: str
    incident_response_url: str
    headers: dict[str, str]
    pids: Callable[[], dict[str, int]] | None = None


class LoadRun:
    """Send a planned load, sample queues and processes meanwhile, then wait for terminal states."""

    def __init__(self, target: Target, profile: LoadProfile, threats: list[Threat]) -> None:
        self.target = target
        self.profile = profile
        self.report = LoadReport(profile=profile, threats=threats)

    async def run(
        self, session: aiohttp.ClientSession, *, during: Callable[[LoadRun], Coroutine[Any, Any, None]] | None = None
    ) -> LoadReport:
        """Send everything (with `during(self)` running beside it), then wait for terminal states."""
        sampler = asyncio.create_task(self._sample_forever(session))
        fault: asyncio.Task[None] | None = asyncio.create_task(during(self)) if during is not None else None
        try:
            await self.send(session)
            if fault is not None:
                await fault
            await self.settle(session)
        finally:
            for task in (sampler, fault):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        return self.report

    async def send(self, session: aiohttp.ClientSession) -> None:
        """POST the alerts in batches; a new threat's first alert goes before its follow-ups."""
        firsts = [t.alerts[0] for t in self.report.threats]
        rest = [a for t in self.report.threats for a in t.alerts[1:]]
        random.Random(self.profile.seed).shuffle(rest)
        size = self.profile.batch_size
        slots = asyncio.Semaphore(self.profile.concurrency)
        deadline = time.monotonic() + self.profile.send_timeout_s
        self.report.send_started = time.time()

        async def one(batch: list[PlannedAlert]) -> None:
            async with slots:
                await self._post_batch(session, batch, deadline)

        for phase in (firsts, rest):
            await asyncio.gather(*(one(phase[i : i + size]) for i in range(0, len(phase), size)))
        self.report.send_finished = time.time()

    async def _post_batch(self, session: aiohttp.ClientSession, batch: list[PlannedAlert], deadline: float) -> None:
        """POST one batch, retrying (as a SIEM forwarder would) until accepted or out of time."""
        attempt = 0
        while time.monotonic() < deadline:
            attempt += 1
            sent_at = time.time()
            self.report.requests += 1
            try:
                async with session.post(
                    f"{self.target.supervisor_url}/v1/alerts",
                    json=[a.payload for a in batch],
                    headers=self.target.headers,
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as response:
                    body = await response.json(content_type=None)
                    if response.status == 202:
                        for alert, result in zip(batch, body["results"], strict=True):
                            alert.sent_at = alert.sent_at or sent_at
                            alert.incident_id = result["incident_id"]
                            alert.outcome = result["outcome"]
                            alert.workflow_id = result["workflow_id"]
                        if attempt > 1:
                            self.report.retried_batches += 1
                        return
                    self.report.request_errors += 1
                    if 400 <= response.status < 500 and response.status != 429:
                        raise AssertionError(f"alerts refused with {response.status}: {body}")
            except (aiohttp.ClientError, TimeoutError):
                self.report.request_errors += 1
            # Keep the first attempt's time: latency counts from when the SIEM first tried.
            for alert in batch:
                alert.sent_at = alert.sent_at or sent_at
            await asyncio.sleep(min(0.2 * attempt, 2.0))

    async def settle(self, session: aiohttp.ClientSession) -> None:
        """Poll workflows until every incident of the run is terminal, then read incident response."""
        deadline = time.monotonic() + self.profile.settle_timeout_s
        incident_ids = {a.incident_id for a in self.report.alerts if a.incident_id}
        states = self.report.incidents
        for incident_id in incident_ids:
            states.setdefault(incident_id, IncidentState(incident_id))
        while True:
            await self._read_workflows(session, incident_ids)
            waiting = [
                s
                for s in states.values()
                if not s.workflows or any(w["status"] not in TERMINAL_WORKFLOW for w in s.workflows)
            ]
            if not waiting or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await self._read_incidents(session, list(states.values()), deadline)
        if all(s.terminal for s in states.values()):
            self.report.settled_at = time.time()

    async def _read_workflows(self, session: aiohttp.ClientSession, incident_ids: set[str]) -> None:
        # One listing per poll (newest first) rather than one request per incident: the API's
        # per-principal rate limit would otherwise throttle the observer, not the system.
        try:
            async with session.get(
                f"{self.target.supervisor_url}/v1/workflows",
                params={"limit": "500"},
                headers=self.target.headers,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response:
                if response.status != 200:
                    return
                rows = (await response.json())["workflows"]
        except (aiohttp.ClientError, TimeoutError):
            return
        by_incident: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            if row["incident_id"] in incident_ids:
                by_incident[row["incident_id"]].append(row)
        for incident_id, workflows in by_incident.items():
            self.report.incidents[incident_id].workflows = workflows

    async def _read_incidents(
        self, session: aiohttp.ClientSession, states: list[IncidentState], deadline: float
    ) -> None:
        url = self.target.incident_response_url
        # Past the deadline each incident still gets one look, but a service that stopped
        # answering must not hold the run for one client timeout per incident.
        give_up = deadline + 15.0
        for state in states:
            while time.monotonic() < give_up:
                try:
                    async with session.get(
                        f"{url}/v1/incidents/{state.incident_id}",
                        headers=self.target.headers,
                        timeout=aiohttp.ClientTimeout(total=10),
                    ) as response:
                        if response.status == 200:
                            state.detail = await response.json()
                            state.actions = list(state.detail.get("actions", []))
                            break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if time.monotonic() > deadline:
                    break
                # 404 (not opened yet), 429 (the observer's own rate limit), no answer: look again shortly.
                await asyncio.sleep(0.3)

    async def _sample_forever(self, session: aiohttp.ClientSession) -> None:
        processes: dict[str, psutil.Process] = {}
        while True:
            now = time.time()
            try:
                async with session.get(
                    f"{self.target.supervisor_url}/v1/agents",
                    headers=self.target.headers,
                    timeout=aiohttp.ClientTimeout(total=5),
                ) as response:
                    if response.status == 200:
                        body = await response.json()
                        depths = {
                            a["agent"]: float(a["queue"]["depth"] + a["queue"]["in_flight"])
                            for a in body["agents"]
                            if a.get("queue")
                        }
                        self.report.queue_samples.append(Sample(now, depths))
            except (aiohttp.ClientError, TimeoutError, KeyError):
                pass
            if self.target.pids is not None:
                cpu: dict[str, float] = {}
                rss: dict[str, float] = {}
                for name, pid in self.target.pids().items():
                    process = processes.get(name)
                    if process is None or process.pid != pid:
                        try:
                            process = processes[name] = psutil.Process(pid)
                            process.cpu_percent(None)
                        except psutil.Error:
                            continue
                    try:
                        cpu[name] = process.cpu_percent(None)
                        rss[name] = process.memory_info().rss / 2**20
                    except psutil.Error:
                        processes.pop(name, None)
                self.report.cpu_samples.append(Sample(now, cpu))
                self.report.rss_samples.append(Sample(now, rss))
            await asyncio.sleep(1.0)


async def run_load(
    target: Target,
    profile: LoadProfile,
    *,
    emulator_url: str | None = None,
    during: Callable[[LoadRun], Coroutine[Any, Any, None]] | None = None,
) -> LoadReport:
    """Plan, send and settle one load; with `emulator_url` the alerts name real emulated instances."""
    count = max(1, round(profile.alerts * profile.new_fraction))
    if emulator_url:
        instances = await create_instances(emulator_url, count)
    else:
        instances = [f"i-{uuid.uuid4().hex[:17]}" for _ in range(count)]
    load = LoadRun(target, profile, plan(profile, instances))
    async with aiohttp.ClientSession() as session:
        return await load.run(session, during=during)
