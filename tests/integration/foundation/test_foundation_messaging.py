"""The message path on the real emulator: DLQ and replay, idempotency, drain on shutdown, tracing."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.tracing import trace_id_of
from acso_shared.web.keys import RUNTIME
from acso_supervisor.app import create_app as create_supervisor
from acso_supervisor.settings import Settings as SupervisorSettings
from acso_threat_hunter.app import create_app as create_threat_hunter
from acso_threat_hunter.settings import Settings as ThreatHunterSettings
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def _purge(stack: TestStack, *queue_names: str) -> None:
    """Empty queues by receiving and deleting (PurgeQueue is limited to once a minute)."""
    clients = AwsClientFactory(stack.aws_settings())
    try:
        sqs = await clients.client("sqs")
        for name in queue_names:
            url = (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
            while True:
                batch = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)).get(
                    "Messages", []
                )
                if not batch:
                    break
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
                await sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    finally:
        await clients.aclose()


def _threat_hunter(stack: TestStack, **overrides: Any) -> Any:
    return create_threat_hunter(stack.service_settings(ThreatHunterSettings, **overrides))


def _supervisor(stack: TestStack, **overrides: Any) -> Any:
    return create_supervisor(stack.service_settings(SupervisorSettings, ping_interval_s=3600, **overrides))


async def test_a_message_failing_five_times_lands_in_its_dlq_and_replays_after_the_fix(stack: TestStack) -> None:
    queue = stack.aws_settings().manifest.task_queues[Agent.THREAT_HUNTER]
    await _purge(stack, queue.name, queue.dlq_name)
    attempts: list[str] = []
    fixed = asyncio.Event()

    async def flaky(envelope: Envelope) -> dict[str, Any]:
        attempts.append(envelope.message_id)
        if not fixed.is_set():
            raise RuntimeError("the handler has a bug")
        return {"ok": True}

    hunter = _threat_hunter(stack)
    hunter[RUNTIME].add_handlers({"test.flaky": flaky})
    async with running(hunter), running(_supervisor(stack)) as supervisor:
        runtime = hunter[RUNTIME]
        poison = Envelope.new(kind="test.flaky", sender="test")
        await runtime.send_task(Agent.THREAT_HUNTER, poison)

        async def in_dlq() -> bool:
            return bool((await runtime.sqs.depth(queue.dlq_name)).total == 1)

        await wait_until(in_dlq, timeout_s=60)
        assert len(attempts) == 5

        listing = await (await supervisor.get("/v1/dlq", headers=stack.auth("admin"))).json()
        entry = next(d for d in listing["dlqs"] if d["agent"] == "threat_hunter")
        assert entry["depth"] == 1
        assert entry["messages"][0]["idempotency_key"] == poison.idempotency_key

        fixed.set()
        response = await supervisor.post(
            "/v1/dlq/threat_hunter/replay", json={"max_messages": 10}, headers=stack.auth("admin")
        )
        assert response.status == 200
        assert (await response.json())["replayed"] == 1
        await wait_until(lambda: len(attempts) == 6, timeout_s=30)
        claim = await wait_until(lambda: runtime.idempotency.get(poison.idempotency_key), timeout_s=10)
        assert claim["status"] == "completed"
        assert (await runtime.sqs.depth(queue.dlq_name)).total == 0


async def test_replay_is_for_admins_only(stack: TestStack) -> None:
    async with running(_supervisor(stack)) as supervisor:
        response = await supervisor.post("/v1/dlq/threat_hunter/replay", json={}, headers=stack.auth("analyst"))
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "forbidden"


async def test_a_duplicate_delivery_causes_one_side_effect(stack: TestStack) -> None:
    side_effects: list[str] = []
    handled = asyncio.Event()

    async def effect(envelope: Envelope) -> dict[str, Any]:
        side_effects.append(envelope.payload["target"])
        handled.set()
        return {}

    hunter = _threat_hunter(stack)
    hunter[RUNTIME].add_handlers({"test.effect": effect})
    async with running(hunter):
        runtime = hunter[RUNTIME]
        envelope = Envelope.new(kind="test.effect", sender="test", payload={"target": str(uuid.uuid4())})
        await runtime.send_task(Agent.THREAT_HUNTER, envelope)
        await asyncio.wait_for(handled.wait(), timeout=30)
        # The same envelope again (an at-least-once redelivery, or a retry by the sender).
        await runtime.send_task(Agent.THREAT_HUNTER, envelope)

        async def duplicate_seen() -> bool:
            return bool(runtime.consumers[0].stats.duplicates >= 1)

        await wait_until(duplicate_seen, timeout_s=30)
        assert side_effects == [envelope.payload["target"]]


async def test_shutdown_returns_the_in_flight_message_and_another_instance_finishes_it(stack: TestStack) -> None:
    queue = stack.aws_settings().manifest.task_queues[Agent.THREAT_HUNTER]
    await _purge(stack, queue.name)
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(envelope: Envelope) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(30)
        finished.append("slow")
        return {}

    async def quick(envelope: Envelope) -> dict[str, Any]:
        finished.append("quick")
        return {}

    first = _threat_hunter(stack, shutdown_grace_s=0.5)
    first[RUNTIME].add_handlers({"test.work": slow})
    envelope = Envelope.new(kind="test.work", sender="test")
    async with running(first):
        await first[RUNTIME].send_task(Agent.THREAT_HUNTER, envelope)
        await asyncio.wait_for(started.wait(), timeout=30)
    # The first instance stopped (as on SIGTERM) while the handler was mid-way: nothing finished,
    # and the message went back to the queue at once with its claim released.
    assert finished == []
    second = _threat_hunter(stack)
    second[RUNTIME].add_handlers({"test.work": quick})
    async with running(second):
        await wait_until(lambda: finished == ["quick"], timeout_s=30)
        claim = await second[RUNTIME].idempotency.get(envelope.idempotency_key)
        assert claim is not None
        assert claim["status"] == "completed"


async def test_shutdown_lets_in_flight_work_finish_within_the_grace_period(stack: TestStack) -> None:
    started = asyncio.Event()
    finished: list[str] = []

    async def short(envelope: Envelope) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(1)
        finished.append(envelope.message_id)
        return {}

    hunter = _threat_hunter(stack, shutdown_grace_s=10)
    hunter[RUNTIME].add_handlers({"test.short": short})
    envelope = Envelope.new(kind="test.short", sender="test")
    async with running(hunter):
        await hunter[RUNTIME].send_task(Agent.THREAT_HUNTER, envelope)
        await asyncio.wait_for(started.wait(), timeout=30)
    assert finished == [envelope.message_id]


async def test_the_trace_header_of_a_request_reaches_the_agent_that_handles_the_task(stack: TestStack) -> None:
    root = "1-6b0799ec-" + uuid.uuid4().hex[:24]
    hunter = _threat_hunter(stack)
    async with running(hunter), running(_supervisor(stack)) as supervisor:
        response = await supervisor.post(
            "/v1/agents/ping",
            headers={**stack.auth("admin"), "X-Amzn-Trace-Id": f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"},
        )
        assert response.status == 200
        assert trace_id_of(response.headers["X-Amzn-Trace-Id"]) == root
        results = {r["agent"]: r for r in (await response.json())["results"]}
        # The threat hunter handled the ping task in the caller's trace and answered in it too.
        assert results["threat_hunter"]["ok"] is True
        assert results["threat_hunter"]["trace_id"] == root
        assert results["supervisor"]["trace_id"] == root
