"""Hunts: run rules over CloudTrail records, store what was read, turn hits into alerts. No web imports.

A hunt runs in a background task the service owns (`aclose()` cancels them); its status resource
is a row of `hunts`. Records come from S3 objects, an uploaded body, a time window (the event
store, plus LookupEvents when enabled), or, for scheduled hunts, every stored event no scheduled
hunt has seen (by delivery, so late events are hunted exactly once, with already-hunted events of
the correlations' timespan as correlation context). Every record read is stored in the event store
(idempotently) so triage sees it as context. Hits become generic alerts sent to the supervisor as
`alert.ingest` tasks; their ids are deterministic, so a re-run is deduplicated downstream.
"""

from __future__ import annotations

import asyncio
import queue
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid4

import asyncpg

from acso_shared.errors import AcsoError, Invalid, NotFound
from acso_shared.hunting.behaviour import Baseline, filter_new_behaviour
from acso_shared.hunting.cloudtrail import iter_records
from acso_shared.hunting.dedup import dedupe_hits
from acso_shared.hunting.models import Hit, RuleError
from acso_shared.hunting.pack import RulePack
from acso_shared.hunting.trail_files import KeyFilter
from acso_shared.hunting.values import parse_time
from acso_shared.logging import get_logger
from acso_threat_hunter.cloudtrail.lookup import CloudTrailLookup
from acso_threat_hunter.cloudtrail.store import EventStore

from .alerts import alert_batches, hit_alert_id, hit_to_alert
from .baseline import PostgresBaseline
from .models import (
    HitSummary,
    HuntFailure,
    HuntJob,
    HuntStatus,
    HuntTrigger,
    S3Source,
    WindowSource,
)
from .rules import RuleLibrary

log = get_logger(__name__)

STORE_BATCH = 1000
STREAM_QUEUE_BATCHES = 4  # parsed objects waiting for the evaluating thread
MAX_UPLOAD_BYTES = 64 * 1024 * 1024

AlertSender = Callable[[dict[str, Any], str], Awaitable[None]]


class ObjectReader(Protocol):
    """Reads one S3 object (bucket, key) as bytes."""

    async def __call__(self, bucket: str, key: str) -> bytes: ...


class KeyLister(Protocol):
    async def __call__(self, bucket: str, prefix: str) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class HuntInput:
    """Where a hunt's records come from: exactly one of these."""

    s3: S3Source | None = None
    window: WindowSource | None = None
    upload: bytes | None = None
    delivery: bool = False  # every stored event not yet hunted (scheduled hunts)

    @property
    def kind(self) -> str:
        if self.delivery:
            return "delivery"
        return "s3" if self.s3 else "window" if self.window else "upload"


