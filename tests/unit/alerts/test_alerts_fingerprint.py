"""Deduplication fingerprints and correlation keys."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acso_shared.alerts import ResourceType, correlatable_ip, correlation_keys, fingerprint, normalize_payload

pytestmark = pytest.mark.unit


def _reordered(obj: Any) -> Any:
    """The same JSON with every object's keys in reverse order."""
    if isinstance(obj, dict):
        return {k: _reordered(obj[k]) for k in reversed(list(obj))}
    if isinstance(obj, list):
        return [_reordered(v) for v in obj]
    return obj


def test_the_same_alert_twice_has_the_same_fingerprint(payload):
    first, second = normalize_payload([payload("guardduty_tor_ip_caller.json")] * 2)

    assert fingerprint(first) == fingerprint(second)
    assert len(fingerprint(first)) == 64
    assert int(fingerprint(first), 16) >= 0


def test_reordered_keys_do_not_change_the_fingerprint(payload):
    original = payload("guardduty_tor_ip_caller.json")
    reordered = _reordered(original)
    assert json.dumps(reordered) != json.dumps(original)

    (a,) = normalize_payload(original)
    (b,) = normalize_payload(reordered)

    assert fingerprint(a) == fingerprint(b)


def test_a_repeat_with_new_times_ids_and_title_has_the_same_fingerprint(payload):
    repeat = payload("guardduty_tor_ip_caller.json")
    repeat.update(
        id="ffffffffffffffffffffffffffffffff",
        createdAt="2026-11-22T01:00:00Z",
        updatedAt="2026-11-22T02:00:00Z",
        title="Tor again",
    )
    repeat["service"].update(eventFirstSeen="2026-11-22T00:59:00Z", eventLastSeen="2026-11-22T01:59:00Z")

    (a,) = normalize_payload(payload("guardduty_tor_ip_caller.json"))
    (b,) = normalize_payload(repeat)

    assert a.alert_id != b.alert_id
    assert fingerprint(a) == fingerprint(b)


def test_a_different_instance_has_a_different_fingerprint(payload):
    other = payload("guardduty_tor_ip_caller.json")
    other["resource"]["instanceDetails"]["instanceId"] = "i-0aaaaaaaaaaaaaaaa"

    (a,) = normalize_payload(payload("guardduty_tor_ip_caller.json"))
    (b,) = normalize_payload(other)

    assert fingerprint(a) != fingerprint(b)


def test_a_different_principal_has_a_different_fingerprint(payload):
    other = payload("guardduty_s3_block_public_access_disabled.json")
    other["resource"]["accessKeyDetails"]["userName"] = "someone-else"

    (a,) = normalize_payload(payload("guardduty_s3_block_public_access_disabled.json"))
    (b,) = normalize_payload(other)

    assert fingerprint(a) != fingerprint(b)


def test_a_different_finding_type_has_a_different_fingerprint(payload):
    other = payload("guardduty_tor_ip_caller.json")
    other["type"] = "UnauthorizedAccess:EC2/TorClient"

    (a,) = normalize_payload(payload("guardduty_tor_ip_caller.json"))
    (b,) = normalize_payload(other)

    assert fingerprint(a) != fingerprint(b)


def test_an_alert_storm_of_1000_identical_alerts_has_one_fingerprint(payload):
    alert = payload("generic_alert.json")
    del alert["id"]

    storm = normalize_payload([alert] * 500) + normalize_payload([alert] * 500)

    assert len(storm) == 1000
    assert len({fingerprint(a) for a in storm}) == 1


def test_raw_and_eventbridge_guardduty_share_a_fingerprint(normalize_one):
    assert fingerprint(normalize_one("guardduty_tor_ip_caller.json")) == fingerprint(
        normalize_one("guardduty_tor_ip_caller_eventbridge.json")
    )


def test_correlation_keys_name_instance_access_key_principal_and_public_ips_within_the_account(normalize_one):
    assert correlation_keys(normalize_one("guardduty_tor_ip_caller.json")) == {
        "123456789012|instance:i-0123456789abcdef0",
        "123456789012|ip:198.51.100.23",
        "123456789012|ip:54.210.33.17",
    }
    assert correlation_keys(normalize_one("guardduty_instance_credential_exfiltration.json")) == {
        "123456789012|access_key:AKIAIOSFODNN7EXAMPLE",
        "123456789012|principal:svc-deploy",
        "123456789012|resource:iam_user:svc-deploy",
        "123456789012|ip:203.0.113.77",
    }


