"""Specification of the audit hash chain: any tampering is detected and located."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

import acso_shared.audit
from acso_shared.audit.chain import (
    GENESIS_HASH,
    ActorKind,
    AuditEntry,
    AuditRecord,
    AuditResult,
    Problem,
    canonical_json,
    from_jsonl,
    seal,
    to_jsonl,
    verify,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 3, 9, 30, 0, 123456, tzinfo=UTC)


def entry(i: int, **overrides: object) -> AuditEntry:
    fields: dict[str, object] = {
        "occurred_at": T0 + timedelta(seconds=i),
        "actor": "alice",
        "actor_kind": ActorKind.USER,
        "action": "incident.close",
        "target": f"incident:{i}",
        "source_ip": "198.51.100.7",
        "request_id": f"req-{i}",
        "result": AuditResult.SUCCESS,
        "details": {"reason": "contained", "n": i},
    }
    fields.update(overrides)
    return AuditEntry.model_validate(fields)


def chain(n: int, *, gaps: bool = False) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        record = seal(entry(i), seq=i * 2 if gaps else i, prev_hash=prev)
        records.append(record)
        prev = record.hash
    return records


def test_an_untouched_chain_verifies_and_reports_its_head() -> None:
    records = chain(5)

    report = verify(records)

    assert report.ok
    assert report.checked == 5
    assert (report.head_seq, report.head_hash) == (5, records[-1].hash)


def test_an_empty_log_verifies() -> None:
    assert verify([]).ok


def test_gaps_left_by_rolled_back_sequence_values_are_not_tampering() -> None:
    assert verify(chain(4, gaps=True)).ok


def test_the_hash_is_sha256_of_prev_hash_and_the_canonical_record_without_hash() -> None:
    record = chain(1)[0]
    body = {k: v for k, v in json.loads(next(to_jsonl([record]))).items() if k != "hash"}

    expected = hashlib.sha256((GENESIS_HASH + canonical_json(body)).encode()).hexdigest()

    assert record.hash == expected


def test_canonical_json_sorts_keys_and_has_no_whitespace() -> None:
    assert canonical_json({"b": 1, "a": {"d": [1, 2], "c": "é"}}) == '{"a":{"c":"é","d":[1,2]},"b":1}'


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "mallory"),
        ("result", AuditResult.DENIED),
        ("details", {"reason": "contained", "n": 3, "extra": True}),
        ("occurred_at", T0 + timedelta(days=1)),
        ("source_ip", None),
    ],
)
def test_modifying_one_field_of_one_row_is_detected_at_that_row(field: str, value: object) -> None:
    records = chain(5)
    records[2] = records[2].model_copy(update={field: value})

    report = verify(records)

    assert not report.ok
    assert (report.first_bad_seq, report.problem) == (3, Problem.HASH_MISMATCH)
    assert (report.head_seq, report.head_hash) == (2, records[1].hash)


def test_deleting_a_row_is_detected_at_the_next_row() -> None:
    records = chain(5)
    del records[2]

    report = verify(records)

    assert (report.ok, report.first_bad_seq, report.problem) == (False, 4, Problem.BROKEN_LINK)


def test_deleting_the_first_row_is_detected_as_a_bad_genesis() -> None:
    report = verify(chain(3)[1:])

    assert (report.first_bad_seq, report.problem) == (2, Problem.BAD_GENESIS)


def test_swapping_two_rows_is_detected() -> None:
    records = chain(5)
    records[1], records[3] = records[3], records[1]

    report = verify(records)

    assert (report.ok, report.first_bad_seq, report.problem) == (False, 4, Problem.BROKEN_LINK)


def test_swapping_the_contents_of_two_rows_but_keeping_their_seq_is_detected() -> None:
    records = chain(4)
    second, third = records[1], records[2]
    records[1] = third.model_copy(update={"seq": second.seq})
    records[2] = second.model_copy(update={"seq": third.seq})

    report = verify(records)

    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_rows_presented_out_of_seq_order_are_detected() -> None:
    records = chain(3)

    report = verify([records[0], records[0], records[1]])

    assert (report.first_bad_seq, report.problem) == (1, Problem.SEQ_NOT_INCREASING)


def test_a_row_inserted_into_a_seq_gap_with_a_valid_hash_of_its_own_is_detected() -> None:
    records = chain(4, gaps=True)
    forged = seal(entry(99, actor="mallory"), seq=5, prev_hash=records[1].hash)

    report = verify([*records[:2], forged, *records[2:]])

    assert (report.ok, report.first_bad_seq, report.problem) == (False, 6, Problem.BROKEN_LINK)


def test_rewriting_a_hash_to_match_modified_content_breaks_the_next_link() -> None:
    records = chain(4)
    modified = seal(entry(2, actor="mallory"), seq=2, prev_hash=records[0].hash)
    records[1] = modified

    report = verify(records)

    assert (report.first_bad_seq, report.problem) == (3, Problem.BROKEN_LINK)


def test_a_window_verifies_from_the_hash_of_the_row_before_it() -> None:
    records = chain(6)

    assert verify(records[3:], genesis_hash=records[2].hash).ok


def test_a_jsonl_export_round_trips_and_still_verifies() -> None:
    records = chain(3)
    lines = list(to_jsonl(records))

    assert all(line.endswith("\n") and line.count("\n") == 1 for line in lines)
    assert json.loads(lines[0])["occurred_at"] == "2026-11-03T09:30:01.123456Z"
    assert list(from_jsonl(lines)) == records
    assert verify(from_jsonl(lines)).ok


def test_a_tampered_jsonl_export_fails_verification() -> None:
    lines = list(to_jsonl(chain(3)))
    lines[1] = lines[1].replace('"alice"', '"bob"')

    assert verify(from_jsonl(lines)).first_bad_seq == 2


def test_the_same_instant_in_another_zone_hashes_identically() -> None:
    paris = timezone(timedelta(hours=1))
    local = seal(entry(1, occurred_at=(T0 + timedelta(seconds=1)).astimezone(paris)), seq=1, prev_hash=GENESIS_HASH)

    assert local.hash == chain(1)[0].hash


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        entry(1, occurred_at=datetime(2026, 11, 3, 9, 30))


@pytest.mark.parametrize("details", [{"x": float("nan")}, {"x": (1, 2)}, {"x": object()}])
def test_details_that_would_not_survive_storage_are_refused(details: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        entry(1, details=details)


def test_the_migration_makes_the_table_append_only_with_a_sequence() -> None:
    sql = (Path(acso_shared.audit.__file__).parent / "migrations" / "0001_audit.sql").read_text()

    assert "CREATE SEQUENCE IF NOT EXISTS audit_log_seq" in sql
    assert "BEFORE UPDATE OR DELETE ON audit_log" in sql
    assert "BEFORE TRUNCATE ON audit_log" in sql
    assert "CREATE EXTENSION" not in sql
