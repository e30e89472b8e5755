"""The rule library: built-in and user Sigma rules persisted in `hunt_rules`, compiled once each.

Built-ins ship with `acso_shared.hunting` and are recorded on start (insert if absent) so that
disabling one persists; their YAML is refreshed from the package on every start. A stored rule that
no longer compiles keeps its row with the error and is left out of hunts; it never stops the others.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from acso_shared.errors import AcsoError, Conflict, Invalid, NotFound
from acso_shared.hunting.compiler import CompiledRule, compile_rule
from acso_shared.hunting.correlation import CorrelationRule
from acso_shared.hunting.lint import LintFinding, lint_text
from acso_shared.hunting.models import RuleError, RuleErrorStage
from acso_shared.hunting.pack import RulePack, builtin_rule_texts
from acso_shared.hunting.pack_store import ImportReport, get_import, store_import
from acso_shared.hunting.packs import import_pack, read_pack
from acso_shared.hunting.suppression import Suppressions
from acso_shared.logging import get_logger

from .models import RuleOut, RuleSource

log = get_logger(__name__)

_UPSERT_BUILTIN = """
INSERT INTO hunt_rules (id, title, yaml, source) VALUES ($1, $2, $3, 'builtin')
ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, yaml = EXCLUDED.yaml,
    updated_at = CASE WHEN hunt_rules.yaml = EXCLUDED.yaml THEN hunt_rules.updated_at ELSE now() END
WHERE hunt_rules.source = 'builtin'
"""


@dataclass(frozen=True, slots=True)
class StoredRule:
    """A row of `hunt_rules` with its compiled form (None when it does not compile)."""

    id: str
    title: str
    yaml: str
    enabled: bool
    source: RuleSource
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    errors: tuple[RuleError, ...]
    compiled: CompiledRule | None
    lint: tuple[LintFinding, ...] = ()
    pack: str | None = None
    pack_version: str | None = None
    file: str | None = None

    def out(self) -> RuleOut:
        meta = self.compiled.meta if self.compiled is not None else None
        return RuleOut(
            id=self.id,
            title=self.title,
            level=meta.level if meta else None,
            kind=meta.kind if meta else None,
            techniques=list(meta.techniques) if meta else [],
            enabled=self.enabled,
            source=self.source,
            created_by=self.created_by,
            created_at=self.created_at,
            updated_at=self.updated_at,
            errors=list(self.errors),
            lint=list(self.lint),
            pack=self.pack,
            pack_version=self.pack_version,
            file=self.file,
        )


def rule_ids_of(rule: CompiledRule) -> list[str]:
    """The rule's id and, for a correlation, the ids of its base rules."""
    ids = [rule.meta.id]
    if isinstance(rule, CorrelationRule):
        ids += [base.meta.id for base in rule.base_rules]
    return ids


def _errors(raw: Any) -> tuple[RuleError, ...]:
    return tuple(RuleError.model_validate(e) for e in (raw or ()))


