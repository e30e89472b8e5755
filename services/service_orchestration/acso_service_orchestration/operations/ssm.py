"""Runs one SSM Command document on instances and follows every invocation to completion.

SSM's own `MaxConcurrency`/`MaxErrors` apply to a single multi-target command; ACSO sends one
command per instance and applies the same semantics itself, so the limits hold across the
whole operation, each instance's result is tracked on its own, and an interrupted operation can
be resumed from the command ids already recorded:
- at most `max_concurrency` instances run at a time;
- once more than `max_errors` instances have failed, no further instance is started and the
  rest are `cancelled` (instances already running finish, as in SSM).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from acso_service_orchestration.operations.models import InstanceStatus
from acso_shared.aws.clients import error_code
from acso_shared.logging import get_logger

log = get_logger("acso.orchestration.ssm")

_OUTPUT_LIMIT = 24_000  # SSM itself truncates inline output at 24,000 characters
_TERMINAL: dict[str, InstanceStatus] = {
    "Success": "succeeded",
    "Failed": "failed",
    "Cancelled": "cancelled",
    "TimedOut": "timed_out",
}
# Right after SendCommand the invocation may not exist yet; these mean "look again".
_NOT_YET = frozenset({"InvocationDoesNotExist"})


@dataclass(frozen=True)
class InstanceRun:
    """The state of one instance within an operation."""

    instance_id: str
    status: InstanceStatus = "pending"
    command_id: str | None = None
    response_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status not in ("pending", "in_progress")

    @property
    def errored(self) -> bool:
        return self.done and self.status != "succeeded"


@dataclass(frozen=True)
class CommandPlan:
    operation_id: str
    document: str
    parameters: dict[str, list[str]]
    max_concurrency: int
    max_errors: int


OnUpdate = Callable[[InstanceRun], Awaitable[None]]
ClientGetter = Callable[[], Awaitable[Any]]
Sleep = Callable[[float], Awaitable[None]]


def _now() -> datetime:
    return datetime.now(UTC)


class SsmRunner:
    """Sends commands and polls `GetCommandInvocation` until each instance is finished."""

    def __init__(
        self,
        ssm: ClientGetter,
        *,
        poll_interval_s: float,
        instance_timeout_s: float,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssm = ssm
        self._poll_interval_s = poll_interval_s
        self._timeout_s = instance_timeout_s
        self._sleep = sleep
        self._clock = clock

    async def run(self, plan: CommandPlan, instances: list[InstanceRun], on_update: OnUpdate) -> list[InstanceRun]:
        """Run `plan` on every unfinished instance; returns the final state of each, in order."""
        results: dict[str, InstanceRun] = {i.instance_id: i for i in instances}
        errors = sum(1 for i in instances if i.errored)
        queue: asyncio.Queue[InstanceRun] = asyncio.Queue()
        for instance in instances:
            if not instance.done:
                queue.put_nowait(instance)

        async def worker() -> None:
            nonlocal errors
            while True:
                try:
                    instance = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if errors > plan.max_errors and instance.command_id is None:
                    final = replace(instance, status="cancelled", stderr="not started: error threshold exceeded")
                else:
                    final = await self._run_one(plan, instance, on_update)
                    if final.errored:
                        errors += 1
                results[final.instance_id] = final
                await on_update(final)

        workers = max(1, min(plan.max_concurrency, queue.qsize()))
        await asyncio.gather(*(worker() for _ in range(workers)))
        return [results[i.instance_id] for i in instances]

    async def _run_one(self, plan: CommandPlan, instance: InstanceRun, on_update: OnUpdate) -> InstanceRun:
        client = await self._ssm()
        if instance.command_id is None:
            try:
                response = await client.send_command(
                    InstanceIds=[instance.instance_id],
                    DocumentName=plan.document,
                    Parameters=plan.parameters,
                    Comment=f"acso operation {plan.operation_id}"[:100],
                    TimeoutSeconds=max(30, int(self._timeout_s)),
                    MaxConcurrency="1",
                    MaxErrors="0",
                )
            except (ClientError, BotoCoreError) as err:
                code = error_code(err) if isinstance(err, ClientError) else type(err).__name__
                return replace(instance, status="failed", stderr=f"SendCommand failed: {code}", finished_at=_now())
            instance = replace(
                instance, status="in_progress", command_id=response["Command"]["CommandId"], started_at=_now()
            )
            # Recorded before polling, so a restarted operation follows this command instead of sending another.
            await on_update(instance)
        return await self._follow(client, instance)

    async def _follow(self, client: Any, instance: InstanceRun) -> InstanceRun:
        deadline = self._clock() + self._timeout_s
        while True:
            try:
                invocation = await client.get_command_invocation(
                    CommandId=instance.command_id, InstanceId=instance.instance_id
                )
            except ClientError as err:
                if error_code(err) not in _NOT_YET:
                    return replace(instance, status="failed", stderr=f"GetCommandInvocation: {error_code(err)}")
                invocation = {}
            except BotoCoreError as err:
                log.warning("ssm_poll_failed", instance_id=instance.instance_id, error=type(err).__name__)
                invocation = {}
            status = _TERMINAL.get(str(invocation.get("Status", "")))
            if status is not None:
                return replace(
                    instance,
                    status=status,
                    response_code=invocation.get("ResponseCode"),
                    stdout=(invocation.get("StandardOutputContent") or "")[:_OUTPUT_LIMIT],
                    stderr=(invocation.get("StandardErrorContent") or "")[:_OUTPUT_LIMIT],
                    finished_at=_now(),
                )
            if self._clock() >= deadline:
                await self._cancel(client, instance)
                return replace(instance, status="timed_out", stderr="no result within the timeout", finished_at=_now())
            await self._sleep(self._poll_interval_s)

    async def _cancel(self, client: Any, instance: InstanceRun) -> None:
        try:
            await client.cancel_command(CommandId=instance.command_id, InstanceIds=[instance.instance_id])
        except (ClientError, BotoCoreError) as err:
            log.warning("ssm_cancel_failed", instance_id=instance.instance_id, error=type(err).__name__)
