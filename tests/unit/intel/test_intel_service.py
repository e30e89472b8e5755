"""The import service end to end over an in-memory repository: parse, store raw, upsert, index, match."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from acso_shared.errors import Invalid, NotFound
from acso_threat_hunter.intel.index import IndexedIndicator, IntelIndex
from acso_threat_hunter.intel.models import (
    FeedFormat,
    ImportJob,
    ImportRequest,
    ImportStatus,
    IndicatorOut,
    MatchEngine,
    MatchRequest,
    Observable,
)
from acso_threat_hunter.intel.records import IndicatorRecord
from acso_threat_hunter.intel.repository import UpsertResult
from acso_threat_hunter.intel.service import IntelService

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parents[2] / "fixtures" / "intel"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


class MemoryRepository:
    """Implements the repository methods the service calls, keyed like the SQL table (source, type, value)."""

    def __init__(self) -> None:
        self.jobs: dict[UUID, ImportJob] = {}
        self.rows: dict[tuple[str, str, str], tuple[int, str, IndicatorRecord, datetime]] = {}

    async def create_import(self, job: ImportJob) -> None:
        self.jobs[job.id] = job.model_copy(deep=True)

    async def save_import(self, job: ImportJob) -> None:
        self.jobs[job.id] = job.model_copy(deep=True)

    async def get_import(self, import_id: UUID) -> ImportJob:
        if import_id not in self.jobs:
            raise NotFound("intel_import_not_found", str(import_id))
        return self.jobs[import_id]

    async def upsert_indicators(self, source, records, *, import_id, now) -> UpsertResult:
        created = 0
        for rec in records:
            key = (source, rec.type.value, rec.value)
            row_id = self.rows[key][0] if key in self.rows else len(self.rows) + 1
            created += key not in self.rows
            self.rows[key] = (row_id, source, rec, now)
        return UpsertResult(created=created, updated=len(records) - created)

    async def find_by_value(self, itype, value, now, limit=100):
        return [
            IndicatorOut(
                id=i,
                source=src,
                external_id=r.external_id,
                type=r.type,
                value=r.value,
                confidence=r.confidence,
                first_seen=t,
                last_seen=t,
                active=True,
            )
            for (src, kind, val), (i, _, r, t) in self.rows.items()
            if (kind, val) == (itype.value, value)
        ][:limit]

    async def match(self, observables, now):
        """The SQL path's contract, served by an index rebuilt from the rows."""
        index = IntelIndex()
        for ind in (await self.changes_since(None))[0]:
            index.upsert(ind)
        return index.match(observables, now).model_copy(update={"engine": MatchEngine.SQL})

    async def changes_since(
        self, after: tuple[datetime, int] | None, limit: int = 10_000
    ) -> tuple[list[IndexedIndicator], list[int], tuple[datetime, int] | None]:
        rows = sorted(self.rows.values(), key=lambda r: (r[3], r[0]))
        rows = [r for r in rows if after is None or (r[3], r[0]) > after][:limit]
        upserts = [
            IndexedIndicator(
                id=i,
                source=s,
                external_id=r.external_id,
                type=r.type,
                value=r.value,
                confidence=r.confidence,
                valid_from=r.valid_from,
                valid_until=r.valid_until,
                labels=r.labels,
                related=r.related,
            )
            for i, s, r, _ in rows
        ]
        return upserts, [], ((rows[-1][3], rows[-1][0]) if rows else None)


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str, dict[str, str] | None]] = {}

    async def put(self, key, body, *, content_type="application/octet-stream", metadata=None) -> str:
        self.objects[key] = (body, content_type, metadata)
        return f"s3://acso-local-threat-intel/{key}"


@pytest.fixture
def parts():
    repo, store = MemoryRepository(), MemoryStore()
    return repo, store, IntelService(repo, store, index=IntelIndex(), batch_size=2, clock=lambda: NOW)


