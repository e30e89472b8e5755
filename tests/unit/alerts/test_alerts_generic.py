"""ACSO's own generic alert schema."""

from __future__ import annotations

import uuid

import pytest

from acso_shared.alerts import ObservableType, ResourceType, SeverityId, normalize_payload
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit


def test_generic_alert_fields_map_one_to_one(normalize_one):
    alert = normalize_one("generic_alert.json")

    assert (alert.type, alert.product, alert.severity.id) == (
        "network.ssh_bruteforce.outbound",
        "Acme NIDS",
        SeverityId.HIGH,
    )
    assert [(r.type, r.id, r.region) for r in alert.resources] == [
        (ResourceType.EC2_INSTANCE, "i-0123456789abcdef0", "us-east-1")
    ]
    assert alert.observables_of(ObservableType.INSTANCE_ID) == ["i-0123456789abcdef0"]
    assert alert.attack_techniques == ["T1110.001"]


def test_severity_may_be_an_ocsf_id(payload):
    alert = payload("generic_alert.json")
    alert["severity"] = 5

    (normalized,) = normalize_payload(alert)

    assert normalized.severity.id is SeverityId.CRITICAL


def test_an_acso_internal_source_is_accepted(payload):
    alert = payload("generic_alert.json")
    alert["source"] = "acso.threat_hunter"

    (normalized,) = normalize_payload(alert)

    assert normalized.source == "acso.threat_hunter"


def test_an_alert_without_id_gets_a_fresh_id_each_time(payload):
    alert = payload("generic_alert.json")
    del alert["id"]

    first, second = normalize_payload([alert, alert])

    assert first.alert_id != second.alert_id
    assert first.source_id is None


def test_an_alert_with_id_gets_a_deterministic_uuid(normalize_one):
    alert = normalize_one("generic_alert.json")

    assert alert.alert_id == uuid.uuid5(uuid.NAMESPACE_URL, "acso-alert:generic:ids-7731-2026-11-20T15:02:44Z")


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("severity", "apocalyptic", "severity"),
        ("source", "aws.guardduty", "source"),
        ("attack_techniques", ["TA0001"], "attack_techniques.0"),
        ("unexpected", 1, "unexpected"),
    ],
)
def test_schema_violations_name_the_field(payload, field, value, where):
    alert = payload("generic_alert.json")
    alert[field] = value

    with pytest.raises(Invalid) as caught:
        normalize_payload(alert)

    assert caught.value.code == "alert_invalid"
    assert f"item 0 ({where})" in caught.value.message


def test_a_malformed_typed_resource_id_is_rejected(payload):
    alert = payload("generic_alert.json")
    alert["resources"][0]["id"] = "i-XYZ"

    with pytest.raises(Invalid, match=r"resources\[0\]\.id"):
        normalize_payload(alert)


def test_a_generic_alert_may_say_it_is_resolved(payload):
    alert = payload("generic_alert.json")
    alert["status"] = "resolved"

    (normalized,) = normalize_payload(alert)

    assert (normalized.state, normalized.state_reason) == ("resolved", "status resolved")


def test_a_generic_alert_is_active_unless_it_says_otherwise(normalize_one):
    assert normalize_one("generic_alert.json").state == "active"


@pytest.mark.parametrize("account", ["12345678901", "1234567890123", "12345678901a", "arn:aws:iam::1:root"])
def test_a_generic_account_id_must_be_twelve_digits(payload, account):
    alert = payload("generic_alert.json")
    alert["account_id"] = account

    with pytest.raises(Invalid, match=r"account_id"):
        normalize_payload(alert)


def test_a_typed_value_broken_only_by_a_nul_is_dropped_with_a_note_not_the_batch(payload):
    alert = payload("generic_alert.json")
    alert["observables"] = [{"type": "ip", "value": "198.51.100.31\x00"}, {"type": "ip", "value": "203.0.113.5"}]

    (normalized, other) = normalize_payload([alert, payload("generic_alert.json")])

    assert normalized.observables_of(ObservableType.IP) == ["203.0.113.5"]
    assert normalized.notes == [
        "dropped observables[0].value: '198.51.100.31\ufffd' is not a valid ip",
        "replaced 1 character PostgreSQL cannot store (NUL, lone surrogates) with U+FFFD",
    ]
    assert other.notes == []


def test_a_typed_value_that_is_simply_wrong_still_rejects_the_alert(payload):
    alert = payload("generic_alert.json")
    alert["observables"] = [{"type": "ip", "value": "not-an-ip"}]

    with pytest.raises(Invalid, match="not a valid ip"):
        normalize_payload(alert)