def _job(row: asyncpg.Record) -> HuntJob:
    return HuntJob(
        id=row["id"],
        status=HuntStatus(row["status"]),
        trigger=HuntTrigger(row["trigger"]),
        requested_by=row["requested_by"],
        source=row["request"]["source"],
        rule_ids=row["rule_ids"],
        submitted_at=row["submitted_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        events_read=row["events_read"],
        hits=[HitSummary.model_validate(h) for h in row["hits"]],
        rule_errors=[RuleError.model_validate(e) for e in row["rule_errors"]],
        alerts_sent=row["alerts_sent"],
        error=HuntFailure.model_validate(row["error"]) if row["error"] else None,
    )


class HuntRepository:
    """Every SQL statement on `hunts` (needs a pool with the JSON codecs of `acso_shared.db`)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        """The hunts' database pool."""
        return self._pool

    async def create(self, job: HuntJob, request: dict[str, Any]) -> None:
        """Record a new hunt."""
        await self._pool.execute(
            "INSERT INTO hunts (id, status, trigger, requested_by, request, submitted_at) VALUES ($1,$2,$3,$4,$5,$6)",
            job.id,
            job.status.value,
            job.trigger.value,
            job.requested_by,
            request,
            job.submitted_at,
        )

    async def save(self, job: HuntJob) -> None:
        """Persist a hunt's progress and outcome."""
        await self._pool.execute(
            "UPDATE hunts SET status=$2, rule_ids=$3, started_at=$4, finished_at=$5, events_read=$6, hits=$7, "
            "rule_errors=$8, alerts_sent=$9, error=$10 WHERE id=$1",
            job.id,
            job.status.value,
            job.rule_ids,
            job.started_at,
            job.finished_at,
            job.events_read,
            [h.model_dump(mode="json") for h in job.hits],
            [e.model_dump(mode="json") for e in job.rule_errors],
            job.alerts_sent,
            job.error.model_dump(mode="json") if job.error else None,
        )

    async def get(self, hunt_id: UUID) -> HuntJob:
        """A hunt; `NotFound("hunt_not_found")`."""
        row = await self._pool.fetchrow("SELECT * FROM hunts WHERE id = $1", hunt_id)
        if row is None:
            raise NotFound("hunt_not_found", f"no hunt {hunt_id}")
        return _job(row)


def _evaluate(pack: RulePack, records: Sequence[dict[str, Any]], context: Sequence[dict[str, Any]]) -> list[Hit]:
    return pack.evaluate(records, context=context)


class HuntService:
    """Submits and runs hunts; every dependency is injected."""

    def __init__(
        self,
        repo: HuntRepository,
        rules: RuleLibrary,
        events: EventStore,
        *,
        read_object: ObjectReader,
        list_keys: KeyLister,
        default_bucket: str,
        send_alerts: AlertSender,
        lookup: CloudTrailLookup | None = None,
        max_events: int = 5_000_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        baseline: Baseline | None = None,
    ) -> None:
        self._repo = repo
        self._rules = rules
        self._events = events
        self._read = read_object
        self._list = list_keys
        self._bucket = default_bucket
        self._send = send_alerts
        self._lookup = lookup
        self._max_events = max_events
        self._now = clock
        self._tasks: set[asyncio.Task[None]] = set()
        # New-behaviour rules remember what they saw in the same database as the hunts.
        self._baseline = baseline if baseline is not None else PostgresBaseline(repo.pool)

    async def submit(
        self,
        source: HuntInput,
        *,
        rule_ids: list[str] | None,
        send_alerts: bool = True,
        requested_by: str | None = None,
        trigger: HuntTrigger = HuntTrigger.API,
    ) -> HuntJob:
        """Record the hunt and start it in the background; returns the job to poll."""
        if source.upload is not None:
            if not source.upload:
                raise Invalid("hunt_upload_empty", "the uploaded body holds no CloudTrail records")
            if len(source.upload) > MAX_UPLOAD_BYTES:
                raise Invalid("hunt_upload_too_large", f"the upload is over {MAX_UPLOAD_BYTES} bytes")
        job = HuntJob(
            id=uuid4(),
            status=HuntStatus.QUEUED,
            trigger=trigger,
            requested_by=requested_by,
            source=source.kind,
            rule_ids=list(rule_ids or []),
            submitted_at=self._now(),
        )
        described = {
            "source": source.kind,
            "rule_ids": rule_ids,
            "send_alerts": send_alerts,
            "s3": source.s3.model_dump(mode="json") if source.s3 else None,
            "window": source.window.model_dump(mode="json") if source.window else None,
            "delivery": source.delivery,
        }
        await self._repo.create(job, described)
        task = asyncio.create_task(self._run(job, source, rule_ids, send_alerts), name=f"hunt-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def get(self, hunt_id: UUID) -> HuntJob:
        """The status resource of a hunt."""
        return await self._repo.get(hunt_id)

    async def run(self, job_id: UUID) -> HuntJob:
        """Wait for a hunt started by this process (scheduled hunts finish inside their task)."""
        for task in list(self._tasks):
            if task.get_name() == f"hunt-{job_id}":
                await asyncio.shield(task)
        return await self._repo.get(job_id)

    async def _records(self, source: HuntInput) -> list[dict[str, Any]]:
        """All records of an upload or a window, at most `max_events` (parsing runs off the event loop)."""
        if source.upload is not None:
            return await asyncio.to_thread(_read_all, [source.upload], self._max_events)
        assert source.window is not None
        window = source.window
        records = await self._events.window(window.start, window.end, self._max_events)
        if self._lookup is not None:
            rows = await self._lookup.lookup([], window.start, window.end, self._max_events)
            known = {r.get("eventID") for r in records}
            records += [dict(r.raw) for r in rows if r.event_id not in known]
        return records

    async def _s3_keys(self, s3: S3Source, bucket: str) -> list[str]:
        """The objects to read: the given keys, or the prefix's log files the filters keep (never digests)."""
        if s3.keys:
            return list(s3.keys)
        keys = KeyFilter(frozenset(s3.accounts), frozenset(s3.regions), s3.since, s3.until)
        return keys.select(await self._list(bucket, s3.prefix or ""))

    async def _s3_batches(self, s3: S3Source) -> AsyncIterator[list[dict[str, Any]]]:
        """Records of the S3 objects, one object at a time (memory: about one object)."""
        bucket = s3.bucket or self._bucket
        remaining = self._max_events
        for key in await self._s3_keys(s3, bucket):
            if remaining <= 0:
                return
            try:
                data = await self._read(bucket, key)
            except NotFound as err:
                raise Invalid("hunt_object_not_found", f"s3://{bucket}/{key} does not exist") from err
            batch = await asyncio.to_thread(_read_all, [data], remaining)
            del data
            remaining -= len(batch)
            yield batch

    async def _hunt_stream(
        self,
        job: HuntJob,
        pack: RulePack,
        included: list[str],
        batches: AsyncIterator[list[dict[str, Any]]],
        send_alerts: bool,
    ) -> None:
        """Evaluate batches as they are read: a thread runs the pack over a bounded queue, so
        memory holds a few objects' records plus what correlations matched."""
        feed: queue.Queue[list[dict[str, Any]] | None] = queue.Queue(maxsize=STREAM_QUEUE_BATCHES)

        def records() -> Iterator[dict[str, Any]]:
            while (batch := feed.get()) is not None:
                yield from batch

        evaluation = asyncio.ensure_future(asyncio.to_thread(pack.evaluate, records()))
        try:
            async for batch in batches:
                job.events_read += len(batch)
                for start in range(0, len(batch), STORE_BATCH):
                    await self._events.add(batch[start : start + STORE_BATCH])
                if not await _put(feed, batch, evaluation):
                    break
        finally:
            await _put(feed, None, evaluation)
        hits = dedupe_hits(await filter_new_behaviour(await evaluation, pack.behaviours, self._baseline))
        job.rule_errors = pack.errors
        await self._rules.record_errors(pack.errors, included)
        job.hits = [_summary(hit) for hit in hits]
        if send_alerts and hits:
            job.alerts_sent = await self._send_hits(job.id, hits)

    async def _run(self, job: HuntJob, source: HuntInput, rule_ids: list[str] | None, send_alerts: bool) -> None:
        job.status = HuntStatus.RUNNING
        job.started_at = self._now()
        try:
            await self._repo.save(job)
            pack, included = await self._rules.pack(rule_ids)
            job.rule_ids = included
            if source.delivery:
                # Claimed events are marked hunted only once their alerts are sent.
                async with self._events.claim_unhunted(self._max_events) as records:
                    context = await self._context(pack, records)
                    await self._hunt(job, pack, included, records, context, send_alerts)
            elif source.s3 is not None:
                await self._hunt_stream(job, pack, included, self._s3_batches(source.s3), send_alerts)
            else:
                records = await self._records(source)
                if source.window is None:
                    for start in range(0, len(records), STORE_BATCH):
                        await self._events.add(records[start : start + STORE_BATCH])
                await self._hunt(job, pack, included, records, [], send_alerts)
            job.status = HuntStatus.SUCCEEDED
        except asyncio.CancelledError:
            job.status = HuntStatus.FAILED
            job.error = HuntFailure(code="hunt_cancelled", message="the service stopped during the hunt")
            raise
        except AcsoError as err:
            job.status = HuntStatus.FAILED
            job.error = HuntFailure(code=err.code, message=err.message)
        except Exception:
            log.exception("hunt_failed", hunt_id=str(job.id))
            job.status = HuntStatus.FAILED
            job.error = HuntFailure(code="hunt_failed", message="internal error, see the service log")
        finally:
            job.finished_at = self._now()
            await asyncio.shield(self._repo.save(job))
        log.info("hunt_done", hunt_id=str(job.id), status=job.status.value, hits=len(job.hits))

    async def _hunt(
        self,
        job: HuntJob,
        pack: RulePack,
        included: list[str],
        records: list[dict[str, Any]],
        context: list[dict[str, Any]],
        send_alerts: bool,
    ) -> None:
        job.events_read = len(records)
        hits = await asyncio.to_thread(_evaluate, pack, records, context)
        hits = dedupe_hits(await filter_new_behaviour(hits, pack.behaviours, self._baseline))
        job.rule_errors = pack.errors
        await self._rules.record_errors(pack.errors, included)
        job.hits = [_summary(hit) for hit in hits]
        if send_alerts and hits:
            job.alerts_sent = await self._send_hits(job.id, hits)

    async def _context(self, pack: RulePack, records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Already-hunted events within the correlations' timespan of the new ones (late ones included)."""
        span = pack.correlation_span_s
        times = [t for t in (parse_time(r.get("eventTime")) for r in records) if t is not None]
        if not span or not times:
            return []
        margin = timedelta(seconds=span)
        return await self._events.hunted_between(min(times) - margin, max(times) + margin, self._max_events)

    async def _send_hits(self, hunt_id: UUID, hits: Sequence[Hit]) -> int:
        alerts: dict[str, dict[str, Any]] = {}
        evidence: dict[str, list[dict[str, Any]]] = {}
        for hit in hits:
            alert = hit_to_alert(hit, hunt_id=str(hunt_id), now=self._now())
            alerts.setdefault(alert["id"], alert)
            evidence.setdefault(alert["id"], hit.events)
        for n, payload in enumerate(alert_batches(list(alerts.values()), evidence)):
            # Keyed on the hunt and batch: a retried hunt task resends the same keys.
            await self._send(payload, f"alert.ingest:hunt:{hunt_id}:{n}")
        return len(alerts)

    async def aclose(self) -> None:
        """Cancel running hunts (they are marked failed) and wait for them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _put(
    feed: queue.Queue[list[dict[str, Any]] | None], item: list[dict[str, Any]] | None, evaluation: asyncio.Future[Any]
) -> bool:
    """Hand a batch to the evaluating thread, waiting while its queue is full; False once it ended."""
    while not evaluation.done():
        try:
            feed.put_nowait(item)
            return True
        except queue.Full:
            await asyncio.sleep(0.01)
    return False


def _read_all(blobs: Sequence[bytes], limit: int) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for blob in blobs:
        for record in _limited(iter_records(blob), limit - len(records)):
            records.append(record)
        if len(records) >= limit:
            break
    return records


def _limited(records: Iterator[dict[str, Any]], remaining: int) -> Iterator[dict[str, Any]]:
    for n, record in enumerate(records):
        if n >= remaining:
            return
        yield record


def _summary(hit: Hit) -> HitSummary:
    return HitSummary(
        rule_id=hit.rule_id,
        title=hit.title,
        level=hit.level,
        techniques=list(hit.techniques),
        alert_id=hit_alert_id(hit),
        event_ids=hit.event_ids,
        first_seen=hit.first_seen,
        last_seen=hit.last_seen,
    )
