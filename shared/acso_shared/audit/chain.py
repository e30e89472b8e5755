"""The audit log's hash chain: record model, canonical form, sealing, verification, JSON lines.

Each record commits to its predecessor: `hash = sha256(prev_hash + canonical(record without
hash))`, hex, with the first record chained to `GENESIS_HASH`. Changing, deleting, inserting or
reordering any row therefore breaks either that row's hash or the next row's link. Truncating the
tail cannot be seen from the rows alone: compare `VerificationReport.head_hash` with a head
published elsewhere (a metric or an object written on a schedule) to cover that.

`seq` comes from a PostgreSQL sequence, which can skip values when a transaction rolls back, so
gaps are allowed; order and linkage are what is verified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

GENESIS_HASH: Final = "0" * 64
_HEX64: Final = r"^[0-9a-f]{64}$"


class ActorKind(StrEnum):
    USER = "user"
    MACHINE = "machine"
    # Automated actions ACSO takes on its own (playbook steps, timeouts rejecting approvals).
    SYSTEM = "system"


class AuditResult(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEntry(BaseModel):
    """What happened, before it is placed in the chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    occurred_at: datetime
    actor: str = Field(min_length=1)
    actor_kind: ActorKind
    action: str = Field(min_length=1, description="e.g. `incident.close` or `POST /v1/incidents/{id}/close`")
    target: str | None = None
    source_ip: str | None = None
    request_id: str | None = None
    result: AuditResult
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # A naive time is ambiguous, and the hash must not depend on the writer's time zone.
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")
        return value.astimezone(UTC)

    @field_validator("details")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Anything that does not survive a JSON round trip would verify differently after storage.
        try:
            round_tripped = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as err:
            raise ValueError(f"details must be plain finite JSON: {err}") from err
        if round_tripped != value:
            raise ValueError("details must be plain JSON (string keys, lists not tuples)")
        return value


class AuditRecord(AuditEntry):
    """One row of the append-only audit log."""

    seq: int = Field(ge=1)
    prev_hash: str = Field(pattern=_HEX64)
    hash: str = Field(pattern=_HEX64)


def _timestamp(value: datetime) -> str:
    # Fixed microsecond precision: PostgreSQL timestamptz keeps exactly microseconds.
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text kept as is, NaN and infinity refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _body(entry: AuditEntry, seq: int, prev_hash: str) -> dict[str, Any]:
    return {
        "seq": seq,
        "occurred_at": _timestamp(entry.occurred_at),
        "actor": entry.actor,
        "actor_kind": entry.actor_kind.value,
        "action": entry.action,
        "target": entry.target,
        "source_ip": entry.source_ip,
        "request_id": entry.request_id,
        "result": entry.result.value,
        "details": entry.details,
        "prev_hash": prev_hash,
    }


def compute_hash(entry: AuditEntry, seq: int, prev_hash: str) -> str:
    """`sha256(prev_hash + canonical(record without hash))` as lowercase hex."""
    payload = prev_hash + canonical_json(_body(entry, seq, prev_hash))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def seal(entry: AuditEntry, *, seq: int, prev_hash: str) -> AuditRecord:
    """Place `entry` in the chain after the record whose hash is `prev_hash`.

    The repository calls this while holding the audit append lock, with `seq` from
    `nextval('audit_log_seq')` and `prev_hash` the newest row's hash (`GENESIS_HASH` when empty).
    """
    return AuditRecord(**entry.model_dump(), seq=seq, prev_hash=prev_hash, hash=compute_hash(entry, seq, prev_hash))


class Problem(StrEnum):
    BAD_GENESIS = "bad_genesis"
    SEQ_NOT_INCREASING = "seq_not_increasing"
    BROKEN_LINK = "broken_link"
    HASH_MISMATCH = "hash_mismatch"


class VerificationReport(BaseModel):
    """The outcome of walking the chain; `first_bad_seq` names the first row that fails."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: Problem | None = None
    detail: str | None = None
    head_seq: int | None = Field(default=None, description="last good row; compare with a published head")
    head_hash: str | None = None


def verify(records: Iterable[AuditRecord], *, genesis_hash: str = GENESIS_HASH) -> VerificationReport:
    """Walk `records` in storage order (ascending `seq`) and report the first break.

    A modified row fails its own hash; a deleted or inserted row breaks the next row's link (or
    the genesis link when it was the first); rows out of order fail the `seq` check. To verify a
    window that does not start at the beginning, pass the hash of the row before it as
    `genesis_hash`.
    """
    expected_prev = genesis_hash
    last_seq: int | None = None
    checked = 0
    for record in records:
        problem: Problem | None = None
        detail = ""
        if last_seq is not None and record.seq <= last_seq:
            problem, detail = Problem.SEQ_NOT_INCREASING, f"seq {record.seq} follows {last_seq}"
        elif record.prev_hash != expected_prev:
            problem = Problem.BAD_GENESIS if last_seq is None else Problem.BROKEN_LINK
            detail = "prev_hash does not match the previous row's hash"
        elif compute_hash(record, record.seq, record.prev_hash) != record.hash:
            problem, detail = Problem.HASH_MISMATCH, "the row's content does not match its hash"
        if problem is not None:
            return VerificationReport(
                ok=False,
                checked=checked,
                first_bad_seq=record.seq,
                problem=problem,
                detail=detail,
                head_seq=last_seq,
                head_hash=None if last_seq is None else expected_prev,
            )
        checked += 1
        expected_prev = record.hash
        last_seq = record.seq
    return VerificationReport(
        ok=True, checked=checked, head_seq=last_seq, head_hash=None if last_seq is None else expected_prev
    )


def record_to_dict(record: AuditRecord) -> dict[str, Any]:
    """The JSON form of a record: the hashed fields plus `hash`."""
    return {**_body(record, record.seq, record.prev_hash), "hash": record.hash}


def to_jsonl(records: Iterable[AuditRecord]) -> Iterator[str]:
    """Export records as JSON lines (one canonical object per line, newline-terminated) for a SIEM.

    The lines carry `prev_hash` and `hash`, so an export can itself be verified with `from_jsonl`.
    """
    for record in records:
        yield canonical_json(record_to_dict(record)) + "\n"


def from_jsonl(lines: Iterable[str]) -> Iterator[AuditRecord]:
    """Read records back from a JSON lines export (blank lines are skipped)."""
    for line in lines:
        if line.strip():
            yield AuditRecord.model_validate_json(line)