def test_cross_account_correlation_drops_the_account_scope_but_keeps_bare_names_apart(normalize_one):
    assert correlation_keys(normalize_one("guardduty_instance_credential_exfiltration.json"), cross_account=True) == {
        "access_key:AKIAIOSFODNN7EXAMPLE",
        "principal:123456789012:svc-deploy",
        "resource:iam_user:svc-deploy",
        "ip:203.0.113.77",
    }


def test_the_same_c2_address_in_two_accounts_gives_no_shared_key(payload):
    ours = payload("guardduty_tor_ip_caller.json")
    theirs = payload("guardduty_tor_ip_caller.json")
    theirs["accountId"] = "210987654321"
    theirs["resource"]["instanceDetails"]["instanceId"] = "i-0aaaaaaaaaaaaaaaa"

    a, b = normalize_payload([ours, theirs])

    assert not correlation_keys(a) & correlation_keys(b)
    assert "ip:198.51.100.23" in correlation_keys(a, cross_account=True) & correlation_keys(b, cross_account=True)


def test_every_affected_resource_is_a_key_but_a_shared_security_group_is_not(payload):
    finding = payload("guardduty_s3_block_public_access_disabled.json")
    (alert,) = normalize_payload(finding)
    assert "123456789012|resource:s3_bucket:acso-local-customer-exports" in correlation_keys(alert)

    (tor,) = normalize_payload(payload("guardduty_tor_ip_caller.json"))
    assert any(r.type is ResourceType.SECURITY_GROUP for r in tor.resources)
    assert not any("security_group" in key for key in correlation_keys(tor))


def test_a_security_group_that_is_the_finding_s_subject_is_a_key(payload):
    _, control = normalize_payload(payload("securityhub_findings_imported.json"))

    assert "123456789012|resource:security_group:sg-0f1e2d3c4b5a69788" in correlation_keys(control)


def test_distinct_controls_on_one_resource_share_a_resource_key_but_not_a_fingerprint(payload):
    _, control = normalize_payload(payload("securityhub_findings_imported.json"))
    other = payload("securityhub_findings_imported.json")["detail"]["findings"][1]
    other["Id"] = other["Id"].replace("EC2.19", "EC2.18")
    other["Compliance"]["SecurityControlId"] = "EC2.18"
    (second,) = normalize_payload(other)

    assert fingerprint(control) != fingerprint(second)
    assert correlation_keys(control) == correlation_keys(second)


def test_the_same_control_re_evaluated_keeps_its_fingerprint(payload):
    first = payload("securityhub_findings_imported.json")["detail"]["findings"][1]
    again = payload("securityhub_findings_imported.json")["detail"]["findings"][1]
    again["UpdatedAt"] = "2026-11-22T00:00:00Z"
    again["Title"] = "re-evaluated"

    a, b = normalize_payload([first, again])

    assert a.alert_id == b.alert_id
    assert fingerprint(a) == fingerprint(b)


def test_private_addresses_are_not_correlation_keys(normalize_one):
    keys = correlation_keys(normalize_one("generic_alert.json"))

    assert "123456789012|ip:10.0.1.25" not in keys
    assert "123456789012|ip:198.51.100.31" in keys


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("10.1.2.3", False),
        ("172.16.0.9", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("224.0.0.251", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:10.0.0.1", False),
        ("8.8.8.8", True),
        ("198.51.100.7", True),
        ("2600:1f18::1", True),
        ("not-an-ip", False),
    ],
)
def test_only_routable_addresses_correlate(address, expected):
    assert correlatable_ip(address) is expected


def test_alerts_about_the_same_instance_from_different_formats_share_a_key(normalize_one, payload):
    gd = normalize_one("guardduty_tor_ip_caller.json")
    ocsf = normalize_one("ocsf_detection_finding.json")
    _, sh_control = normalize_payload(payload("securityhub_findings_imported.json"))

    assert "123456789012|instance:i-0123456789abcdef0" in correlation_keys(gd) & correlation_keys(ocsf)
    assert not correlation_keys(gd) & correlation_keys(sh_control)


def test_an_arn_principal_is_keyed_as_is(normalize_one):
    keys = correlation_keys(normalize_one("splunk_webhook.json"))

    assert "123456789012|principal:arn:aws:iam::123456789012:user/ops-admin" in keys
