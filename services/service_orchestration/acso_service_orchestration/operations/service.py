"""Operations: plan a change, record it, wait for approval and a window, run it through SSM.

Every operation, whether an operator posts it or the incident-response agent asks for it, goes
through the same policy: risk from the catalog, approval by an it_operator or admin when the
policy says so (never by the requester: four eyes), a maintenance-window check, then execution
with per-instance results on the change record. Execution runs in a background task under a
lease in PostgreSQL; if the process dies, the scheduler resumes the record from the command ids
already recorded, so no instance gets the command twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from acso_service_orchestration.operations.models import (
    Operation,
    OperationCreate,
    OperationPlan,
    OperationsQuery,
    OperationStatus,
    TargetInstance,
)
from acso_service_orchestration.operations.policy import approval_reasons, command_for, resolve_limit, window_check
from acso_service_orchestration.operations.ssm import CommandPlan, InstanceRun, SsmRunner
from acso_service_orchestration.operations.store import OperationStore
from acso_service_orchestration.settings import Settings
from acso_shared.aws.clients import translate_aws_error
from acso_shared.aws.compliance import ComplianceReader
from acso_shared.contracts import OPERATION_RESULT, OperationRequest, OperationResult
from acso_shared.errors import Conflict, Forbidden, Invalid, NotFound, Unprocessable
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.api import validation_message

log = get_logger("acso.orchestration.operations")

ClientGetter = Callable[[], Awaitable[Any]]
SendResult = Callable[[Envelope], Awaitable[str]]
WriteChangeRequest = Callable[[Operation], Awaitable[dict[str, Any]]]
OnChange = Callable[[str], Awaitable[None]]
_LEASE_S = 120.0


@dataclass(frozen=True)
class Requester:
    """Who asked: a user (Cognito subject) or an agent (`agent:<name>`)."""

    subject: str
    name: str
    via: str  # "api" | "agent"


class OperationsService:
    """Creates, approves, runs and reports operations."""

    def __init__(
        self,
        settings: Settings,
        store: OperationStore,
        ec2: ClientGetter,
        runner: SsmRunner,
        compliance: ComplianceReader,
        send_result: SendResult,
        owner: str,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        write_change_request: WriteChangeRequest | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._ec2 = ec2
        self._runner = runner
        self._compliance = compliance
        self._send_result = send_result
        self._owner = owner
        self._clock = clock
        self._write_change_request = write_change_request
        self._on_change = on_change
        self._tasks: set[asyncio.Task[None]] = set()

    # -- planning ----------------------------------------------------------------------------
    async def plan(self, request: OperationCreate) -> OperationPlan:
        """Resolve targets and apply the policy; nothing is recorded or run."""
        command = command_for(
            request.operation, request.parameters, self._settings.env, self._settings.operations_runbooks
        )
        targets = await self._targets(request.instance_ids, request.tag_filter)
        reasons = approval_reasons(
            request.operation, command.risk, targets, self._settings, emergency=request.emergency
        )
        window = window_check(
            self._settings.operations_maintenance_windows,
            self._clock(),
            applies=command.window_applies and not request.emergency,
        )
        compliance = await self._compliance.resources([t.instance_id for t in targets])
        return OperationPlan(
            operation=request.operation,
            risk=command.risk,
            approval_required=bool(reasons),
            approval_reasons=reasons,
            document=command.document,
            parameters=command.parameters,
            targets=targets,
            tag_filter=request.tag_filter,
            max_concurrency=request.max_concurrency or self._settings.operations_default_max_concurrency,
            max_errors=request.max_errors or self._settings.operations_default_max_errors,
            emergency=request.emergency,
            window=window,
            rollback_plan=command.rollback_plan,
            compliance=compliance,
        )

    async def _targets(self, instance_ids: list[str], tag_filter: dict[str, str]) -> list[TargetInstance]:
        client = await self._ec2()
        filters: list[dict[str, Any]] = [{"Name": "instance-state-name", "Values": ["pending", "running"]}]
        kwargs: dict[str, Any] = {}
        if instance_ids:
            kwargs["InstanceIds"] = instance_ids
        filters.extend({"Name": f"tag:{k}", "Values": [v]} for k, v in sorted(tag_filter.items()))
        found: dict[str, TargetInstance] = {}
        try:
            paginator = client.get_paginator("describe_instances")
            async for page in paginator.paginate(Filters=filters, **kwargs):
                for reservation in page.get("Reservations", []):
                    for instance in reservation.get("Instances", []):
                        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                        found[instance["InstanceId"]] = TargetInstance(instance_id=instance["InstanceId"], tags=tags)
        except ClientError as err:
            translated = translate_aws_error(err, "ec2:DescribeInstances")
            if isinstance(translated, NotFound):
                raise Unprocessable("instances_not_found", "some instance ids do not exist") from err
            raise translated from err
        except BotoCoreError as err:
            raise translate_aws_error(err, "ec2:DescribeInstances") from err
        missing = [i for i in instance_ids if i not in found]
        if missing:
            raise Unprocessable("instances_not_running", f"not running or not found: {missing[:5]}")
        if not found:
            raise Unprocessable("no_instances_selected", "the tag filter selects no running instance")
        if len(found) > self._settings.operations_max_instances:
            raise Unprocessable(
                "too_many_instances",
                f"{len(found)} instances exceed the cap of {self._settings.operations_max_instances}",
            )
        return sorted(found.values(), key=lambda t: t.instance_id)

    # -- the change record -------------------------------------------------------------------
    async def create(
        self,
        request: OperationCreate,
        requester: Requester,
        *,
        request_key: str | None = None,
        reply_to: dict[str, Any] | None = None,
    ) -> Operation:
        """Record the operation; start it at once when no approval is needed and the window is open."""
        plan = await self.plan(request)
        status: OperationStatus = "pending_approval" if plan.approval_required else "approved"
        operation_id = await self._store.insert(
            plan,
            status=status,
            requested_by=requester.subject,
            requested_by_name=requester.name,
            requested_via=requester.via,
            incident_id=request.incident_id,
            reason=request.reason,
            request_key=request_key,
            reply_to=reply_to,
        )
        log.info("operation_created", operation_id=operation_id, status=status, reasons=plan.approval_reasons)
        operation = await self._must_get(operation_id)
        if self._write_change_request is not None and operation.change_request is None:
            # Written before anyone is told about the record, so approvers see it with the request.
            await self._store.set_change_request(operation_id, await self._write_change_request(operation))
            operation = await self._must_get(operation_id)
        await self._changed(operation_id)
        await self._report(operation)
        self.start_if_ready(operation)
        return operation

    async def approve(self, operation_id: str, approver: Requester) -> Operation:
        """Approve a pending operation. The requester may not approve their own (four eyes)."""
        operation = await self._must_get(operation_id)
        if operation.requested_by == approver.subject:
            raise Forbidden("self_approval_forbidden", "the requester of an operation cannot approve it")
        if not await self._store.approve(operation_id, approver.name):
            raise Conflict("operation_not_pending", f"operation {operation_id} is {operation.status}")
        log.info("operation_approved", operation_id=operation_id, approver=approver.name)
        await self._changed(operation_id)
        operation = await self._must_get(operation_id)
        await self._report(operation)
        self.start_if_ready(operation)
        return operation

    async def reject(self, operation_id: str, rejecter: Requester, comment: str = "") -> Operation:
        """Reject a pending operation; it never runs. Anyone who may approve may reject, the requester
        included (withdrawing one's own request needs no second pair of eyes)."""
        await self._must_get(operation_id)  # 404 for an unknown id, before any 409
        if not await self._store.reject(operation_id, rejecter.name, comment):
            current = await self._must_get(operation_id)
            raise Conflict("operation_not_pending", f"operation {operation_id} is {current.status}")
        log.info("operation_rejected", operation_id=operation_id, rejecter=rejecter.name)
        await self._changed(operation_id)
        operation = await self._must_get(operation_id)
        await self._report(operation)
        return operation

    async def get(self, operation_id: str) -> Operation:
        """The change record, or NotFound."""
        return await self._must_get(operation_id)

    async def list(self, query: OperationsQuery) -> list[Operation]:
        """Change records, newest first."""
        return await self._store.search(query)

    async def _must_get(self, operation_id: str) -> Operation:
        operation = await self._store.get(operation_id)
        if operation is None:
            raise NotFound("operation_not_found", f"no operation {operation_id}")
        return operation

    # -- the agent path ----------------------------------------------------------------------
    async def handle_operation_request(self, envelope: Envelope) -> dict[str, Any]:
        """`operation.request` from incident response: the same policy as the API.

        Keyed on the envelope's idempotency key, so a redelivery returns the same record. A
        request the policy refuses is answered with a `rejected` result, not retried.
        """
        try:
            request = OperationRequest.model_validate(envelope.payload)
        except ValidationError as err:
            raise Invalid("operation_request_invalid", validation_message(err)) from err
        reply_to = {"workflow_id": envelope.workflow_id, "step": envelope.step, "key": envelope.idempotency_key}
        try:
            create = OperationCreate(
                operation=request.operation,
                instance_ids=request.instance_ids,
                tag_filter=request.tag_filter,
                parameters=request.parameters,
                reason=request.reason,
                incident_id=request.incident_id,
            )
            operation = await self.create(
                create,
                Requester(subject=f"agent:{envelope.sender}", name=request.requested_by, via="agent"),
                request_key=envelope.idempotency_key,
                reply_to=reply_to,
            )
        except (ValidationError, Unprocessable) as err:
            reason = validation_message(err) if isinstance(err, ValidationError) else err.code
            result = OperationResult(operation_id="", incident_id=request.incident_id, status=f"rejected:{reason}")
            await self._send_result(_result_envelope(reply_to, result, "rejected"))
            return result.model_dump()
        return {"operation_id": operation.id, "status": operation.status}

    async def _changed(self, operation_id: str) -> None:
        """Tell the change-request sync about a new status; its failures never reach the operation."""
        if self._on_change is None:
            return
        try:
            await self._on_change(operation_id)
        except Exception as err:
            # The retry loop finds the row due (or the next status change tracks it again).
            log.warning("operation_change_hook_failed", operation_id=operation_id, error=type(err).__name__)

    async def _report(self, operation: Operation) -> None:
        """Tell the requesting agent where its operation stands (API requests have nobody to tell)."""
        reply_to = await self._store.reply_to(operation.id)
        if reply_to is None:
            return
        result = OperationResult(
            operation_id=operation.id,
            incident_id=operation.incident_id,
            status=operation.status,
            per_instance={i.instance_id: i.status for i in operation.instances},
        )
        await self._send_result(_result_envelope(reply_to, result, operation.status))

    # -- execution ---------------------------------------------------------------------------
    def start_if_ready(self, operation: Operation) -> None:
        """Run an approved operation in the background when its window is open."""
        if operation.status != "approved":
            return
        window = window_check(
            self._settings.operations_maintenance_windows, self._clock(), applies=operation.window.applies
        )
        if not window.in_window:
            log.info("operation_waits_for_window", operation_id=operation.id, next_opens_at=window.next_opens_at)
            return
        self._spawn(operation.id)

    def _spawn(self, operation_id: str) -> None:
        task = asyncio.create_task(self._run(operation_id), name=f"operation:{operation_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, operation_id: str) -> None:
        if not await self._store.claim_run(operation_id, self._owner, _LEASE_S):
            return
        keeper = asyncio.create_task(self._keep_lease(operation_id))
        try:
            await self._changed(operation_id)
            operation = await self._must_get(operation_id)
            # Once per stage: a resumed run re-sends `running` under the same key, a no-op for the agent.
            await self._report(operation)
            plan = CommandPlan(
                operation_id=operation.id,
                document=operation.document,
                parameters=operation.parameters,
                max_concurrency=resolve_limit(operation.max_concurrency, len(operation.instances), minimum=1),
                max_errors=resolve_limit(operation.max_errors, len(operation.instances), minimum=0),
            )
            instances = [
                InstanceRun(
                    instance_id=i.instance_id,
                    status=i.status,
                    command_id=i.command_id,
                    response_code=i.response_code,
                    stdout=i.stdout,
                    stderr=i.stderr,
                    started_at=i.started_at,
                    finished_at=i.finished_at,
                )
                for i in operation.instances
            ]

            async def save(run: InstanceRun) -> None:
                await self._store.save_instance(operation_id, run)

            results = await self._runner.run(plan, instances, save)
            summary = {
                "total": len(results),
                "succeeded": sum(1 for r in results if r.status == "succeeded"),
                "failed": sum(1 for r in results if r.status in ("failed", "timed_out")),
                "cancelled": sum(1 for r in results if r.status == "cancelled"),
            }
            status: OperationStatus = (
                "succeeded"
                if summary["succeeded"] == summary["total"]
                else "failed"
                if summary["succeeded"] == 0
                else "partially_failed"
            )
            await self._store.finish(operation_id, status, summary)
            log.info("operation_finished", operation_id=operation_id, status=status, **summary)
            await self._changed(operation_id)
            await self._report(await self._must_get(operation_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            # The lease lapses and the scheduler resumes the record from what was recorded.
            log.exception("operation_run_failed", operation_id=operation_id)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper

    async def _keep_lease(self, operation_id: str) -> None:
        while True:
            await asyncio.sleep(_LEASE_S / 3)
            try:
                await self._store.renew(operation_id, self._owner, _LEASE_S)
            except Exception as err:
                log.warning("operation_lease_renew_failed", operation_id=operation_id, error=type(err).__name__)

    async def schedule_once(self) -> None:
        """Start approved operations whose window opened; resume those whose runner died."""
        for operation_id in await self._store.runnable():
            if any(t.get_name() == f"operation:{operation_id}" for t in self._tasks):
                continue
            operation = await self._store.get(operation_id)
            if operation is None:
                continue
            if operation.status == "running":
                self._spawn(operation_id)
            else:
                self.start_if_ready(operation)

    async def wait_idle(self) -> None:
        """Wait for running operations (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel running operations; their leases lapse and another instance resumes them."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _result_envelope(reply_to: dict[str, Any], result: OperationResult, stage: str) -> Envelope:
    """The reply to an agent's request, in its workflow and step; one per stage of the operation."""
    return Envelope(
        idempotency_key=f"{OPERATION_RESULT}:{reply_to.get('key')}:{stage}",
        kind=OPERATION_RESULT,
        workflow_id=reply_to.get("workflow_id"),
        step=reply_to.get("step"),
        sender=Agent.SERVICE_ORCHESTRATION.value,
        payload=result.model_dump(mode="json"),
    )
