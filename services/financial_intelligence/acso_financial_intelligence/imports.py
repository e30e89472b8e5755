"""Cost file imports: spool the upload to a bounded temp file, parse it in the background, report progress.

A job is `receiving` while the body streams in, `queued` once spooled, `running` while parsed
(rows and bytes read are written to the job every half second), then `succeeded` or `failed`
with the malformed line (CSV) or row (Parquet). Parsing finishes before anything is stored, and
the store upserts on the natural key: a malformed file stores nothing, a re-imported file
replaces its own rows instead of doubling them.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gzip
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from acso_financial_intelligence.costs.importers import (
    ImportProgress,
    aggregate_daily,
    iter_cur_csv,
    iter_focus_csv,
    iter_focus_parquet,
)
from acso_financial_intelligence.costs.models import CostRecord
from acso_financial_intelligence.models import ImportFormat, ImportJob, ImportStatus
from acso_financial_intelligence.store import CostSource, CostStore
from acso_shared.errors import AcsoError, Invalid, PayloadTooLarge, UnsupportedMediaType
from acso_shared.logging import get_logger

log = get_logger("acso.finance.imports")

MEDIA_SUFFIXES: dict[str, str] = {
    "text/csv": ".csv",
    "application/vnd.apache.parquet": ".parquet",
    "application/gzip": ".csv.gz",
}
"""Accepted upload media types and the file name suffix the parsers recognise them by."""

PROGRESS_INTERVAL_S = 0.5
_CHUNK = 1024 * 1024

Analyze = Callable[[], Awaitable[object]]


def suffix_for(media_type: str) -> str:
    """The spool file suffix of an upload's media type (415 for anything else)."""
    suffix = MEDIA_SUFFIXES.get(media_type)
    if suffix is None:
        raise UnsupportedMediaType(
            "unsupported_media_type", f"expected one of {', '.join(MEDIA_SUFFIXES)}, got {media_type or 'none'}"
        )
    return suffix


def detect_format(path: Path) -> ImportFormat:
    """FOCUS or CUR from the file: Parquet exports are FOCUS; a CSV is recognised by its header."""
    if path.suffix == ".parquet":
        return ImportFormat.FOCUS
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error, EOFError) as err:
        raise Invalid("cost_file_invalid", f"line 1: unreadable header: {err}", details={"line": 1}) from err
    if "lineItem/UsageStartDate" in header:
        return ImportFormat.CUR
    if "ChargePeriodStart" in header:
        return ImportFormat.FOCUS
    raise Invalid(
        "cost_file_invalid", "line 1: neither a FOCUS nor a Cost and Usage Report header", details={"line": 1}
    )


def read_cost_file(path: Path, fmt: ImportFormat, progress: Callable[[ImportProgress], None]) -> list[CostRecord]:
    """Parse the whole file into daily records per slice and resource (raises Invalid on a malformed row)."""
    records: Iterator[CostRecord]
    if fmt is ImportFormat.CUR:
        if path.suffix == ".parquet":
            raise Invalid("cost_file_invalid", "Cost and Usage Report imports read CSV; Parquet is FOCUS only")
        records = iter_cur_csv(path, progress=progress)
    elif path.suffix == ".parquet":
        records = iter_focus_parquet(path, progress=progress)
    else:
        records = iter_focus_csv(path, progress=progress)
    return aggregate_daily(records, keep_resources=True)


