"""Reading CloudTrail delivery files (gzipped {"Records": [...]}) and NDJSON into record dicts."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from acso_shared.errors import Invalid
from acso_shared.hunting import cloudtrail
from acso_shared.hunting.cloudtrail import iter_records
from tests.fixtures.cloudtrail.samples import SCENARIOS

pytestmark = pytest.mark.unit

RECORDS = [r for attack, _ in SCENARIOS.values() for r in attack]


def test_gzipped_delivery_file_yields_every_record_in_order() -> None:
    data = gzip.compress(json.dumps({"Records": RECORDS}).encode())

    assert list(iter_records(io.BytesIO(data))) == RECORDS


def test_plain_ndjson_yields_one_record_per_line_and_skips_blank_lines() -> None:
    data = "\n\n".join(json.dumps(r) for r in RECORDS[:5]).encode()

    assert list(iter_records(data)) == RECORDS[:5]


def test_records_crossing_chunk_boundaries_are_reassembled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudtrail, "CHUNK_CHARS", 7)
    data = json.dumps({"Records": RECORDS[:4]}, indent=2).encode()

    assert list(iter_records(data)) == RECORDS[:4]


def test_concatenated_envelopes_and_extra_envelope_keys_are_read() -> None:
    lines = [
        json.dumps({"Records": RECORDS[:2], "Digest": {"x": 1}}),
        json.dumps({"Records": []}),
        json.dumps(RECORDS[2]),
    ]

    assert list(iter_records("\n".join(lines).encode())) == RECORDS[:3]


def test_records_are_streamed_before_a_later_error() -> None:
    data = (json.dumps(RECORDS[0]) + "\n{broken\n").encode()
    stream = iter_records(data)

    assert next(stream) == RECORDS[0]
    with pytest.raises(Invalid) as caught:
        next(stream)
    assert caught.value.code == "cloudtrail_malformed"
    assert "line 2" in caught.value.message


def test_record_that_is_not_an_object_is_rejected() -> None:
    with pytest.raises(Invalid, match="record 2 is a JSON list"):
        list(iter_records(b'{"Records": [{"eventName": "A"}, [1, 2]]}'))


def test_truncated_gzip_is_rejected() -> None:
    data = gzip.compress(json.dumps({"Records": RECORDS}).encode())[:-40]

    with pytest.raises(Invalid, match="gzip"):
        list(iter_records(data))


def test_unterminated_records_array_is_rejected() -> None:
    with pytest.raises(Invalid, match="cloudtrail_malformed"):
        list(iter_records(b'{"Records": [{"eventName": "A"}'))


def test_non_utf8_input_is_rejected() -> None:
    with pytest.raises(Invalid, match="UTF-8"):
        list(iter_records(b'{"eventName": "\xff\xfe"}'))
