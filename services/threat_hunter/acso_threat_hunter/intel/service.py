"""Intel use cases for the routes: submit/track imports, look up indicators, match observables.

No web imports: the routes build the request models and call these methods.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol
from uuid import UUID, uuid4

from acso_shared.errors import AcsoError, Invalid
from acso_shared.logging import get_logger

from .feeds import parse_csv, parse_plain
from .hygiene import HygienePolicy, apply_hygiene, load_warning_lists, warninglists_for
from .index import IndexedIndicator, IntelIndex
from .misp_import import parse_misp
from .models import (
    FeedFormat,
    ImportFailure,
    ImportJob,
    ImportRequest,
    ImportStatus,
    IndicatorOut,
    IndicatorPage,
    IndicatorType,
    MatchRequest,
    MatchResponse,
    Observable,
)
from .normalize import infer_indicator
from .records import IndicatorRecord, ParsedFeed
from .repository import UpsertResult
from .stix_import import parse_stix_bundle
from .taxii import fetch_taxii_bundle

log = get_logger(__name__)

MAX_FEED_BYTES = 64 * 1024 * 1024
_CONTENT_TYPES = {
    FeedFormat.STIX: ("application/stix+json;version=2.1", "json"),
    FeedFormat.TAXII: ("application/stix+json;version=2.1", "json"),
    FeedFormat.MISP: ("application/json", "json"),
    FeedFormat.PLAIN: ("text/plain; charset=utf-8", "txt"),
    FeedFormat.CSV: ("text/csv; charset=utf-8", "csv"),
}
# Rows committed by a transaction that began before the last refresh may carry an older
# updated_at than the cursor; re-reading this window catches them (upserts are idempotent).
REFRESH_OVERLAP = timedelta(seconds=60)


class RawFeedStore(Protocol):
    """Where raw feed files go: `acso_shared.aws.s3.ObjectStore` on the threat-intel bucket."""

    async def put(
        self, key: str, body: bytes, *, content_type: str = ..., metadata: dict[str, str] | None = None
    ) -> str: ...


class IntelStore(Protocol):
    """What the service needs from storage: `IntelRepository` in production."""

    async def create_import(self, job: ImportJob) -> None: ...
    async def save_import(self, job: ImportJob) -> None: ...
    async def get_import(self, import_id: UUID) -> ImportJob: ...
    async def upsert_indicators(
        self, source: str, records: Sequence[IndicatorRecord], *, import_id: UUID, now: datetime
    ) -> UpsertResult: ...
    async def find_by_value(
        self, itype: IndicatorType, value: str, now: datetime, limit: int = 100
    ) -> list[IndicatorOut]: ...
    async def match(self, observables: Sequence[Observable], now: datetime) -> MatchResponse: ...
    async def changes_since(
        self, after: tuple[datetime, int] | None, limit: int = 10_000
    ) -> tuple[list[IndexedIndicator], list[int], tuple[datetime, int] | None]: ...


def parse_feed(
    request: ImportRequest, content: bytes | str, now: datetime, hygiene: HygienePolicy | None = None
) -> ParsedFeed:
    """Parse one feed file in the request's format, then apply the feed hygiene (over-broad ranges
    refused, warning-list values reported); raises `Invalid` (stix_invalid, misp_invalid, feed_invalid)."""
    return apply_hygiene(_parse_format(request, content, now), hygiene or HygienePolicy())


def _parse_format(request: ImportRequest, content: bytes | str, now: datetime) -> ParsedFeed:
    conf, days = request.default_confidence, request.default_valid_days
    match request.format:
        case FeedFormat.STIX | FeedFormat.TAXII:
            return parse_stix_bundle(
                content, default_confidence=conf, default_valid_days=days, now=now, strict=request.strict
            )
        case FeedFormat.MISP:
            return parse_misp(content, default_confidence=conf, default_valid_days=days, now=now)
        case FeedFormat.PLAIN:
            return parse_plain(
                content,
                indicator_type=request.indicator_type,
                default_confidence=conf,
                default_valid_days=days,
                now=now,
            )
        case FeedFormat.CSV:
            assert request.csv_columns is not None  # enforced by ImportRequest's validator
            return parse_csv(
                content,
                columns=request.csv_columns,
                delimiter=request.csv_delimiter,
                indicator_type=request.indicator_type,
                default_confidence=conf,
                default_valid_days=days,
                now=now,
            )


def raw_object_key(source: str, job_id: UUID, fmt: FeedFormat, now: datetime) -> str:
    """Key of a raw feed file: partitioned by source and day so lifecycle rules and audits stay simple."""
    return f"raw/{source}/{now:%Y/%m/%d}/{job_id}.{_CONTENT_TYPES[fmt][1]}"


class IntelService:
    """Imports run in background tasks the service owns; `aclose()` cancels and awaits them."""

    def __init__(
        self,
        repo: IntelStore,
        raw_store: RawFeedStore,
        *,
        index: IntelIndex | None = None,
        batch_size: int = 5000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        hygiene: HygienePolicy | None = None,
    ) -> None:
        self._repo = repo
        self._hygiene = hygiene or HygienePolicy()
        self._raw = raw_store
        self._index = index
        self._index_loaded = False
        self._cursor: tuple[datetime, int] | None = None
        self._batch = batch_size
        self._now = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresh_lock = asyncio.Lock()

    async def submit_import(self, request: ImportRequest, content: bytes = b"") -> ImportJob:
        """Validate and parse the feed now (malformed input fails the request), then store it in the
        background; returns the job to poll. TAXII imports fetch in the background too."""
        now = self._now()
        if len(content) > MAX_FEED_BYTES:
            raise Invalid("feed_too_large", f"feed is {len(content)} bytes, the limit is {MAX_FEED_BYTES}")
        job = ImportJob(
            id=uuid4(), source=request.source, format=request.format, status=ImportStatus.QUEUED, submitted_at=now
        )
        feed: ParsedFeed | None = None
        if request.format is not FeedFormat.TAXII:
            if not content:
                raise Invalid("feed_invalid", "the feed is empty")
            feed = await asyncio.to_thread(parse_feed, request, content, now, self._hygiene)
            job.raw_object_key = await self._store_raw(request, job.id, content, now)
        await self._repo.create_import(job)
        task = asyncio.create_task(self._run(job, request, feed), name=f"intel-import-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _store_raw(self, request: ImportRequest, job_id: UUID, content: bytes, now: datetime) -> str:
        key = raw_object_key(request.source, job_id, request.format, now)
        await self._raw.put(
            key,
            content,
            content_type=_CONTENT_TYPES[request.format][0],
            metadata={
                "source": request.source,
                "format": request.format.value,
                "sha256": hashlib.sha256(content).hexdigest(),
            },
        )
        return key

    async def _run(self, job: ImportJob, request: ImportRequest, feed: ParsedFeed | None) -> None:
        job.status = ImportStatus.RUNNING
        job.started_at = self._now()
        try:
            await self._repo.save_import(job)
            if feed is None:
                assert request.taxii is not None  # TAXII is the only format parsed here
                fetched = await asyncio.to_thread(fetch_taxii_bundle, request.taxii)
                body = json.dumps(fetched.bundle).encode()
                job.raw_object_key = await self._store_raw(request, job.id, body, job.started_at)
                feed = await asyncio.to_thread(parse_feed, request, body, job.started_at, self._hygiene)
            job.total = len(feed.indicators)
            job.counts.parsed = len(feed.indicators)
            job.counts.skipped = feed.skipped
            job.warnings = feed.warnings
            for start in range(0, len(feed.indicators), self._batch):
                chunk = feed.indicators[start : start + self._batch]
                result = await self._repo.upsert_indicators(request.source, chunk, import_id=job.id, now=self._now())
                job.counts.created += result.created
                job.counts.updated += result.updated
                job.processed += len(chunk)
                await self._repo.save_import(job)
            await self._refresh_after_import(job)
            job.status = ImportStatus.SUCCEEDED
        except asyncio.CancelledError:
            job.status = ImportStatus.FAILED
            job.error = ImportFailure(code="intel_import_cancelled", message="the service stopped during the import")
            raise
        except AcsoError as err:
            job.status = ImportStatus.FAILED
            job.error = ImportFailure(code=err.code, message=err.message)
        except Exception:
            log.exception("intel_import_failed", import_id=str(job.id), source=job.source)
            job.status = ImportStatus.FAILED
            job.error = ImportFailure(code="intel_import_failed", message="internal error, see the service log")
        finally:
            job.finished_at = self._now()
            await asyncio.shield(self._repo.save_import(job))
        log.info("intel_import_done", import_id=str(job.id), source=job.source, status=job.status.value)

    async def _refresh_after_import(self, job: ImportJob) -> None:
        """Make the new indicators matchable before the job reports success; the data is stored either
        way, so a failed refresh is logged and left to the periodic refresh."""
        if self._index is None:
            return
        try:
            await self.refresh_index()
        except Exception:
            log.exception("intel_index_refresh_failed", import_id=str(job.id))

    async def get_import(self, import_id: UUID) -> ImportJob:
        """The status resource of an import; `NotFound` if unknown."""
        return await self._repo.get_import(import_id)

    async def find_indicators(self, value: str, limit: int = 100) -> IndicatorPage:
        """`GET /v1/intel/indicators?value=`: stored indicators for a value (active or not)."""
        try:
            itype, canonical = infer_indicator(value)
        except Invalid as err:
            raise Invalid("invalid_indicator_value", err.message) from err
        items = await self._repo.find_by_value(itype, canonical, self._now(), limit)
        await load_warning_lists()
        for item in items:
            item.warninglists = list(warninglists_for(item.value))
        return IndicatorPage(items=items)

    async def match(self, request: MatchRequest) -> MatchResponse:
        """`POST /v1/intel/match`: the in-memory index once loaded, the SQL path before that; each
        match says which MISP warning lists its indicator's value is on."""
        now = self._now()
        if self._index is not None and self._index_loaded:
            response = self._index.match(request.observables, now)
        else:
            response = await self._repo.match(request.observables, now)
        await load_warning_lists()
        for hit in response.matches:
            hit.warninglists = list(warninglists_for(hit.indicator_value))
        return response

    async def refresh_index(self) -> int:
        """Apply the indicator change feed to the in-memory index; the first call loads everything.

        Returns the number of rows applied. Safe to call concurrently (one refresh at a time).
        """
        if self._index is None:
            return 0
        async with self._refresh_lock:
            applied = 0
            cursor = (self._cursor[0] - REFRESH_OVERLAP, 0) if self._cursor else None
            while True:
                upserts, removals, next_cursor = await self._repo.changes_since(cursor)
                if next_cursor is None:
                    break
                for ind in upserts:
                    self._index.upsert(ind)
                for ind_id in removals:
                    self._index.remove(ind_id)
                applied += len(upserts) + len(removals)
                cursor = next_cursor
                if self._cursor is None or next_cursor > self._cursor:
                    self._cursor = next_cursor
            self._index.prune(self._now())
            self._index_loaded = True
            return applied

    async def aclose(self) -> None:
        """Cancel running imports (they are marked failed) and wait for them."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
