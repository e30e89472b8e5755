"""MISP events, plain feeds and CSV feeds into indicator records."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from acso_shared.errors import Invalid
from acso_threat_hunter.intel.feeds import parse_csv, parse_plain
from acso_threat_hunter.intel.misp_import import parse_misp
from acso_threat_hunter.intel.models import CsvColumns, IndicatorType, RelatedKind
from acso_threat_hunter.intel.records import ParsedFeed

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).parents[2] / "fixtures" / "intel"
NOW = datetime(2026, 11, 1, tzinfo=UTC)
CSV_COLUMNS = CsvColumns(
    value="ioc",
    type="kind",
    confidence="confidence",
    first_seen="first_seen",
    last_seen="last_seen",
    valid_until="expires",
    labels="tags",
    description="comment",
)


def _misp(doc: object, days: int | None = None):
    return parse_misp(json.dumps(doc), default_confidence=50, default_valid_days=days, now=NOW)


def _sample_misp() -> ParsedFeed:
    return parse_misp(
        (FIXTURES / "misp_event_velvet_tempest.json").read_bytes(),
        default_confidence=50,
        default_valid_days=None,
        now=NOW,
    )


def test_only_to_ids_attributes_become_indicators():
    values = {r.value for r in _sample_misp().indicators}
    assert "outlook.office365.com" not in values
    assert "login-microsoftonline.velvet.example" in values


def test_object_attributes_and_composite_values_are_read():
    by_type = {r.type: r.value for r in _sample_misp().indicators}
    assert by_type[IndicatorType.SHA1] == "c34ee90adfb8f514311ef9b24eeb6f1d8ceb8860"
    assert "198.18.7.9" in {r.value for r in _sample_misp().indicators}


def test_attribute_confidence_tags_win_over_the_event_tag():
    by_value = {r.value: r.confidence for r in _sample_misp().indicators}
    assert by_value["203.0.113.77"] == 80  # admiralty credibility 2 on the attribute
    assert by_value["login-microsoftonline.velvet.example"] == 75  # misp:confidence-level on the event


def test_galaxies_give_the_attack_technique_and_the_actor():
    record = next(r for r in _sample_misp().indicators if r.value == "203.0.113.77")
    assert ("Phishing", "T1566") in {(o.name, o.external_id) for o in record.related}
    assert (RelatedKind.THREAT_ACTOR, "Velvet Tempest") in {(o.kind, o.name) for o in record.related}


def test_an_event_without_info_is_rejected():
    with pytest.raises(Invalid) as err:
        _misp({"Event": {"Attribute": []}})
    assert err.value.code == "misp_invalid"


def test_an_unknown_attribute_type_is_rejected_naming_the_attribute():
    doc = {
        "Event": {
            "info": "x",
            "Attribute": [
                {"uuid": "5b0b8a7e-1111-4ccc-9ddd-000000000001", "type": "nosuch", "value": "x", "to_ids": True}
            ],
        }
    }
    with pytest.raises(Invalid) as err:
        _misp(doc)
    assert "5b0b8a7e-1111-4ccc-9ddd-000000000001" in err.value.message


def test_a_malformed_to_ids_value_is_rejected_naming_the_attribute():
    doc = {
        "Event": {
            "info": "x",
            "Attribute": [
                {"uuid": "5b0b8a7e-1111-4ccc-9ddd-000000000002", "type": "ip-dst", "value": "999.1.1.1", "to_ids": True}
            ],
        }
    }
    with pytest.raises(Invalid) as err:
        _misp(doc)
    assert err.value.code == "misp_invalid"
    assert "5b0b8a7e-1111-4ccc-9ddd-000000000002" in err.value.message


def test_misp_indicators_expire_after_the_default_validity():
    doc = {
        "Event": {
            "info": "x",
            "Attribute": [{"type": "domain", "value": "a.example", "to_ids": True, "timestamp": "1790000000"}],
        }
    }
    record = _misp(doc, days=10).indicators[0]
    assert record.valid_until == datetime.fromtimestamp(1790000000 + 10 * 86400, UTC)


def test_plain_feed_skips_comments_and_reads_ranges_wildcards_and_urls():
    feed = parse_plain(
        (FIXTURES / "plain_feed_c2.txt").read_bytes(),
        indicator_type=None,
        default_confidence=40,
        default_valid_days=None,
        now=NOW,
    )
    values = {r.value for r in feed.indicators}
    assert {"203.0.113.99", "192.0.2.128/25", "*.dyn-c2.example", "http://files.malware-drop.example/a/b.exe"} <= values
    assert len(feed.indicators) == 8


def test_plain_feed_names_the_bad_line():
    with pytest.raises(Invalid) as err:
        parse_plain(
            b"192.0.2.1\nnot an indicator\n",
            indicator_type=None,
            default_confidence=40,
            default_valid_days=None,
            now=NOW,
        )
    assert err.value.code == "feed_invalid"
    assert err.value.message.startswith("line 2")


def test_plain_feed_with_a_declared_type_rejects_other_types():
    with pytest.raises(Invalid):
        parse_plain(
            b"a.example\n", indicator_type=IndicatorType.IPV4, default_confidence=40, default_valid_days=None, now=NOW
        )


def test_csv_feed_maps_columns_to_fields():
    feed = parse_csv(
        (FIXTURES / "csv_feed_acme.csv").read_bytes(),
        columns=CSV_COLUMNS,
        delimiter=",",
        indicator_type=None,
        default_confidence=50,
        default_valid_days=None,
        now=NOW,
    )
    first = next(r for r in feed.indicators if r.value == "203.0.113.201")
    assert (first.confidence, first.labels, first.description) == (
        80,
        ("c2", "cobalt-strike"),
        "Cobalt Strike team server",
    )
    assert first.valid_until == datetime(2099, 1, 1, tzinfo=UTC)


def test_csv_feed_without_a_mapped_column_is_rejected():
    with pytest.raises(Invalid) as err:
        parse_csv(
            b"indicator\n192.0.2.1\n",
            columns=CsvColumns(value="ioc"),
            delimiter=",",
            indicator_type=None,
            default_confidence=50,
            default_valid_days=None,
            now=NOW,
        )
    assert "ioc" in err.value.message


def test_csv_ip_type_column_refuses_a_domain():
    with pytest.raises(Invalid) as err:
        parse_csv(
            b"ioc,kind\na.example,ip\n",
            columns=CsvColumns(value="ioc", type="kind"),
            delimiter=",",
            indicator_type=None,
            default_confidence=50,
            default_valid_days=None,
            now=NOW,
        )
    assert err.value.message.startswith("line 2")


def test_csv_confidence_out_of_range_is_rejected():
    with pytest.raises(Invalid):
        parse_csv(
            b"ioc,c\n192.0.2.1,101\n",
            columns=CsvColumns(value="ioc", confidence="c"),
            delimiter=",",
            indicator_type=None,
            default_confidence=50,
            default_valid_days=None,
            now=NOW,
        )
