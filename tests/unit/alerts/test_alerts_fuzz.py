"""Property: whatever an alert payload holds, `normalize_payload` gives storable alerts or `Invalid`.

Adversarial values (NUL, lone surrogates, 1e308, huge integers, deep nesting, very long strings,
unicode in identifiers, wrong types) are planted at random paths of every fixture format, and as
whole random JSON documents. Seeded (`derandomize=True`) and bounded, so the suite stays
deterministic and fast.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acso_shared.alerts import normalize_payload
from acso_shared.alerts.normalize import UNREADABLE
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alerts"
CONFORMANCE = Path(__file__).resolve().parents[2] / "fixtures" / "conformance"
SEEDS = sorted(
    [p for p in FIXTURES.glob("*.json")] + [p for p in CONFORMANCE.glob("*/*.json")],
    key=lambda p: str(p),
)
SEED_PAYLOADS = [json.loads(p.read_text()) for p in SEEDS]


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"x": [value]}
    return value


HOSTILE_TEXT = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "\x00\ud83d",
        "i-0123456789abcdef0\x00",
        "AKIA\x00IOSFODNN7EXAMPLE",
        "198.51.100.23\x00",
        "arn:aws:iam::123456789012:user/\x00",
        "\u30e6\u30fc\u30b6\u30fc",  # katakana
        "i-\uff10\uff11\uff12\uff13",  # full-width digits in an instance id
        "\U0001d574\U0001d593\U0001d598",  # mathematical fraktur letters
        "\u202etxt.exe",
        "",
        " ",
        "A" * 100_000,
        "1e308",
        "-1",
        "9" * 400,
        "2026-13-45T99:99:99Z",
        "0000-00-00T00:00:00Z",
    ]
)
HOSTILE_NUMBER = st.sampled_from([1e308, -1e308, 5e-324, 0, -1, 10**30, -(10**30), 2**63, 10**1000, 0.5])
HOSTILE_VALUE = st.one_of(
    HOSTILE_TEXT,
    HOSTILE_NUMBER,
    st.text(max_size=40),
    st.booleans(),
    st.none(),
    st.just([]),
    st.just({}),
    st.sampled_from([_nested(30), _nested(70), _nested(300)]),
    st.lists(HOSTILE_TEXT, max_size=3),
    st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=3),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=30,
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON document (dict keys and list indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    if isinstance(obj, dict):
        for key, value in obj.items():
            found.append((*prefix, key))
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found.append((*prefix, index))
            found.extend(_paths(value, (*prefix, index)))
    return found


def _has(parent: Any, step: Any) -> bool:
    if isinstance(parent, dict):
        return step in parent
    return isinstance(parent, list) and isinstance(step, int) and step < len(parent)


SEED_PATHS = [_paths(p) or [("x",)] for p in SEED_PAYLOADS]


@st.composite
def mutated_payloads(draw: st.DrawFn) -> Any:
    """A fixture payload with up to four values replaced by hostile ones (and maybe a hostile key)."""
    index = draw(st.integers(min_value=0, max_value=len(SEED_PAYLOADS) - 1))
    payload = copy.deepcopy(SEED_PAYLOADS[index])
    paths = SEED_PATHS[index]
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(paths))
        parent: Any = payload
        for step in path[:-1]:
            # An earlier replacement may have removed this path: plant the value where it ends.
            if not _has(parent, step):
                break
            parent = parent[step]
        else:
            if _has(parent, path[-1]) or isinstance(parent, dict):
                parent[path[-1]] = draw(HOSTILE_VALUE)
    if isinstance(payload, dict) and draw(st.booleans()):
        payload[draw(HOSTILE_TEXT)] = draw(HOSTILE_VALUE)
    return payload


def _assert_storable_or_invalid(payload: Any) -> None:
    rejected: Invalid | None = None
    try:
        alerts = normalize_payload(payload, max_items=50)
    except Invalid as err:
        rejected, alerts = err, []
    if rejected is not None:
        assert rejected.status == 400
        assert rejected.code
        json.dumps(rejected.details)
        # The safety net of normalize_payload must never be what caught it: every shape has a rule.
        assert UNREADABLE not in rejected.message
        return
    assert alerts
    for alert in alerts:
        dumped = json.dumps(alert.model_dump(mode="json"))
        assert "\\u0000" not in dumped
        dumped.encode("utf-8")  # no lone surrogate survived


@settings(
    max_examples=200, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(mutated_payloads())
def test_a_mutated_vendor_payload_is_normalised_or_rejected_as_invalid(payload: Any) -> None:
    _assert_storable_or_invalid(payload)


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(st.lists(mutated_payloads(), min_size=1, max_size=3))
def test_a_batch_of_mutated_payloads_is_normalised_or_rejected_as_invalid(batch: list[Any]) -> None:
    _assert_storable_or_invalid(batch)


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(JSON_VALUES)
def test_any_json_document_is_normalised_or_rejected_as_invalid(document: Any) -> None:
    _assert_storable_or_invalid(document)
