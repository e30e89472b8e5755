"""STIX 2.1 bundles: patterns to values, context from relationships, malformed input rejected."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from acso_shared.errors import Invalid
from acso_threat_hunter.intel.models import IndicatorType, RelatedKind
from acso_threat_hunter.intel.stix_import import parse_stix_bundle
from acso_threat_hunter.intel.stix_pattern import UnsupportedPattern, pattern_values

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).parents[2] / "fixtures" / "intel" / "stix_bundle_cloudsnatch.json"
NOW = datetime(2026, 11, 1, tzinfo=UTC)


def _parse(doc: object, *, strict: bool = False):
    return parse_stix_bundle(json.dumps(doc), default_confidence=50, default_valid_days=None, now=NOW, strict=strict)


def _valid_neighbour() -> dict[str, Any]:
    return _indicator("[ipv4-addr:value = '198.51.100.7']", id="indicator--0f5e6a3b-91f0-4a64-9a51-6f1f1d2b0c11")


def _bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": "bundle--4a4b2c1e-0000-4000-8000-000000000001", "objects": list(objects)}


def _indicator(pattern: str, **extra: object) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        "created": "2026-10-01T00:00:00.000Z",
        "modified": "2026-10-01T00:00:00.000Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-10-01T00:00:00Z",
        **extra,
    }


def test_an_or_pattern_yields_each_value():
    values = pattern_values("[domain-name:value = 'A.example' OR domain-name:value = 'b.example']")
    assert [(v.type, v.value) for v in values] == [
        (IndicatorType.DOMAIN, "a.example"),
        (IndicatorType.DOMAIN, "b.example"),
    ]


def test_a_cidr_value_and_issubset_both_mean_a_range():
    values = pattern_values("[ipv4-addr:value = '10.0.0.0/8' OR ipv4-addr:value ISSUBSET '192.0.2.0/24']")
    assert [v.value for v in values] == ["10.0.0.0/8", "192.0.2.0/24"]


def test_an_and_of_file_hashes_yields_the_hashes():
    values = pattern_values(
        "[file:hashes.'SHA-256' = 'a637e32e272bdb00117cc51088cac67e7e9850d641b4feb6267614ebb0521a04'"
        " AND file:name = 'stage2.bin']"
    )
    assert [v.type for v in values] == [IndicatorType.SHA256]


def test_a_like_on_a_parent_domain_becomes_a_subdomain_wildcard():
    assert pattern_values("[domain-name:value LIKE '%.dyn-c2.example']")[0].value == "*.dyn-c2.example"


def test_a_pattern_that_needs_two_observations_is_unsupported():
    with pytest.raises(UnsupportedPattern):
        pattern_values("[ipv4-addr:value = '192.0.2.1'] AND [domain-name:value = 'a.example']")


def test_the_sample_bundle_links_the_c2_ip_to_malware_actor_and_technique():
    feed = parse_stix_bundle(FIXTURE.read_bytes(), default_confidence=50, default_valid_days=None, now=NOW)
    c2 = next(r for r in feed.indicators if r.value == "203.0.113.45")
    assert c2.confidence == 85
    assert {(o.kind, o.name) for o in c2.related} == {
        (RelatedKind.MALWARE, "CloudSnatch"),
        (RelatedKind.THREAT_ACTOR, "Scattered Orbit"),
        (RelatedKind.ATTACK_PATTERN, "Data from Cloud Storage"),
    }
    assert next(o for o in c2.related if o.kind is RelatedKind.ATTACK_PATTERN).external_id == "T1530"


def test_the_sample_bundle_yields_every_matchable_value_once():
    feed = parse_stix_bundle(FIXTURE.read_bytes(), default_confidence=50, default_valid_days=None, now=NOW)
    assert len(feed.indicators) == len({(r.type, r.value) for r in feed.indicators}) == 9


def test_an_indicator_without_confidence_gets_the_default():
    feed = _parse(_bundle(_indicator("[ipv4-addr:value = '192.0.2.1']")))
    assert feed.indicators[0].confidence == 50


def test_default_validity_applies_only_when_the_indicator_sets_none():
    feed = parse_stix_bundle(
        json.dumps(_bundle(_indicator("[ipv4-addr:value = '192.0.2.1']"))),
        default_confidence=50,
        default_valid_days=30,
        now=NOW,
    )
    assert feed.indicators[0].valid_until == datetime(2026, 10, 31, tzinfo=UTC)


def test_a_non_stix_pattern_is_skipped_with_a_warning():
    feed = _parse(_bundle(_indicator("rule x { condition: true }", pattern_type="yara")))
    assert feed.indicators == []
    assert feed.skipped == 1
    assert "yara" in feed.warnings[0]


def test_strict_an_unparseable_pattern_rejects_the_bundle_naming_the_indicator():
    with pytest.raises(Invalid) as err:
        _parse(_bundle(_indicator("[ipv4-addr:value = "), _valid_neighbour()), strict=True)
    assert err.value.code == "stix_invalid"
    assert "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" in err.value.message


def test_strict_a_malformed_value_in_a_valid_pattern_is_rejected():
    with pytest.raises(Invalid) as err:
        _parse(_bundle(_indicator("[ipv4-addr:value = '999.0.0.1']"), _valid_neighbour()), strict=True)
    assert err.value.code == "stix_invalid_pattern"
    assert "indicator--8e2e2d2b" in err.value.message


def test_strict_an_object_missing_a_required_property_is_rejected_by_name():
    broken = _indicator("[ipv4-addr:value = '192.0.2.1']")
    del broken["pattern_type"]
    with pytest.raises(Invalid) as err:
        _parse(_bundle(broken, _valid_neighbour()), strict=True)
    assert err.value.code == "stix_invalid"
    assert "pattern_type" in err.value.message


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("[ipv4-addr:value = ", "pattern"), ("[ipv4-addr:value = '999.0.0.1']", "999.0.0.1")],
)
def test_by_default_a_bad_indicator_is_skipped_with_its_reason_and_its_neighbours_import(pattern, reason):
    feed = _parse(_bundle(_indicator(pattern), _valid_neighbour()))
    assert [r.value for r in feed.indicators] == ["198.51.100.7"]
    assert feed.skipped == 1
    assert "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f" in feed.warnings[0]
    assert reason in feed.warnings[0]


def test_by_default_an_object_missing_a_required_property_is_skipped_by_name():
    broken = _indicator("[ipv4-addr:value = '192.0.2.1']")
    del broken["pattern_type"]
    feed = _parse(_bundle(broken, _valid_neighbour()))
    assert [r.value for r in feed.indicators] == ["198.51.100.7"]
    assert "pattern_type" in feed.warnings[0]


def test_a_bundle_with_no_valid_object_at_all_is_rejected():
    with pytest.raises(Invalid) as err:
        _parse(_bundle({"type": "indicator", "id": "indicator--x"}))
    assert err.value.code == "stix_invalid"


def test_a_document_that_is_not_a_bundle_is_rejected():
    with pytest.raises(Invalid) as err:
        _parse({"type": "indicator"})
    assert err.value.code == "stix_invalid"


def test_text_that_is_not_json_is_rejected():
    with pytest.raises(Invalid) as err:
        parse_stix_bundle(b"{not json", default_confidence=50, default_valid_days=None, now=NOW)
    assert err.value.code == "stix_invalid"
