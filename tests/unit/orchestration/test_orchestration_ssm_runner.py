"""The SSM runner against a scripted SSM client: concurrency, error threshold, polling, timeouts."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.exceptions import ClientError

from acso_service_orchestration.operations.ssm import CommandPlan, InstanceRun, SsmRunner

pytestmark = pytest.mark.unit


class ScriptedSsm:
    """Each instance answers with a scripted series of invocation statuses (the last one repeats)."""

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.sent: list[str] = []
        self.cancelled: list[str] = []
        self.running = 0
        self.peak = 0

    async def send_command(self, **kwargs: Any) -> dict[str, Any]:
        [instance_id] = kwargs["InstanceIds"]
        self.sent.append(instance_id)
        self.running += 1
        self.peak = max(self.peak, self.running)
        return {"Command": {"CommandId": f"cmd-{instance_id}"}}

    async def get_command_invocation(self, *, CommandId: str, InstanceId: str) -> dict[str, Any]:
        await asyncio.sleep(0)
        statuses = self.script[InstanceId]
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        if status == "missing":
            raise ClientError({"Error": {"Code": "InvocationDoesNotExist"}}, "GetCommandInvocation")
        if status in ("Success", "Failed"):
            self.running -= 1
        return {"Status": status, "ResponseCode": 0 if status == "Success" else 1, "StandardOutputContent": "ok"}

    async def cancel_command(self, **kwargs: Any) -> dict[str, Any]:
        self.cancelled.extend(kwargs["InstanceIds"])
        return {}


def _runner(ssm: ScriptedSsm, timeout_s: float = 60.0) -> SsmRunner:
    async def client() -> ScriptedSsm:
        return ssm

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    ticks = iter(range(1_000_000))
    return SsmRunner(
        client, poll_interval_s=0.01, instance_timeout_s=timeout_s, sleep=no_sleep, clock=lambda: next(ticks)
    )


def _plan(concurrency: int, errors: int) -> CommandPlan:
    return CommandPlan("op-1", "AWS-RunShellScript", {"commands": ["true"]}, concurrency, errors)


async def _run(runner: SsmRunner, plan: CommandPlan, ids: list[str]) -> tuple[list[InstanceRun], list[InstanceRun]]:
    updates: list[InstanceRun] = []

    async def record(run: InstanceRun) -> None:
        updates.append(run)

    return await runner.run(plan, [InstanceRun(i) for i in ids], record), updates


async def test_every_instance_is_followed_until_its_invocation_exists_and_finishes() -> None:
    ssm = ScriptedSsm({"i-1": ["missing", "InProgress", "Success"], "i-2": ["Pending", "Success"]})
    results, updates = await _run(_runner(ssm), _plan(2, 0), ["i-1", "i-2"])
    assert [(r.instance_id, r.status, r.command_id, r.stdout) for r in results] == [
        ("i-1", "succeeded", "cmd-i-1", "ok"),
        ("i-2", "succeeded", "cmd-i-2", "ok"),
    ]
    # The command id is recorded before polling, so a resumed run follows it instead of resending.
    assert [u.status for u in updates if u.instance_id == "i-1"] == ["in_progress", "succeeded"]


async def test_no_more_than_max_concurrency_instances_run_at_once() -> None:
    ssm = ScriptedSsm({f"i-{n}": ["InProgress", "InProgress", "Success"] for n in range(6)})
    results, _ = await _run(_runner(ssm), _plan(2, 0), [f"i-{n}" for n in range(6)])
    assert ssm.peak == 2
    assert {r.status for r in results} == {"succeeded"}


async def test_once_errors_exceed_the_threshold_the_remaining_instances_are_cancelled() -> None:
    ssm = ScriptedSsm({"i-1": ["Failed"], "i-2": ["Failed"], "i-3": ["Success"], "i-4": ["Success"]})
    results, _ = await _run(_runner(ssm), _plan(1, 1), ["i-1", "i-2", "i-3", "i-4"])
    assert [r.status for r in results] == ["failed", "failed", "cancelled", "cancelled"]
    assert ssm.sent == ["i-1", "i-2"]


async def test_an_instance_without_a_result_in_time_is_cancelled_and_timed_out() -> None:
    ssm = ScriptedSsm({"i-1": ["InProgress"]})
    results, _ = await _run(_runner(ssm, timeout_s=5), _plan(1, 0), ["i-1"])
    assert results[0].status == "timed_out"
    assert ssm.cancelled == ["i-1"]


async def test_a_resumed_instance_is_followed_not_sent_again() -> None:
    ssm = ScriptedSsm({"i-1": ["Success"]})
    runner = _runner(ssm)

    async def ignore(_: InstanceRun) -> None:
        return None

    [result] = await runner.run(_plan(1, 0), [InstanceRun("i-1", status="in_progress", command_id="cmd-old")], ignore)
    assert (result.status, result.command_id, ssm.sent) == ("succeeded", "cmd-old", [])
