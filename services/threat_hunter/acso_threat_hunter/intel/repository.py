"""PostgreSQL storage of imports and indicators (asyncpg): bulk upsert, batch match, change feed.

Bulk upsert is COPY into a per-transaction temp table then one INSERT .. ON CONFLICT, so a
100k-line feed is a handful of round trips, and re-imports update rows instead of adding any.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from acso_shared.errors import NotFound

from .index import IndexedIndicator
from .models import (
    ImportCounts,
    ImportFailure,
    ImportJob,
    IndicatorOut,
    IndicatorType,
    Match,
    MatchEngine,
    MatchKind,
    MatchResponse,
    Observable,
    RelatedKind,
    RelatedObject,
)
from .normalize import IP_TYPES, parse_network
from .probes import Probe, ProbeKind, build_probes
from .records import IndicatorRecord

_STAGE_COLUMNS = (
    "external_id",
    "type",
    "value",
    "network",
    "confidence",
    "first_seen",
    "last_seen",
    "valid_from",
    "valid_until",
    "revoked",
    "labels",
    "description",
    "pattern",
)

_STAGE = """
CREATE TEMP TABLE intel_stage (
    external_id text, type text, value text, network cidr, confidence smallint, first_seen timestamptz,
    last_seen timestamptz, valid_from timestamptz, valid_until timestamptz, revoked boolean, labels text[],
    description text, pattern text
) ON COMMIT DROP
"""

_UPSERT = """
INSERT INTO intel_indicators AS i (source, external_id, type, value, network, confidence, first_seen, last_seen,
                                   valid_from, valid_until, revoked, labels, description, pattern,
                                   last_import_id, updated_at)
SELECT $1, s.external_id, s.type, s.value, s.network, s.confidence, s.first_seen, s.last_seen,
       s.valid_from, s.valid_until, s.revoked, s.labels, s.description, s.pattern, $2, $3
FROM intel_stage s
ON CONFLICT ON CONSTRAINT intel_indicators_identity DO UPDATE SET
    external_id = EXCLUDED.external_id,
    confidence = EXCLUDED.confidence,
    first_seen = LEAST(i.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(i.last_seen, EXCLUDED.last_seen),
    valid_from = EXCLUDED.valid_from,
    valid_until = EXCLUDED.valid_until,
    revoked = EXCLUDED.revoked,
    labels = EXCLUDED.labels,
    description = EXCLUDED.description,
    pattern = EXCLUDED.pattern,
    last_import_id = EXCLUDED.last_import_id,
    updated_at = EXCLUDED.updated_at
RETURNING i.id, i.type, i.value, (xmax = 0) AS inserted
"""

# Each query spells out the relations sub-select: static SQL strings only, nothing interpolated.
# One branch per probe kind (UNION ALL, not OR) so each uses its own index: btree on value,
# GiST on network, the expression index on wildcard parents.
_MATCH = """
WITH probes AS (
    SELECT * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::bool[]) AS p(n, kind, type, value, via_url)
), hits AS (
    SELECT p.n, p.kind, p.via_url, i.* FROM probes p
    JOIN intel_indicators i ON i.value = p.value AND i.type = p.type
    WHERE p.kind = 'exact'
    UNION ALL
    SELECT p.n, p.kind, p.via_url, i.* FROM probes p
    JOIN intel_indicators i ON i.network >>= p.value::inet
    WHERE p.kind = 'ip' AND i.network IS NOT NULL
    UNION ALL
    SELECT p.n, p.kind, p.via_url, i.* FROM probes p
    JOIN intel_indicators i ON substr(i.value, 3) = p.value AND i.type = 'domain' AND i.value LIKE '*.%'
    WHERE p.kind = 'wildcard'
)
SELECT h.n, h.kind, h.via_url, h.id, h.source, h.external_id, h.type, h.value, h.confidence, h.valid_until, h.labels,
       COALESCE((SELECT json_agg(json_build_array(o.id, o.kind, o.name, o.external_id, r.relationship)
                          ORDER BY o.kind, o.name)
          FROM intel_indicator_relations r JOIN intel_objects o ON o.id = r.object_id
          WHERE r.indicator_id = h.id), '[]') AS related
FROM hits h
WHERE NOT h.revoked AND (h.valid_until IS NULL OR h.valid_until > $1) AND (h.valid_from IS NULL OR h.valid_from <= $1)
ORDER BY h.n, h.via_url, masklen(h.network) DESC NULLS FIRST, h.confidence DESC, h.id
"""

_FIND = """
SELECT i.*, COALESCE((SELECT json_agg(json_build_array(o.id, o.kind, o.name, o.external_id, r.relationship)
                          ORDER BY o.kind, o.name)
          FROM intel_indicator_relations r JOIN intel_objects o ON o.id = r.object_id
          WHERE r.indicator_id = i.id), '[]') AS related
