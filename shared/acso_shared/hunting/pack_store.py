"""Imported rule packs in the threat hunter's PostgreSQL: every SQL statement on imported rules.

Used by the threat hunter (`POST /v1/rules/imports`) and by `acso rules import`. An imported rule
is a `hunt_rules` row with `source = 'imported'` and its pack, version and file. Re-importing a
pack (a newer release) updates its rules' YAML, version and file and keeps each rule's enabled
state; a rule whose id belongs to a built-in, a user rule or another pack is reported as
`rule_exists` and left alone.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID, uuid4

import asyncpg
from pydantic import BaseModel, Field

from acso_shared.errors import NotFound
from acso_shared.hunting.packs import ImportOutcome, PackImport, RuleImportResult

_UPSERT = """
INSERT INTO hunt_rules (id, title, yaml, enabled, source, created_by, pack, pack_version, file, lint)
VALUES ($1, $2, $3, $4, 'imported', $5, $6, $7, $8, $9::text::jsonb)
ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, yaml = EXCLUDED.yaml, pack_version = EXCLUDED.pack_version,
    file = EXCLUDED.file, lint = EXCLUDED.lint,
    updated_at = CASE WHEN hunt_rules.yaml = EXCLUDED.yaml THEN hunt_rules.updated_at ELSE now() END
WHERE hunt_rules.source = 'imported' AND hunt_rules.pack = EXCLUDED.pack
RETURNING id
"""


class ImportReport(BaseModel):
    """`POST /v1/rules/imports` and `GET /v1/rules/imports/{id}`: one result per file of the pack."""

    id: UUID
    pack: str
    version: str
    requested_by: str | None = None
    submitted_at: datetime
    counts: dict[str, int] = Field(description="Files imported, skipped (other log sources) and failed")
    results: list[RuleImportResult]


async def store_import(
    pool: asyncpg.Pool, pack: str, outcome: PackImport, *, enabled: bool = True, requested_by: str | None = None
) -> ImportReport:
    """Store the compiled rules of a sorted pack and its report, in one transaction."""
    by_file = {r.file: r for r in outcome.rules}
    results: list[RuleImportResult] = []
    async with pool.acquire() as conn, conn.transaction():
        for result in outcome.results:
            rule = by_file.get(result.file) if result.outcome is ImportOutcome.IMPORTED else None
            if rule is None:
                results.append(result)
                continue
            lint = json.dumps([f.model_dump(mode="json") for f in result.lint])
            stored = await conn.fetchval(
                _UPSERT,
                rule.compiled.meta.id,
                rule.compiled.meta.title,
                rule.text,
                enabled,
                requested_by,
                pack,
                outcome.version,
                rule.file,
                lint,
            )
            if stored is None:
                owner = await conn.fetchrow("SELECT source, pack FROM hunt_rules WHERE id = $1", rule.compiled.meta.id)
                where = f"{owner['source']} rule" + (f" of pack {owner['pack']}" if owner and owner["pack"] else "")
                results.append(
                    result.model_copy(
                        update={
                            "outcome": ImportOutcome.FAILED,
                            "code": "rule_exists",
                            "message": f"rule id {rule.compiled.meta.id} is already a {where}",
                        }
                    )
                )
                continue
            results.append(result)
        counts = {o.value: sum(1 for r in results if r.outcome is o) for o in ImportOutcome}
        row = await conn.fetchrow(
            "INSERT INTO rule_imports (id, pack, version, requested_by, counts, results) "
            "VALUES ($1, $2, $3, $4, $5::text::jsonb, $6::text::jsonb) RETURNING id, submitted_at",
            uuid4(),
            pack,
            outcome.version,
            requested_by,
            json.dumps(counts),
            json.dumps([r.model_dump(mode="json") for r in results]),
        )
    return ImportReport(
        id=row["id"],
        pack=pack,
        version=outcome.version,
        requested_by=requested_by,
        submitted_at=row["submitted_at"],
        counts=counts,
        results=results,
    )


async def get_import(pool: asyncpg.Pool, import_id: UUID) -> ImportReport:
    """One import's report; `NotFound("rule_import_not_found")`."""
    row = await pool.fetchrow("SELECT * FROM rule_imports WHERE id = $1", import_id)
    if row is None:
        raise NotFound("rule_import_not_found", f"no rule import {import_id}")
    counts = row["counts"] if isinstance(row["counts"], dict) else json.loads(row["counts"])
    results = row["results"] if isinstance(row["results"], list) else json.loads(row["results"])
    return ImportReport(
        id=row["id"],
        pack=row["pack"],
        version=row["version"],
        requested_by=row["requested_by"],
        submitted_at=row["submitted_at"],
        counts=counts,
        results=[RuleImportResult.model_validate(r) for r in results],
    )
