"""The CloudTrail event store in PostgreSQL (`cloudtrail_events`): idempotent inserts, context look-ups."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from .events import EventRow, event_row

_INSERT = """
INSERT INTO cloudtrail_events (event_id, event_time, event_source, event_name, principal_arn, user_name,
                               access_key_id, source_ip, resources, raw)
SELECT e.id, e.at, e.src, e.name, e.arn, e.usr, e.akid, e.ip, e.res::jsonb, e.raw::jsonb
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[], $9::text[], $10::text[]) AS e(id, at, src, name, arn, usr, akid, ip, res, raw)
ON CONFLICT (event_id) DO NOTHING
"""

# One branch per key kind so each probe uses its own index; the window bounds every branch.
_CONTEXT = """
SELECT DISTINCT ON (event_time, event_id) event_id, event_time, event_source, event_name, principal_arn, user_name,
       access_key_id, source_ip, resources, raw
FROM cloudtrail_events
WHERE event_time BETWEEN $1 AND $2
  AND (principal_arn = ANY($3::text[]) OR user_name = ANY($4::text[]) OR access_key_id = ANY($5::text[])
       OR resources ?| $6::text[])
ORDER BY event_time, event_id
LIMIT $7
"""


@dataclass(frozen=True, slots=True)
class ContextKeys:
    """What an alert names that CloudTrail records can be found by."""

    principal_arns: tuple[str, ...] = ()
    user_names: tuple[str, ...] = ()
    access_key_ids: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.principal_arns or self.user_names or self.access_key_ids or self.resource_ids)


@dataclass(slots=True)
class StoreResult:
    """How many records a batch held, how many rows were new, and how many could not be stored."""

    read: int = 0
    inserted: int = 0
    skipped: int = 0
    rows: list[EventRow] = field(default_factory=list)


class EventStore:
    """Every SQL statement on `cloudtrail_events`"""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, records: Iterable[dict[str, Any]]) -> StoreResult:
        """Store records (one statement per batch); records already stored, or without id/time, are skipped."""
        result = StoreResult()
        rows: list[EventRow] = []
        for record in records:
            result.read += 1
            row = event_row(record)
            if row is None:
                result.skipped += 1
            else:
                rows.append(row)
        if rows:
            status = await self._pool.execute(
                _INSERT,
                [r.event_id for r in rows],
                [r.event_time for r in rows],
                [r.event_source for r in rows],
                [r.event_name for r in rows],
                [r.principal_arn for r in rows],
                [r.user_name for r in rows],
                [r.access_key_id for r in rows],
                [r.source_ip for r in rows],
                # JSON as text, cast in SQL: asyncpg would read nested lists as array dimensions.
                [json.dumps(list(r.resources)) for r in rows],
                [json.dumps(r.raw) for r in rows],
            )
            result.inserted = int(status.split()[-1])
        result.rows = rows
        return result

    async def context(self, keys: ContextKeys, start: datetime, end: datetime, limit: int) -> list[EventRow]:
        """Events of the alert's principals, keys or resources inside [start, end], oldest first."""
        if not keys:
            return []
        rows = await self._pool.fetch(
            _CONTEXT,
            start,
            end,
            list(keys.principal_arns),
            list(keys.user_names),
            list(keys.access_key_ids),
            list(keys.resource_ids),
            limit,
        )
        return [_row(r) for r in rows]

    @asynccontextmanager
    async def claim_unhunted(self, limit: int) -> AsyncIterator[list[dict[str, Any]]]:
        """The stored events no scheduled hunt has seen, in delivery order, claimed until the block ends.

        Leaving the block normally marks them hunted; an error leaves them for the next hunt. Rows
        are locked (`FOR UPDATE SKIP LOCKED`), so concurrent hunts never share an event.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT event_id, raw FROM cloudtrail_events WHERE hunted_at IS NULL "
                "ORDER BY ingested_at, event_id LIMIT $1 FOR UPDATE SKIP LOCKED",
                limit,
            )
            yield [_json(r["raw"]) for r in rows]
            if rows:
                await conn.execute(
                    "UPDATE cloudtrail_events SET hunted_at = now() WHERE event_id = ANY($1::text[])",
                    [r["event_id"] for r in rows],
                )

    async def hunted_between(self, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """Events already hunted whose eventTime is inside [start, end]: correlation context."""
        rows = await self._pool.fetch(
            "SELECT raw FROM cloudtrail_events WHERE hunted_at IS NOT NULL AND event_time BETWEEN $1 AND $2 "
            "ORDER BY event_time, event_id LIMIT $3",
            start,
            end,
            limit,
        )
        return [_json(r["raw"]) for r in rows]

    async def window(self, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """The stored records inside [start, end], oldest first (hunts over a time window, locally)."""
        rows = await self._pool.fetch(
            "SELECT raw FROM cloudtrail_events WHERE event_time BETWEEN $1 AND $2 ORDER BY event_time, event_id "
            "LIMIT $3",
            start,
            end,
            limit,
        )
        return [_json(r["raw"]) for r in rows]


def _json(value: Any) -> Any:
    # The service pool decodes jsonb; a bare asyncpg pool (tools, benches) returns text.
    return json.loads(value) if isinstance(value, str) else value


def _row(r: asyncpg.Record) -> EventRow:
    return EventRow(
        event_id=r["event_id"],
        event_time=r["event_time"],
        event_source=r["event_source"],
        event_name=r["event_name"],
        principal_arn=r["principal_arn"],
        user_name=r["user_name"],
        access_key_id=r["access_key_id"],
        source_ip=r["source_ip"],
        resources=tuple(_json(r["resources"])),
        raw=_json(r["raw"]),
    )


def dedupe(rows: Sequence[EventRow]) -> list[EventRow]:
    """Rows unique by event id, oldest first (the store and LookupEvents can return the same event)."""
    by_id = {r.event_id: r for r in rows}
    return sorted(by_id.values(), key=lambda r: (r.event_time, r.event_id))