class RuleLibrary:
    """Every SQL statement on `hunt_rules`, plus a compile cache keyed by the YAML's hash."""

    def __init__(self, pool: asyncpg.Pool, suppressions: Suppressions | None = None) -> None:
        self._pool = pool
        self._suppressions = suppressions  # None: the defaults (acso_shared.hunting.suppression)
        self._compiled: dict[str, CompiledRule | AcsoError] = {}

    def _compile(self, text: str) -> CompiledRule | AcsoError:
        digest = hashlib.sha256(text.encode()).hexdigest()
        cached = self._compiled.get(digest)
        if cached is None:
            try:
                cached = compile_rule(text)
            except AcsoError as err:
                cached = err
            self._compiled[digest] = cached
        return cached

    async def sync_builtins(self) -> int:
        """Record the package's built-in rules; returns how many compiled."""
        count = 0
        for name, text in builtin_rule_texts().items():
            compiled = self._compile(text)
            if isinstance(compiled, AcsoError):
                log.error("builtin_rule_invalid", file=name, code=compiled.code, error=compiled.message)
                continue
            await self._pool.execute(_UPSERT_BUILTIN, compiled.meta.id, compiled.meta.title, text)
            count += 1
        return count

    def _stored(self, row: asyncpg.Record) -> StoredRule:
        outcome = self._compile(row["yaml"])
        errors = _errors(row["errors"])
        compiled: CompiledRule | None = None
        if isinstance(outcome, AcsoError):
            errors = (
                RuleError(source=row["id"], stage=RuleErrorStage.COMPILE, code=outcome.code, message=outcome.message),
                *errors,
            )
        else:
            compiled = outcome
        return StoredRule(
            id=row["id"],
            title=row["title"],
            yaml=row["yaml"],
            enabled=row["enabled"],
            source=RuleSource(row["source"]),
            created_by=row["created_by"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            errors=errors,
            compiled=compiled,
            lint=tuple(LintFinding.model_validate(f) for f in (row["lint"] or ())),
            pack=row["pack"],
            pack_version=row["pack_version"],
            file=row["file"],
        )

    async def rules(
        self, *, source: RuleSource | None = None, enabled: bool | None = None, pack: str | None = None
    ) -> list[StoredRule]:
        """Rules in (source, title) order, optionally filtered."""
        rows = await self._pool.fetch(
            "SELECT * FROM hunt_rules WHERE ($1::text IS NULL OR source = $1) AND ($2::bool IS NULL OR enabled = $2) "
            "AND ($3::text IS NULL OR pack = $3) ORDER BY source, title, id",
            source.value if source else None,
            enabled,
            pack,
        )
        return [self._stored(r) for r in rows]

    async def get(self, rule_id: str) -> StoredRule:
        """One rule; `NotFound("rule_not_found")`."""
        row = await self._pool.fetchrow("SELECT * FROM hunt_rules WHERE id = $1", rule_id)
        if row is None:
            raise NotFound("rule_not_found", f"no rule with id {rule_id}")
        return self._stored(row)

    async def create(self, text: str, *, enabled: bool, created_by: str | None) -> StoredRule:
        """Compile, lint and store a user rule: `Invalid` (sigma_invalid/sigma_unsupported/sigma_regex_unsupported)
        or `Conflict` (rule_exists). Lint findings are stored and returned; they never block the upload."""
        compiled = self._compile(text)
        if isinstance(compiled, AcsoError):
            # A fresh error per request: the cached one is shared.
            raise Invalid(compiled.code, compiled.message)
        ids = rule_ids_of(compiled)
        taken = await self._pool.fetch("SELECT id FROM hunt_rules WHERE id = ANY($1::text[])", ids)
        if taken:
            raise Conflict("rule_exists", f"a rule with id {taken[0]['id']} already exists")
        # Base rules of stored correlations are not rows of their own; check them too.
        for other in await self.rules():
            if other.compiled is not None and set(rule_ids_of(other.compiled)) & set(ids):
                raise Conflict("rule_exists", f"rule {other.id} already defines one of the ids {', '.join(ids)}")
        lint = [f.model_dump(mode="json") for f in lint_text(text)]
        row = await self._pool.fetchrow(
            "INSERT INTO hunt_rules (id, title, yaml, enabled, source, created_by, lint) "
            "VALUES ($1, $2, $3, $4, 'user', $5, $6) ON CONFLICT (id) DO NOTHING RETURNING *",
            compiled.meta.id,
            compiled.meta.title,
            text,
            enabled,
            created_by,
            lint,
        )
        if row is None:
            raise Conflict("rule_exists", f"a rule with id {compiled.meta.id} already exists")
        return self._stored(row)

    async def import_pack(
        self, data: bytes, *, pack: str, version: str | None, enabled: bool, requested_by: str | None
    ) -> ImportReport:
        """Import a zip or tar of Sigma rules (sorting runs off the event loop); one result per file."""
        contents = await asyncio.to_thread(read_pack, data)
        outcome = await asyncio.to_thread(import_pack, contents, version=version)
        return await store_import(self._pool, pack, outcome, enabled=enabled, requested_by=requested_by)

    async def get_import(self, import_id: UUID) -> ImportReport:
        """An import's report."""
        return await get_import(self._pool, import_id)

    async def set_enabled(self, rule_id: str, enabled: bool) -> StoredRule:
        """Enable or disable a rule (built-in or user)."""
        row = await self._pool.fetchrow(
            "UPDATE hunt_rules SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING *", rule_id, enabled
        )
        if row is None:
            raise NotFound("rule_not_found", f"no rule with id {rule_id}")
        return self._stored(row)

    async def record_errors(self, errors: Sequence[RuleError], rule_ids: Sequence[str]) -> None:
        """Store each hunted rule's evaluation errors of its latest hunt (clearing old ones)."""
        by_rule: dict[str, list[dict[str, Any]]] = {rule_id: [] for rule_id in rule_ids}
        for error in errors:
            if error.stage is RuleErrorStage.EVALUATE and error.source in by_rule:
                by_rule[error.source].append(error.model_dump(mode="json"))
        if by_rule:
            await self._pool.execute(
                "UPDATE hunt_rules r SET errors = e.value FROM jsonb_each($1::text::jsonb) AS e WHERE r.id = e.key",
                json.dumps(by_rule),
            )

    async def pack(self, rule_ids: Sequence[str] | None) -> tuple[RulePack, list[str]]:
        """A fresh pack of the selected rules (default: every enabled one) and the ids it holds.

        Selected rules that are unknown, disabled or do not compile are reported in the pack's
        errors; the others still run.
        """
        rules = await self.rules()
        by_id = {r.id: r for r in rules}
        selected = (
            [by_id[i] for i in rule_ids if i in by_id] if rule_ids is not None else [r for r in rules if r.enabled]
        )
        errors: list[RuleError] = []
        for missing in [i for i in rule_ids or () if i not in by_id]:
            errors.append(
                RuleError(
                    source=missing,
                    stage=RuleErrorStage.COMPILE,
                    code="rule_not_found",
                    message=f"no rule with id {missing}",
                )
            )
        pack = RulePack()  # detects id clashes between the selected rules
        included: list[str] = []
        for rule in selected:
            if rule.compiled is None:
                errors.extend(e for e in rule.errors if e.stage is RuleErrorStage.COMPILE)
                continue
            if not rule.enabled and rule_ids is not None:
                errors.append(
                    RuleError(
                        source=rule.id,
                        stage=RuleErrorStage.COMPILE,
                        code="rule_disabled",
                        message=f"rule {rule.id} is disabled",
                    )
                )
                continue
            try:
                pack.add(rule.compiled)
            except Conflict as err:
                errors.append(
                    RuleError(source=rule.id, stage=RuleErrorStage.COMPILE, code=err.code, message=err.message)
                )
                continue
            included.append(rule.id)
        return RulePack([pack.get(i) for i in included], errors, suppressions=self._suppressions), included
