"""GuardDuty findings: resources, observables, severity, times and techniques."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acso_shared.alerts import ObservableType, ResourceType, SeverityId, SeverityLabel, normalize_payload
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit


def test_tor_ip_caller_is_about_the_instance_and_names_the_tor_address(normalize_one):
    alert = normalize_one("guardduty_tor_ip_caller.json")

    assert alert.type == "UnauthorizedAccess:EC2/TorIPCaller"
    assert alert.primary_resource is not None
    assert alert.primary_resource.type is ResourceType.EC2_INSTANCE
    assert alert.primary_resource.id == "i-0123456789abcdef0"
    assert alert.primary_resource.arn == "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"
    assert alert.primary_resource.tags == {"Name": "web-frontend-1", "Environment": "staging"}
    assert alert.observables_of(ObservableType.INSTANCE_ID) == ["i-0123456789abcdef0"]
    assert "198.51.100.23" in alert.observables_of(ObservableType.IP)
    assert alert.attack_techniques == ["T1090.003"]


def test_severity_keeps_the_guardduty_score_beside_the_ocsf_level(normalize_one):
    alert = normalize_one("guardduty_tor_ip_caller.json")

    assert alert.severity.id is SeverityId.MEDIUM
    assert alert.severity.label is SeverityLabel.MEDIUM
    assert alert.severity.score == 5.0


def test_first_and_last_seen_come_from_the_event_times_in_utc(normalize_one):
    alert = normalize_one("guardduty_tor_ip_caller.json")

    assert alert.first_seen == datetime(2026, 11, 20, 9, 12, 3, tzinfo=UTC)
    assert alert.last_seen == alert.occurred_at == datetime(2026, 11, 20, 9, 41, 47, tzinfo=UTC)


def test_raw_and_eventbridge_forms_normalise_to_the_same_alert_apart_from_format_and_raw(normalize_one):
    raw = normalize_one("guardduty_tor_ip_caller.json")
    wrapped = normalize_one("guardduty_tor_ip_caller_eventbridge.json")

    skip = {"source_format", "raw"}
    assert raw.model_dump(exclude=skip) == wrapped.model_dump(exclude=skip)
    assert wrapped.raw["detail-type"] == "GuardDuty Finding"


def test_alert_id_is_deterministic_from_the_finding_id(normalize_one):
    assert (
        normalize_one("guardduty_tor_ip_caller.json").alert_id
        == normalize_one("guardduty_tor_ip_caller_eventbridge.json").alert_id
    )


def test_credential_exfiltration_is_about_the_access_key_and_its_user(normalize_one):
    alert = normalize_one("guardduty_instance_credential_exfiltration.json")

    assert [(r.type, r.id) for r in alert.resources] == [
        (ResourceType.IAM_ACCESS_KEY, "AKIAIOSFODNN7EXAMPLE"),
        (ResourceType.IAM_USER, "svc-deploy"),
    ]
    assert alert.observables_of(ObservableType.ACCESS_KEY_ID) == ["AKIAIOSFODNN7EXAMPLE"]
    assert alert.observables_of(ObservableType.PRINCIPAL) == ["svc-deploy"]
    assert alert.observables_of(ObservableType.IP) == ["203.0.113.77"]
    assert alert.severity.label is SeverityLabel.HIGH
    assert alert.attack_techniques == ["T1078.004", "T1552.005"]


def test_an_instance_role_session_name_yields_the_instance_id(payload):
    finding = payload("guardduty_instance_credential_exfiltration.json")
    finding["resource"]["accessKeyDetails"].update(
        accessKeyId="ASIAQXZJ4EXAMPLE1234",
        principalId="AROAQXZJ4EXAMPLE55555:i-0123456789abcdef0",
        userName="acso-local-web",
        userType="AssumedRole",
    )

    (alert,) = normalize_payload(finding)

    assert alert.observables_of(ObservableType.INSTANCE_ID) == ["i-0123456789abcdef0"]
    assert ResourceType.IAM_ROLE in {r.type for r in alert.resources}


def test_bitcoin_dns_finding_yields_the_lower_cased_domain_and_t1496(normalize_one):
    alert = normalize_one("guardduty_bitcoin_tool_dns.json")

    assert alert.observables_of(ObservableType.DOMAIN) == ["pool.minergate.example.com"]
    assert alert.attack_techniques == ["T1496"]
    assert alert.primary_resource is not None
    assert alert.primary_resource.id == "i-0fedcba9876543210"


def test_s3_policy_finding_is_about_the_bucket_and_names_the_caller(normalize_one):
    alert = normalize_one("guardduty_s3_block_public_access_disabled.json")

    assert alert.primary_resource is not None
    assert (alert.primary_resource.type, alert.primary_resource.id) == (
        ResourceType.S3_BUCKET,
        "acso-local-customer-exports",
    )
    assert alert.primary_resource.arn == "arn:aws:s3:::acso-local-customer-exports"
    assert alert.observables_of(ObservableType.ACCESS_KEY_ID) == ["AKIAI44QH8DHBEXAMPLE"]
    assert alert.observables_of(ObservableType.PRINCIPAL) == ["ops-admin"]
    assert alert.severity.label is SeverityLabel.LOW
    assert alert.attack_techniques == ["T1530"]


def test_an_invalid_optional_value_is_skipped_not_fatal(payload):
    finding = payload("guardduty_tor_ip_caller.json")
    finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] = "not-an-ip"

    (alert,) = normalize_payload(finding)

    assert "not-an-ip" not in alert.observables_of(ObservableType.IP)


def test_malware_scan_hashes_are_extracted(payload):
    finding = payload("guardduty_bitcoin_tool_dns.json")
    finding["service"]["ebsVolumeScanDetails"] = {
        "scanDetections": {
            "threatDetectedByName": {
                "threatNames": [{"name": "Coinminer", "filePaths": [{"filePath": "/tmp/xmrig", "hash": "A" * 64}]}]
            }
        }
    }

    (alert,) = normalize_payload(finding)

    assert alert.observables_of(ObservableType.HASH_SHA256) == ["a" * 64]


def test_a_finding_without_an_account_id_is_invalid(payload):
    finding = payload("guardduty_tor_ip_caller.json")
    del finding["accountId"]

    with pytest.raises(Invalid, match="accountId"):
        normalize_payload(finding)
