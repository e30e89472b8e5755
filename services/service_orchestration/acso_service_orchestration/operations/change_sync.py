"""Operations as ServiceNow change requests, kept in step with the operation, never in its way.

When a ServiceNow integration is configured, every recorded operation (not a dry run) opens one
`change_request` whose correlation_id is the operation id, and each status change moves it along
(see change_requests.py for the mapping). Jira and the generic webhook get no change requests:
neither has a change record with a state model, and their tickets follow incidents only.

The push never blocks or fails the operation: a status change only marks the row due in
PostgreSQL and starts one attempt in the background; a failure is recorded on the row (attempts,
last error, next attempt) and the retry loop tries again with the ticket sync's backoff. Every
push is idempotent: the adapter finds a record an interrupted attempt created (by correlation_id)
before creating one, and every state write is an absolute value.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from acso_service_orchestration.itsm.models import ItsmSystem, TicketRef
from acso_service_orchestration.itsm.servicenow import ChangeState, ServiceNowAdapter
from acso_service_orchestration.operations.change_requests import (
    cancel_notes,
    change_request_spec,
    close_code,
    close_notes,
    target_state,
)
from acso_service_orchestration.operations.change_store import ChangeRequestStore, ChangeWork
from acso_service_orchestration.operations.models import Operation
from acso_service_orchestration.operations.store import OperationStore
from acso_service_orchestration.settings import MaintenanceWindow
from acso_service_orchestration.tickets.integrations import IntegrationRegistry
from acso_service_orchestration.tickets.sync import record_failed_push
from acso_shared.errors import Invalid, NotFound
from acso_shared.logging import get_logger

log = get_logger("acso.orchestration.change_requests")

SYSTEM = ItsmSystem.SERVICENOW


class ChangeRequestSync:
    """Opens and moves the change request of each operation, with retries."""

    def __init__(
        self,
        store: ChangeRequestStore,
        operations: OperationStore,
        registry: IntegrationRegistry,
        owner: str,
        *,
        windows: Callable[[], tuple[MaintenanceWindow, ...]],
        lease_s: int,
        retry_base_s: float,
        retry_max_s: float,
    ) -> None:
        self._store = store
        self._operations = operations
        self._registry = registry
        self._owner = owner
        self._windows = windows
        self._lease_s = lease_s
        self._retry_base_s = retry_base_s
        self._retry_max_s = retry_max_s
        self._tasks: set[asyncio.Task[str]] = set()

    @property
    def enabled(self) -> bool:
        """Whether a ServiceNow integration is configured."""
        return self._registry.is_configured(SYSTEM.value)

    async def changed(self, operation_id: str) -> None:
        """An operation was recorded or changed status: mark its change request due and try once in
        the background (the retry loop picks the row up if this process dies first)."""
        if not self.enabled:
            return
        await self._store.track(operation_id, SYSTEM)
        task = asyncio.create_task(self.sync_one(operation_id), name=f"change-request:{operation_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def sync_one(self, operation_id: str) -> str:
        """One attempt: `synced`, `failing`, or `deferred` when another attempt holds the row or
        nothing is due (that attempt, or the retry loop, finishes it)."""
        work = await self._store.claim(operation_id, SYSTEM, self._owner, self._lease_s)
        if work is None:
            return "deferred"
        try:
            status, state = await self._push(work)
        except asyncio.CancelledError:
            raise
        except Exception as err:

            async def record(error: str, retry_in_s: float) -> None:
                await self._store.failed(work, self._owner, error, retry_in_s)

            await record_failed_push(
                self._registry,
                SYSTEM,
                err,
                attempts_before=work.attempts,
                retry_base_s=self._retry_base_s,
                retry_max_s=self._retry_max_s,
                record=record,
                event="change_request_sync_failed",
                operation_id=operation_id,
            )
            return "failing"
        await self._store.succeeded(work, self._owner, status, state.value)
        log.info("change_request_synced", operation_id=operation_id, status=status, state=state.name)
        return "synced"

    async def _adapter(self) -> ServiceNowAdapter:
        adapter = await self._registry.adapter(SYSTEM)
        if not isinstance(adapter, ServiceNowAdapter):
            raise Invalid("itsm_no_change_requests", f"the {SYSTEM} integration does not support change requests")
        return adapter

    async def _push(self, work: ChangeWork) -> tuple[str, ChangeState]:
        operation = await self._operations.get(work.operation_id)
        if operation is None:
            raise NotFound("operation_not_found", f"no operation {work.operation_id}")
        adapter = await self._adapter()
        ref = work.ref
        # The state of a record found or created just now is not known: write the wanted one.
        state = work.state if ref is not None else None
        if ref is None:
            ref = await adapter.create_change_request(change_request_spec(operation, self._windows()))
            await self._store.save_ref(work, self._owner, ref)
        wanted = target_state(operation.status)
        if state == wanted.value:
            return operation.status, wanted
        return operation.status, await self._move(adapter, ref, operation, wanted)

    @staticmethod
    async def _move(
        adapter: ServiceNowAdapter, ref: TicketRef, operation: Operation, wanted: ChangeState
    ) -> ChangeState:
        if wanted is ChangeState.CLOSED:
            return await adapter.close_change_request(
                ref, close_code(operation.status), close_notes(operation), work_end=operation.finished_at
            )
        if wanted is ChangeState.CANCELED:
            return await adapter.cancel_change_request(ref, cancel_notes(operation))
        start = operation.started_at if wanted is ChangeState.IMPLEMENT else None
        return await adapter.set_change_state(ref, wanted, work_start=start)

    async def retry_due(self, limit: int = 20) -> int:
        """One pass of the retry loop: attempt every due row; returns how many were attempted."""
        due = await self._store.due(limit)
        for operation_id, _ in due:
            await self.sync_one(operation_id)
        return len(due)

    async def wait_idle(self) -> None:
        """Wait for the background attempts started so far (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def stop(self) -> None:
        """Cancel background attempts; their rows stay due and leased rows lapse."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