FROM intel_indicators i
WHERE (i.type = $1 AND i.value = $2) OR (i.network IS NOT NULL AND i.network >>= $3::inet)
ORDER BY masklen(i.network) DESC NULLS FIRST, i.confidence DESC, i.id
LIMIT $4
"""

_CHANGES = """
SELECT i.id, i.source, i.external_id, i.type, i.value, i.confidence, i.valid_from, i.valid_until, i.revoked, i.labels,
       i.updated_at, COALESCE((SELECT json_agg(json_build_array(o.id, o.kind, o.name, o.external_id, r.relationship)
                          ORDER BY o.kind, o.name)
          FROM intel_indicator_relations r JOIN intel_objects o ON o.id = r.object_id
          WHERE r.indicator_id = i.id), '[]') AS related
FROM intel_indicators i
WHERE $1::timestamptz IS NULL OR (i.updated_at, i.id) > ($1::timestamptz, $2::bigint)
ORDER BY i.updated_at, i.id
LIMIT $3
"""


@dataclass(frozen=True, slots=True)
class UpsertResult:
    created: int
    updated: int


def _related(raw: Any) -> tuple[RelatedObject, ...]:
    items = json.loads(raw) if isinstance(raw, str) else raw
    return tuple(
        RelatedObject(id=i[0], kind=RelatedKind(i[1]), name=i[2], external_id=i[3], relationship=i[4]) for i in items
    )


def _stage_row(rec: IndicatorRecord, now: datetime) -> tuple[Any, ...]:
    network = parse_network(rec.value) if rec.type in IP_TYPES else None
    return (
        rec.external_id,
        rec.type.value,
        rec.value,
        network,
        rec.confidence,
        rec.first_seen or now,
        rec.last_seen or now,
        rec.valid_from,
        rec.valid_until,
        rec.revoked,
        list(rec.labels),
        rec.description,
        rec.pattern,
    )


def _decoded(value: Any) -> Any:
    """A jsonb column's value: the pool decodes jsonb, and `save_import` stores each field as a JSON
    text inside jsonb, so a saved job reads back as a string while the column defaults of a job not
    saved yet (`'{}'`, `'[]'`) read back as objects; both are accepted."""
    return json.loads(value) if isinstance(value, str) else value


def _job(row: asyncpg.Record) -> ImportJob:
    error = _decoded(row["error"]) if row["error"] else None
    return ImportJob(
        id=row["id"],
        source=row["source"],
        format=row["format"],
        status=row["status"],
        submitted_at=row["submitted_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        raw_object_key=row["raw_object_key"],
        total=row["total"],
        processed=row["processed"],
        counts=ImportCounts.model_validate(_decoded(row["counts"]) or {}),
        warnings=list(_decoded(row["warnings"]) or []),
        error=ImportFailure.model_validate(error) if error else None,
    )


def match_kind(probe_kind: str, via_url: bool, observable_value: str, indicator_value: str) -> MatchKind:
    """Why a SQL hit matched, from the probe that found it."""
    if via_url:
        return MatchKind.URL_HOST
    if probe_kind == ProbeKind.WILDCARD:
        return MatchKind.SUBDOMAIN
    if probe_kind == ProbeKind.IP and indicator_value != observable_value:
        return MatchKind.CIDR
    return MatchKind.EXACT


class IntelRepository:
    """Every SQL statement of the intel domain; tables from migrations/0001_intel.sql."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create_import(self, job: ImportJob) -> None:
        """Record a new import job."""
        await self._pool.execute(
            "INSERT INTO intel_imports (id, source, format, status, submitted_at, raw_object_key) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            job.id,
            job.source,
            job.format.value,
            job.status.value,
            job.submitted_at,
            job.raw_object_key,
        )

    async def save_import(self, job: ImportJob) -> None:
        """Persist the mutable part of a job (status, progress, counts, error)."""
        await self._pool.execute(
            "UPDATE intel_imports SET status = $2, started_at = $3, finished_at = $4, raw_object_key = $5, "
            "total = $6, processed = $7, counts = $8::jsonb, warnings = $9::jsonb, error = $10::jsonb WHERE id = $1",
            job.id,
            job.status.value,
            job.started_at,
            job.finished_at,
            job.raw_object_key,
            job.total,
            job.processed,
            job.counts.model_dump_json(),
            json.dumps(job.warnings),
            job.error.model_dump_json() if job.error else None,
        )

    async def get_import(self, import_id: UUID) -> ImportJob:
        """The job, or `NotFound("intel_import_not_found")`."""
        row = await self._pool.fetchrow("SELECT * FROM intel_imports WHERE id = $1", import_id)
        if row is None:
            raise NotFound("intel_import_not_found", f"no intel import {import_id}")
        return _job(row)

    async def upsert_indicators(
        self, source: str, records: Sequence[IndicatorRecord], *, import_id: UUID, now: datetime
    ) -> UpsertResult:
        """Insert or update one batch of a source's indicators and replace their relations, atomically.

        `records` must be unique by (type, value): see `records.merge_duplicates`.
        """
        if not records:
            return UpsertResult(0, 0)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_STAGE)
            await conn.copy_records_to_table(
                "intel_stage", records=[_stage_row(r, now) for r in records], columns=_STAGE_COLUMNS
            )
            rows = await conn.fetch(_UPSERT, source, import_id, now)
            ids = {(IndicatorType(r["type"]), r["value"]): r["id"] for r in rows}
            objects = {o.id: o for rec in records for o in rec.related}
            if objects:
                await conn.execute(
                    "INSERT INTO intel_objects (id, kind, name, external_id, updated_at) "
                    "SELECT o.id, o.kind, o.name, o.external_id, $5 "
                    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS o(id, kind, name, external_id) "
                    "ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, "
                    "external_id = EXCLUDED.external_id, updated_at = EXCLUDED.updated_at",
                    [o.id for o in objects.values()],
                    [o.kind.value for o in objects.values()],
                    [o.name for o in objects.values()],
                    [o.external_id for o in objects.values()],
                    now,
                )
            await conn.execute(
                "DELETE FROM intel_indicator_relations WHERE indicator_id = ANY($1::bigint[])", list(ids.values())
            )
            links = [(ids[(rec.type, rec.value)], o.id, o.relationship) for rec in records for o in rec.related]
            if links:
                await conn.execute(
                    "INSERT INTO intel_indicator_relations (indicator_id, object_id, relationship) "
                    "SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
                    [link[0] for link in links],
                    [link[1] for link in links],
                    [link[2] for link in links],
                )
        created = sum(1 for r in rows if r["inserted"])
        return UpsertResult(created=created, updated=len(rows) - created)

    async def find_by_value(
        self, itype: IndicatorType, value: str, now: datetime, limit: int = 100
    ) -> list[IndicatorOut]:
        """Indicators with this canonical value, and for an address the ranges holding it; inactive ones too."""
        rows = await self._pool.fetch(_FIND, itype.value, value, value if itype in IP_TYPES else None, limit)
        return [
            IndicatorOut(
                id=r["id"],
                source=r["source"],
                external_id=r["external_id"],
                type=IndicatorType(r["type"]),
                value=r["value"],
                confidence=r["confidence"],
                first_seen=r["first_seen"],
                last_seen=r["last_seen"],
                valid_from=r["valid_from"],
                valid_until=r["valid_until"],
                revoked=r["revoked"],
                active=not r["revoked"]
                and (r["valid_until"] is None or r["valid_until"] > now)
                and (r["valid_from"] is None or r["valid_from"] <= now),
                labels=list(r["labels"]),
                description=r["description"],
                related=list(_related(r["related"])),
            )
            for r in rows
        ]

    async def match(self, observables: Sequence[Observable], now: datetime) -> MatchResponse:
        """The SQL path of batch matching: one query for the whole batch, same semantics as `IntelIndex`."""
        probes, rejected = build_probes(observables)
        canonical: dict[int, Probe] = {p.n: p for p in probes if p.kind is not ProbeKind.WILDCARD and not p.via_url}
        rows = await self._pool.fetch(
            _MATCH,
            now,
            [p.n for p in probes],
            [p.kind.value for p in probes],
            [p.type.value for p in probes],
            [p.value for p in probes],
            [p.via_url for p in probes],
        )
        matches: list[Match] = []
        seen: set[tuple[int, int]] = set()
        for r in rows:
            n = r["n"]
            if (n, r["id"]) in seen:
                continue
            seen.add((n, r["id"]))
            obs = canonical[n]
            matches.append(
                Match(
                    observable_index=n,
                    observable_type=obs.type,
                    observable_value=obs.value,
                    match_kind=match_kind(r["kind"], r["via_url"], obs.value, r["value"]),
                    indicator_id=r["id"],
                    indicator_type=IndicatorType(r["type"]),
                    indicator_value=r["value"],
                    external_id=r["external_id"],
                    source=r["source"],
                    confidence=r["confidence"],
                    valid_until=r["valid_until"],
                    labels=list(r["labels"]),
                    related=list(_related(r["related"])),
                )
            )
        return MatchResponse(
            matches=matches,
            observables=len(observables),
            matched_observables=len({m.observable_index for m in matches}),
            rejected=rejected,
            engine=MatchEngine.SQL,
            as_of=now,
        )

    async def changes_since(
        self, after: tuple[datetime, int] | None, limit: int = 10_000
    ) -> tuple[list[IndexedIndicator], list[int], tuple[datetime, int] | None]:
        """One page of the change feed for the in-memory index, in (updated_at, id) order.

        Returns (indicators to upsert, ids to remove because revoked, cursor of the last row or None).
        """
        rows = await self._pool.fetch(
            _CHANGES,
            after[0] if after else None,
            after[1] if after else 0,
            limit,
        )
        upserts: list[IndexedIndicator] = []
        removals: list[int] = []
        for r in rows:
            if r["revoked"]:
                removals.append(r["id"])
                continue
            upserts.append(
                IndexedIndicator(
                    id=r["id"],
                    source=r["source"],
                    external_id=r["external_id"],
                    type=IndicatorType(r["type"]),
                    value=r["value"],
                    confidence=r["confidence"],
                    valid_from=r["valid_from"],
                    valid_until=r["valid_until"],
                    labels=tuple(r["labels"]),
                    related=_related(r["related"]),
                )
            )
        cursor = (rows[-1]["updated_at"], rows[-1]["id"]) if rows else None
        return upserts, removals, cursor