async def _finish(service: IntelService, job: ImportJob) -> ImportJob:
    for _ in range(100):
        current = await service.get_import(job.id)
        if current.status in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
            return current
        await asyncio.sleep(0)
    raise AssertionError("import did not finish")


async def test_a_stix_import_reports_progress_and_counts(parts):
    _, _, service = parts
    job = await service.submit_import(
        ImportRequest(source="acme-stix", format=FeedFormat.STIX),
        (FIXTURES / "stix_bundle_cloudsnatch.json").read_bytes(),
    )
    done = await _finish(service, job)
    assert (done.status, done.total, done.processed, done.counts.created) == (ImportStatus.SUCCEEDED, 9, 9, 9)


async def test_the_raw_feed_is_stored_under_its_source_with_a_digest(parts):
    _, store, service = parts
    body = (FIXTURES / "misp_event_velvet_tempest.json").read_bytes()
    job = await service.submit_import(ImportRequest(source="acme-misp", format=FeedFormat.MISP), body)
    assert job.raw_object_key == f"raw/acme-misp/2026/11/01/{job.id}.json"
    stored_body, _, metadata = store.objects[job.raw_object_key]
    assert stored_body == body
    assert metadata is not None
    assert len(metadata["sha256"]) == 64


async def test_a_reimport_updates_instead_of_duplicating(parts):
    repo, _, service = parts
    request = ImportRequest(source="acme-plain", format=FeedFormat.PLAIN)
    body = (FIXTURES / "plain_feed_c2.txt").read_bytes()
    await _finish(service, await service.submit_import(request, body))
    again = await _finish(service, await service.submit_import(request, body))
    assert (again.counts.created, again.counts.updated, len(repo.rows)) == (0, 8, 8)


async def test_malformed_input_is_rejected_before_any_job_exists(parts):
    repo, store, service = parts
    with pytest.raises(Invalid) as err:
        await service.submit_import(
            ImportRequest(source="bad", format=FeedFormat.STIX), b'{"type": "bundle", "objects": [{}]}'
        )
    assert err.value.code == "stix_invalid"
    assert repo.jobs == {}
    assert store.objects == {}


async def test_after_stix_and_misp_imports_an_alert_ip_matches_with_source_and_confidence(parts):
    _, _, service = parts
    for source, fmt, name in (
        ("acme-stix", FeedFormat.STIX, "stix_bundle_cloudsnatch.json"),
        ("acme-misp", FeedFormat.MISP, "misp_event_velvet_tempest.json"),
    ):
        await _finish(
            service,
            await service.submit_import(ImportRequest(source=source, format=fmt), (FIXTURES / name).read_bytes()),
        )
    response = await service.match(
        MatchRequest(observables=[Observable(value="203.0.113.45"), Observable(value="203.0.113.77")])
    )
    assert response.engine is MatchEngine.MEMORY
    assert {(m.observable_value, m.source, m.confidence) for m in response.matches} == {
        ("203.0.113.45", "acme-stix", 85),
        ("203.0.113.77", "acme-misp", 80),
    }
    stix_hit = next(m for m in response.matches if m.source == "acme-stix")
    assert {o.name for o in stix_hit.related} == {"CloudSnatch", "Scattered Orbit", "Data from Cloud Storage"}


async def test_before_the_index_is_loaded_matching_uses_the_sql_path():
    repo, store = MemoryRepository(), MemoryStore()
    service = IntelService(repo, store, index=IntelIndex(), clock=lambda: NOW)
    response = await service.match(MatchRequest(observables=[Observable(value="192.0.2.1")]))
    assert response.engine is MatchEngine.SQL


async def test_indicator_lookup_canonicalises_the_value(parts):
    _, _, service = parts
    await _finish(
        service,
        await service.submit_import(
            ImportRequest(source="acme-plain", format=FeedFormat.PLAIN), (FIXTURES / "plain_feed_c2.txt").read_bytes()
        ),
    )
    page = await service.find_indicators("MALWARE-DROP.example.")
    assert [i.value for i in page.items] == ["malware-drop.example"]
