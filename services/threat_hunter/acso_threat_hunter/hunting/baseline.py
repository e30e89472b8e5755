"""What new-behaviour rules have seen, in PostgreSQL (`behaviour_baseline`): every SQL statement on it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from acso_shared.hunting.behaviour import Sighting, novel_in

_UPSERT = """
INSERT INTO behaviour_baseline (rule_id, key, first_seen, last_seen)
SELECT r, k, min(a), max(a) FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS s(r, k, a) GROUP BY r, k
ON CONFLICT (rule_id, key) DO UPDATE SET first_seen = LEAST(behaviour_baseline.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(behaviour_baseline.last_seen, EXCLUDED.last_seen)
"""


class PostgresBaseline:
    """A baseline shared by every hunt of the service; novelty is decided under row locks."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def novel(self, sightings: Sequence[Sighting]) -> set[int]:
        """Indexes of the sightings whose key was not seen within their rule's window; all are remembered."""
        if not sightings:
            return set()
        rules = [s.rule_id for s in sightings]
        keys = [s.key for s in sightings]
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT b.rule_id, b.key, b.last_seen FROM behaviour_baseline b "
                "JOIN unnest($1::text[], $2::text[]) AS s(r, k) ON b.rule_id = s.r AND b.key = s.k FOR UPDATE OF b",
                rules,
                keys,
            )
            known: dict[tuple[str, str], datetime] = {(r["rule_id"], r["key"]): r["last_seen"] for r in rows}
            new = novel_in(sightings, known, {})
            await conn.execute(_UPSERT, rules, keys, [s.at for s in sightings])
        return new
