"""The one SQS consumer: long polling, batches, visibility extension, idempotency, graceful drain.

Per message: parse the envelope, claim its idempotency key (a DynamoDB conditional write) before
any side effect, run the handler for its `kind` while a keeper task extends the message's
visibility and the claim's lease, then mark the key completed and delete the message. A failure
releases the claim and makes the message visible again after a backoff; SQS's redrive policy moves
it to the DLQ after `maxReceiveCount` receives. `stop()` stops receiving, lets in-flight work finish
within the grace period, and returns anything unfinished to the queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from acso_shared.aws.dynamodb import ClaimOutcome, IdempotencyStore
from acso_shared.aws.sqs import SQS_BATCH_MAX, ReceivedMessage, SqsClient
from acso_shared.errors import AcsoError, Invalid
from acso_shared.logging import bound_context, get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.tracing import trace_context

Handler = Callable[[Envelope], Awaitable[dict[str, Any] | None]]

log = get_logger("acso.consumer")


@dataclass
class ConsumerStats:
    received: int = 0
    succeeded: int = 0
    failed: int = 0
    duplicates: int = 0
    returned: int = 0
    in_flight: int = 0
    last_error: str | None = None


@dataclass
class ConsumerOptions:
    concurrency: int = 10
    wait_time_s: int = 20
    visibility_timeout_s: int = 60
    retry_backoff_base_s: float = 2.0
    retry_backoff_max_s: int = 60
    shutdown_grace_s: float = 20.0
    owner: str = field(default_factory=lambda: f"consumer-{uuid.uuid4().hex[:12]}")


class DeleteBatcher:
    """Deletes handled messages of one queue in batches: one DeleteMessageBatch for up to ten.

    Handlers finishing within `linger_s` of each other share one call; each caller still waits
    until its own message is deleted (or sees the error), so "handled" keeps meaning "deleted".
    """

    def __init__(self, sqs: SqsClient, queue_name: str, *, linger_s: float = 0.02) -> None:
        self._sqs = sqs
        self._queue = queue_name
        self._linger_s = linger_s
        self._pending: list[tuple[str, asyncio.Future[None]]] = []
        self._timer: asyncio.Task[None] | None = None

    async def delete(self, receipt_handle: str) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((receipt_handle, future))
        if len(self._pending) >= SQS_BATCH_MAX:
            await self._flush()
        elif self._timer is None:
            self._timer = asyncio.create_task(self._flush_later())
        await future

    async def _flush_later(self) -> None:
        await asyncio.sleep(self._linger_s)
        self._timer = None
        await self._flush()

    async def _flush(self) -> None:
        batch, self._pending = self._pending[:SQS_BATCH_MAX], self._pending[SQS_BATCH_MAX:]
        if not batch:
            return
        try:
            await self._sqs.delete_batch(self._queue, [handle for handle, _ in batch])
        except Exception as err:
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)


class SqsConsumer:
    """Consumes one queue and dispatches envelopes to handlers by `kind`."""

    def __init__(
        self,
        sqs: SqsClient,
        idempotency: IdempotencyStore,
        queue_name: str,
        handlers: dict[str, Handler],
        options: ConsumerOptions | None = None,
    ) -> None:
        self._sqs = sqs
        self._idempotency = idempotency
        self._queue = queue_name
        self._handlers = dict(handlers)
        self._options = options or ConsumerOptions()
        self._slots = asyncio.Semaphore(self._options.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        self._deleter = DeleteBatcher(sqs, queue_name)
        self.stats = ConsumerStats()

    @property
    def queue_name(self) -> str:
        return self._queue

    @property
    def running(self) -> bool:
        return self._poller is not None and not self._poller.done()

    def start(self) -> None:
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll_forever(), name=f"consumer:{self._queue}")

    async def stop(self) -> None:
        """Stop receiving; drain in-flight messages within the grace period; return the rest."""
        self._stopping.set()
        if self._poller is not None:
            # Let the current long poll finish rather than cancel it: SQS would still hand messages
            # to an abandoned poll, and they would stay invisible for the whole visibility timeout.
            try:
                await asyncio.wait_for(asyncio.shield(self._poller), timeout=self._options.wait_time_s + 5)
            except (TimeoutError, asyncio.CancelledError):
                self._poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._poller
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=self._options.shutdown_grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def _poll_forever(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            # Only ask for as many messages as we have free slots, so none sit invisible in memory.
            await self._slots.acquire()
            free = 1
            while free < 10 and not self._slots.locked():
                await self._slots.acquire()
                free += 1
            try:
                messages = await self._sqs.receive(
                    self._queue,
                    max_messages=free,
                    wait_time_s=self._options.wait_time_s,
                    visibility_timeout_s=self._options.visibility_timeout_s,
                )
                backoff = 1.0
            except asyncio.CancelledError:
                for _ in range(free):
                    self._slots.release()
                raise
            except Exception as err:
                for _ in range(free):
                    self._slots.release()
                self.stats.last_error = f"receive: {err}"
                log.warning("sqs_receive_failed", queue=self._queue, error=str(err), retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            for _ in range(free - len(messages)):
                self._slots.release()
            if self._stopping.is_set():
                # Received during shutdown: hand them straight back for another instance.
                for message in messages:
                    await self._return(message, delay_s=0)
                    self._slots.release()
                return
            for message in messages:
                task = asyncio.create_task(self._process(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _process(self, message: ReceivedMessage) -> None:
        self.stats.received += 1
        self.stats.in_flight += 1
        try:
            await self._handle(message)
        finally:
            self.stats.in_flight -= 1
            self._slots.release()

    async def _handle(self, message: ReceivedMessage) -> None:
        try:
            envelope = Envelope.model_validate_json(message.body)
        except ValidationError as err:
            # A malformed message can never succeed: let it go to the DLQ via the redrive policy.
            await self._fail(message, None, Invalid("envelope_invalid", str(err.errors()[:3])))
            return
        context = {
            "message_id": envelope.message_id,
            "kind": envelope.kind,
            "workflow_id": envelope.workflow_id,
            "idempotency_key": envelope.idempotency_key,
        }
        with (
            bound_context(**{k: v for k, v in context.items() if v}),
            trace_context(envelope.trace_header, envelope.kind),
        ):
            handler = self._handlers.get(envelope.kind)
            if handler is None:
                await self._fail(message, envelope, Invalid("unknown_kind", f"no handler for {envelope.kind!r}"))
                return
            lease_s = float(self._options.visibility_timeout_s)
            try:
                claim = await self._idempotency.claim(envelope.idempotency_key, self._options.owner, lease_s=lease_s)
            except Exception as err:
                await self._fail(message, envelope, err)
                return
            if claim.outcome is ClaimOutcome.COMPLETED:
                self.stats.duplicates += 1
                log.info("message_duplicate_skipped", receive_count=message.receive_count)
                await self._delete(message)
                return
            if claim.outcome is ClaimOutcome.IN_PROGRESS:
                # Someone else is working on it; look again once their lease could have lapsed.
                await self._return(message, delay_s=self._options.visibility_timeout_s)
                return
            keeper = asyncio.create_task(self._keep_alive(message, envelope.idempotency_key))
            try:
                result = await handler(envelope)
            except asyncio.CancelledError:
                keeper.cancel()
                await asyncio.shield(self._abandon(message, envelope.idempotency_key))
                raise
            except Exception as err:
                keeper.cancel()
                await self._release_quietly(envelope.idempotency_key)
                await self._fail(message, envelope, err)
                return
            keeper.cancel()
            await self._idempotency.complete(envelope.idempotency_key, self._options.owner, result)
            await self._delete(message)
            self.stats.succeeded += 1
            log.info("message_handled", receive_count=message.receive_count)

    async def _keep_alive(self, message: ReceivedMessage, key: str) -> None:
        """Extend visibility and the claim's lease at half the timeout while the handler runs."""
        timeout = self._options.visibility_timeout_s
        while True:
            await asyncio.sleep(timeout / 2)
            try:
                await self._sqs.change_visibility(self._queue, message.receipt_handle, timeout)
                await self._idempotency.renew(key, self._options.owner, lease_s=float(timeout))
            except Exception as err:
                log.warning("visibility_extension_failed", error=str(err))

    async def _fail(self, message: ReceivedMessage, envelope: Envelope | None, err: Exception) -> None:
        self.stats.failed += 1
        code = err.code if isinstance(err, AcsoError) else type(err).__name__
        self.stats.last_error = f"{code}: {err}"
        delay = min(
            int(self._options.retry_backoff_base_s * (2 ** max(message.receive_count - 1, 0))),
            self._options.retry_backoff_max_s,
        )
        log.error(
            "message_failed",
            error_code=code,
            error=str(err),
            receive_count=message.receive_count,
            retry_in_s=delay,
            exc_info=not isinstance(err, AcsoError),
        )
        await self._return(message, delay_s=delay)

    async def _abandon(self, message: ReceivedMessage, key: str) -> None:
        """Shutdown cut the handler short: release the claim and make the message visible now."""
        await self._release_quietly(key)
        await self._return(message, delay_s=0)
        self.stats.returned += 1
        log.warning("message_returned_on_shutdown")

    async def _release_quietly(self, key: str) -> None:
        try:
            await self._idempotency.release(key, self._options.owner)
        except Exception as err:
            log.warning("claim_release_failed", error=str(err))

    async def _return(self, message: ReceivedMessage, *, delay_s: int) -> None:
        try:
            await self._sqs.change_visibility(self._queue, message.receipt_handle, delay_s)
        except Exception as err:
            log.warning("visibility_reset_failed", error=str(err))

    async def _delete(self, message: ReceivedMessage) -> None:
        await self._deleter.delete(message.receipt_handle)
