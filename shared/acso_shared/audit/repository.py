"""The audit log in PostgreSQL: append under the chain lock, list, export and verify.

Services record automated actions through `AuditLog(runtime.db).record(...)`; the web layer
appends one entry per mutating request. Rows are sealed by `acso_shared.audit.chain`, and the
table's triggers refuse updates, deletes and rows that do not extend the chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Final

import asyncpg

from acso_shared.audit.chain import (
    GENESIS_HASH,
    ActorKind,
    AuditEntry,
    AuditRecord,
    AuditResult,
    Problem,
    VerificationReport,
    canonical_json,
    seal,
    to_jsonl,
    verify,
)
from acso_shared.db import Database

# The same key the insert trigger takes: appends from every process are serialised by it.
LOCK_SQL: Final = "SELECT pg_advisory_xact_lock(hashtext('acso.audit_log'))"
IDEMPOTENCY_DETAIL: Final = "idempotency_key"
SYSTEM_ACTOR: Final = "acso"
_PAGE: Final = 1000
_SELECT: Final = (
    "SELECT seq, occurred_at, actor, actor_kind, action, target, source_ip, request_id, result, details,"
    " prev_hash, hash FROM audit_log"
)
_BY_IDEMPOTENCY_KEY: Final = _SELECT + " WHERE details->>'idempotency_key' = $1"
_PAGE_SQL: Final = (
    _SELECT + " WHERE seq > $1 AND ($2::text IS NULL OR actor = $2) AND ($3::text IS NULL OR action = $3)"
    " ORDER BY seq LIMIT $4"
)
_INSERT: Final = (
    "INSERT INTO audit_log (seq, occurred_at, actor, actor_kind, action, target, source_ip, request_id, result,"
    " details, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text::json, $11, $12)"
)


def _record(row: asyncpg.Record) -> AuditRecord:
    details = row["details"]
    return AuditRecord(
        seq=row["seq"],
        occurred_at=row["occurred_at"],
        actor=row["actor"],
        actor_kind=ActorKind(row["actor_kind"]),
        action=row["action"],
        target=row["target"],
        source_ip=row["source_ip"],
        request_id=row["request_id"],
        result=AuditResult(row["result"]),
        details=details if isinstance(details, dict) else {},
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


class AuditLog:
    """Append-only access to the `audit_log` table (migration `audit:0001`)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, entry: AuditEntry, *, idempotency_key: str | None = None) -> AuditRecord:
        """Seal `entry` after the newest row and store it; returns the stored record.

        With `idempotency_key`, a second append with the same key returns the first record
        instead of adding another (for handlers that may run again after a crash). The key is
        kept in `details`, so it is part of the hashed content.
        """
        if idempotency_key is not None:
            entry = entry.model_copy(update={"details": {**entry.details, IDEMPOTENCY_DETAIL: idempotency_key}})
        async with self._db.transaction() as connection:
            await connection.execute(LOCK_SQL)
            if idempotency_key is not None:
                existing = await connection.fetchrow(_BY_IDEMPOTENCY_KEY, idempotency_key)
                if existing is not None:
                    return _record(existing)
            seq = await connection.fetchval("SELECT nextval('audit_log_seq')")
            prev_hash = await connection.fetchval("SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1")
            record = seal(entry, seq=int(seq), prev_hash=prev_hash or GENESIS_HASH)
            await connection.execute(
                _INSERT,
                record.seq,
                record.occurred_at,
                record.actor,
                record.actor_kind.value,
                record.action,
                record.target,
                record.source_ip,
                record.request_id,
                record.result.value,
                canonical_json(record.details),
                record.prev_hash,
                record.hash,
            )
        return record

    async def record(
        self,
        action: str,
        *,
        target: str | None = None,
        result: AuditResult = AuditResult.SUCCESS,
        details: dict[str, Any] | None = None,
        actor: str = SYSTEM_ACTOR,
        actor_kind: ActorKind = ActorKind.SYSTEM,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> AuditRecord:
        """Record an automated action ACSO took on its own (a containment step, a timeout).

        `action` is a dotted name (`containment.isolate_instance`), `target` the resource it
        touched (an instance ARN), `details` plain JSON (never secrets). Pass the workflow step's
        idempotency key so a redelivered message does not record the action twice.
        """
        entry = AuditEntry(
            occurred_at=datetime.now(UTC),
            actor=actor,
            actor_kind=actor_kind,
            action=action,
            target=target,
            request_id=request_id,
            result=result,
            details=details or {},
        )
        return await self.append(entry, idempotency_key=idempotency_key)

    async def page(
        self, *, after_seq: int = 0, limit: int = 100, actor: str | None = None, action: str | None = None
    ) -> list[AuditRecord]:
        """Records with `seq > after_seq` in chain order, optionally of one actor or action."""
        rows = await self._db.fetch(
            _PAGE_SQL,
            after_seq,
            actor,
            action,
            limit,
        )
        return [_record(row) for row in rows]

    async def records(self, *, after_seq: int = 0) -> AsyncIterator[AuditRecord]:
        """Every record after `after_seq`, in chain order, fetched a page at a time."""
        while True:
            page = await self.page(after_seq=after_seq, limit=_PAGE)
            for record in page:
                yield record
            if len(page) < _PAGE:
                return
            after_seq = page[-1].seq

    async def export(self, *, after_seq: int = 0) -> AsyncIterator[str]:
        """JSON lines for a SIEM (see `chain.to_jsonl`); each line carries `prev_hash` and `hash`."""
        async for record in self.records(after_seq=after_seq):
            for line in to_jsonl([record]):
                yield line

    async def verify(self) -> VerificationReport:
        """Walk the whole chain from the genesis hash and report the first broken row."""
        checked = 0
        genesis = GENESIS_HASH
        head: VerificationReport | None = None  # the last page that ended on a good row
        after_seq = 0
        while True:
            page = await self.page(after_seq=after_seq, limit=_PAGE)
            report = verify(page, genesis_hash=genesis)
            if not report.ok:
                return _continued(report, checked, head)
            checked += report.checked
            if report.head_hash is not None:
                head = report
                genesis = report.head_hash
            if len(page) < _PAGE:
                break
            after_seq = page[-1].seq
        if head is None:
            return VerificationReport(ok=True, checked=0)
        return head.model_copy(update={"checked": checked})


def _continued(report: VerificationReport, checked_before: int, head: VerificationReport | None) -> VerificationReport:
    """A failing page's report, restated for the whole chain walked so far."""
    update: dict[str, Any] = {"checked": checked_before + report.checked}
    if head is not None:
        if report.problem is Problem.BAD_GENESIS:
            # The page started from the previous page's head, not from the genesis hash.
            update["problem"] = Problem.BROKEN_LINK
        if report.head_seq is None:
            update["head_seq"], update["head_hash"] = head.head_seq, head.head_hash
    return report.model_copy(update=update)
