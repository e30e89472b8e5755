"""The AWS calls one new incident costs, alert to contained (issue 19): a budget per operation.

The supervisor, the threat hunter and incident response run in-process against the real emulator
and database; every call their clients make is counted by the client factory's botocore hooks
(`acso_shared.aws.metrics`). One GuardDuty EC2 finding goes through the whole flow (triage,
respond, contain: a snapshot and a quarantine of a real emulated instance), and the calls made
between the alert and the quiet after containment must stay within the budget below.

Not counted against the budget, and why:
- empty long polls (`ReceiveMessage.empty`): their number depends on wall-clock time (one per
  idle consumer per poll interval), not on the incident; receives that returned messages count;
- the actions' own calls (EC2 here): they are the containment, not the plumbing; only their
  `DescribeInstances` is held to one read per action run plus the fresh read that verifies a change;
- time-driven calls are kept out of the window: heartbeats, sweeps and the ping probe run at
  an interval far longer than the test.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from acso_incident_response.app import create_app as create_incident_response
from acso_incident_response.settings import Settings as IncidentResponseSettings
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.aws.metrics import EMPTY_RECEIVE
from acso_shared.runtime import AgentRuntime
from acso_shared.web.keys import RUNTIME
from acso_supervisor.app import create_app as create_supervisor
from acso_supervisor.settings import Settings as SupervisorSettings
from acso_threat_hunter.app import create_app as create_hunter
from acso_threat_hunter.settings import Settings as HunterSettings
from tests.e2e.flow_support import run_instance, settled, tor_finding
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

# Nothing time-driven inside the window: no heartbeat, sweep or ping probe during one incident.
QUIET = {"heartbeat_interval_s": 3600.0, "sweep_interval_s": 3600.0}

Client = TestClient[Any, Any]
MESSAGING = "sqs"
STATE = "dynamodb"
# Services whose calls are the containment itself (the actions), not the message path.
ACTIONS = frozenset({"ec2", "iam", "s3", "ecs", "rds", "wafv2", "securityhub", "lambda", "sts"})

# At most this many calls of each operation per new incident, summed over the three services
# (measured on the flow as it is; lower it when a cut lands, never raise it to make a test pass).
# Each handled message costs a claim and a completion (PutItem) and at most one receive and one
# delete batch; a receive or a delete batch may carry several messages, so those two are bounds.
BUDGET: dict[str, int] = {
    "sqs:SendMessage": 16,
    "sqs:ReceiveMessage": 11,
    "sqs:DeleteMessageBatch": 11,
    "sqs:GetQueueUrl": 2,  # first use of a queue in this process; cached after
    "dynamodb:PutItem": 22,
    "events:PutEvents": 6,  # the event stream (incident opened, workflow steps)
    "sns:Publish": 1,  # the notification of the new incident
    "config:GetComplianceDetailsByResource": 1,  # compliance context on the incident
}


@pytest.fixture
async def aws(stack: TestStack) -> AsyncIterator[AwsClientFactory]:
    clients = AwsClientFactory(stack.aws_settings())
    try:
        yield clients
    finally:
        await clients.aclose()


@asynccontextmanager
async def flow(stack: TestStack) -> AsyncIterator[tuple[Client, Client, list[AgentRuntime]]]:
    """The three services of the main flow, running in-process; yields the supervisor's and incident
    response's HTTP clients and the runtimes."""
    apps: list[web.Application] = [
        create_supervisor(stack.service_settings(SupervisorSettings, ping_interval_s=3600.0, **QUIET)),
        create_hunter(stack.service_settings(HunterSettings, **QUIET)),
        create_incident_response(stack.service_settings(IncidentResponseSettings, **QUIET)),
    ]
    async with AsyncExitStack() as started:
        clients = [await started.enter_async_context(running(app)) for app in apps]
        yield clients[0], clients[2], [app[RUNTIME] for app in apps]


def counted(runtimes: list[AgentRuntime]) -> Counter[str]:
    """Every call so far, summed over the runtimes, empty long polls left out."""
    total: Counter[str] = Counter()
    for runtime in runtimes:
        total.update({k: n for k, n in runtime.clients.calls.snapshot().items() if not k.endswith(EMPTY_RECEIVE)})
    return total


async def quiet(runtimes: list[AgentRuntime], *, for_s: float = 2.0) -> Counter[str]:
    """Wait until no consumer holds a message and no call was made for `for_s`; the counts then."""
    last = counted(runtimes)
    since = time.monotonic()
    deadline = since + 60
    while time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        now = counted(runtimes)
        busy = any(c.stats.in_flight for r in runtimes for c in r.consumers)
        if now != last or busy:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= for_s:
            return now
    raise AssertionError("the services never went quiet")


def by_kind(calls: Counter[str]) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for key, n in calls.items():
        service = key.split(":", 1)[0]
        kind = "messaging" if service == MESSAGING else "state" if service == STATE else None
        kind = kind or ("actions" if service in ACTIONS else "other")
        kinds[kind] += n
    return dict(kinds)


async def test_a_new_incident_from_alert_to_contained_stays_within_its_aws_call_budget(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    instance_id = await run_instance(aws, {"Name": "budget-1"})
    async with flow(stack) as (supervisor, incident_response, runtimes):
        before = await quiet(runtimes)

        posted = await supervisor.post("/v1/alerts", json=tor_finding(instance_id), headers=stack.auth("responder"))
        assert posted.status == 202, await posted.text()
        incident_id = (await posted.json())["results"][0]["incident_id"]

        async def contained() -> dict[str, Any] | None:
            response = await incident_response.get(f"/v1/incidents/{incident_id}", headers=stack.auth("analyst"))
            incident: dict[str, Any] = await response.json()
            return incident if incident.get("status") == "contained" and settled(incident) else None

        incident = await wait_until(contained, timeout_s=90)
        after = await quiet(runtimes)

    calls = after - before
    actions = [a for a in incident["actions"] if a["status"] == "succeeded"]
    print("calls per new incident:", dict(sorted(calls.items())), by_kind(calls), f"actions={len(actions)}")
    assert {a["action_type"] for a in actions} >= {"ec2.snapshot_volumes", "ec2.quarantine"}
    plumbing = {k: n for k, n in calls.items() if k.split(":", 1)[0] not in ACTIONS}
    over = {k: (n, BUDGET.get(k, 0)) for k, n in plumbing.items() if n > BUDGET.get(k, 0)}
    assert over == {}, f"over budget (made, allowed): {over}"
    # One description per action run (shared by the scope guard, the state before and the state
    # checked before applying), and a fresh one after the change to verify it took effect.
    # Planning reads the instance once for the scope checks of all its steps.
    assert calls["ec2:DescribeInstances"] <= 2 * len(actions) + 1