class ImportService:
    """Runs import jobs; `close()` cancels and awaits the ones in flight."""

    def __init__(self, store: CostStore, *, max_bytes: int, spool_dir: Path | None, analyze: Analyze) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._spool_dir = spool_dir
        self._analyze = analyze
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(
        self,
        body: AsyncIterator[bytes],
        *,
        media_type: str,
        fmt: ImportFormat | None,
        requested_by: str,
        declared_length: int | None,
    ) -> ImportJob:
        """Spool `body` and queue the job; 413 when it exceeds the size bound (declared or actual)."""
        suffix = suffix_for(media_type)
        if declared_length is not None and declared_length > self._max_bytes:
            raise PayloadTooLarge(
                "payload_too_large", f"cost file of {declared_length} bytes exceeds {self._max_bytes}"
            )
        job = await self._store.create_import(media_type, fmt.value if fmt else None, requested_by)
        if self._spool_dir is not None:
            self._spool_dir.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, removed by the job
            prefix=f"cost-import-{job.id}-", suffix=suffix, dir=self._spool_dir, delete=False
        )
        path = Path(handle.name)
        received = 0
        try:
            with handle:
                async for chunk in body:
                    received += len(chunk)
                    if received > self._max_bytes:
                        raise PayloadTooLarge("payload_too_large", f"cost file exceeds {self._max_bytes} bytes")
                    await asyncio.to_thread(handle.write, chunk)
            if received == 0:
                raise Invalid("body_missing", "the cost file is empty")
        except AcsoError as err:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            await self._store.update_import(
                job.id,
                status=ImportStatus.FAILED,
                bytes_received=received,
                error={"code": err.code, "message": err.message},
            )
            raise
        except BaseException:
            await asyncio.to_thread(path.unlink, missing_ok=True)
            await self._store.update_import(
                job.id,
                status=ImportStatus.FAILED,
                bytes_received=received,
                error={"code": "upload_interrupted", "message": "the upload broke off"},
            )
            raise
        await self._store.update_import(
            job.id, status=ImportStatus.QUEUED, bytes_received=received, total_bytes=received
        )
        task = asyncio.create_task(self._run(job.id, path, fmt), name=f"cost-import-{job.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        queued = await self._store.get_import(job.id)
        assert queued is not None
        return queued

    async def _run(self, job_id: uuid.UUID, path: Path, requested: ImportFormat | None) -> None:
        latest: list[ImportProgress] = []
        try:
            await self._store.update_import(job_id, status=ImportStatus.RUNNING)
            fmt = requested if requested is not None else await asyncio.to_thread(detect_format, path)
            await self._store.update_import(job_id, format=fmt.value)
            parse = asyncio.create_task(asyncio.to_thread(read_cost_file, path, fmt, latest.append))
            while not parse.done():
                await asyncio.wait({parse}, timeout=PROGRESS_INTERVAL_S)
                if latest:
                    now = latest[-1]
                    # Parquet progress counts row-group bytes, not file bytes: report against its own total.
                    await self._store.update_import(
                        job_id, rows_read=now.rows, bytes_read=now.bytes_read, total_bytes=now.total_bytes
                    )
                    del latest[:-1]
            records = parse.result()
            source: CostSource = "cur" if fmt is ImportFormat.CUR else "focus"
            stored = await self._store.replace_records(
                source, "detail", records, at=datetime.now(UTC), import_id=job_id
            )
            done = latest[-1] if latest else None
            days = [r.usage_date for r in records]
            total = (done.total_bytes or done.bytes_read) if done else 0
            await self._store.update_import(
                job_id,
                status=ImportStatus.SUCCEEDED,
                records_stored=stored,
                rows_read=done.rows if done else 0,
                bytes_read=total,
                total_bytes=total,
                first_day=min(days) if days else None,
                last_day=max(days) if days else None,
            )
            log.info("cost_import_succeeded", job_id=str(job_id), records=stored)
        except Invalid as err:
            log.info("cost_import_rejected", job_id=str(job_id), code=err.code, message=err.message)
            error: dict[str, object] = {
                "code": err.code,
                "message": err.message,
                **{k: err.details[k] for k in ("line", "row", "column") if k in err.details},
            }
            await self._store.update_import(job_id, status=ImportStatus.FAILED, error=error)
            return
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await self._store.update_import(
                    job_id,
                    status=ImportStatus.FAILED,
                    error={"code": "import_interrupted", "message": "the service stopped during the import"},
                )
            raise
        except Exception:
            log.exception("cost_import_failed", job_id=str(job_id))
            await self._store.update_import(
                job_id, status=ImportStatus.FAILED, error={"code": "import_failed", "message": "internal error"}
            )
            return
        finally:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        try:
            await self._analyze()
        except Exception:
            # The data is stored; a failed analysis is retried by the next refresh or import.
            log.exception("cost_analysis_failed", job_id=str(job_id))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
