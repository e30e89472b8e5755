"""OCSF Detection Findings (class_uid 2004)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acso_shared.alerts import ObservableType, ResourceType, SeverityId, normalize_payload
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit


def test_finding_info_gives_id_title_type_and_times(normalize_one):
    alert = normalize_one("ocsf_detection_finding.json")

    assert alert.source_id == "acme-rt-5b2f90c1-7e44-4b8a-a1f3-0c9d8e7f6a5b"
    assert alert.title == "Reverse shell spawned by nginx worker"
    assert alert.type == "Execution/Reverse Shell"
    assert alert.first_seen == datetime(2026, 11, 20, 14, 24, tzinfo=UTC)
    assert alert.occurred_at == alert.last_seen == datetime(2026, 11, 20, 14, 25, tzinfo=UTC)
    assert (alert.account_id, alert.region, alert.product) == ("123456789012", "us-east-1", "Acme Runtime Sensor")


def test_severity_id_is_taken_as_is(normalize_one):
    assert normalize_one("ocsf_detection_finding.json").severity.id is SeverityId.HIGH


def test_technique_and_sub_technique_uids_are_collected(normalize_one):
    assert normalize_one("ocsf_detection_finding.json").attack_techniques == ["T1059", "T1059.004"]


def test_resources_and_observables_are_typed(normalize_one):
    alert = normalize_one("ocsf_detection_finding.json")

    assert [(r.type, r.id, r.name) for r in alert.resources] == [
        (ResourceType.EC2_INSTANCE, "i-0123456789abcdef0", "web-frontend-1")
    ]
    assert alert.observables_of(ObservableType.IP) == ["198.51.100.200", "10.0.1.25"]
    assert alert.observables_of(ObservableType.HASH_SHA256) == [
        "4355a46b19d348dc2f57c046f8ef63d4538ebb936000f3c9ee954a27460dd865"
    ]
    assert alert.observables_of(ObservableType.DOMAIN) == ["web-frontend-1.internal.example.com"]


def test_os_user_names_inside_evidence_are_not_principals(normalize_one):
    assert normalize_one("ocsf_detection_finding.json").observables_of(ObservableType.PRINCIPAL) == []


def test_the_finding_actor_is_a_principal(payload):
    finding = payload("ocsf_detection_finding.json")
    finding["actor"] = {
        "user": {
            "name": "ops-admin",
            "uid": "arn:aws:iam::123456789012:user/ops-admin",
            "credential_uid": "AKIAI44QH8DHBEXAMPLE",
        }
    }

    (alert,) = normalize_payload(finding)

    assert alert.observables_of(ObservableType.PRINCIPAL) == ["arn:aws:iam::123456789012:user/ops-admin", "ops-admin"]
    assert alert.observables_of(ObservableType.ACCESS_KEY_ID) == ["AKIAI44QH8DHBEXAMPLE"]


def test_severity_other_becomes_unknown_keeping_the_caption(payload):
    finding = payload("ocsf_detection_finding.json")
    finding.update(severity_id=99, severity="Vendor-Sev-7")

    (alert,) = normalize_payload(finding)

    assert (alert.severity.id, alert.severity.original) == (SeverityId.UNKNOWN, "Vendor-Sev-7")


def test_a_finding_without_finding_info_uid_is_invalid(payload):
    finding = payload("ocsf_detection_finding.json")
    del finding["finding_info"]["uid"]

    with pytest.raises(Invalid, match=r"finding_info\.uid"):
        normalize_payload(finding)


def test_a_finding_without_time_is_invalid(payload):
    finding = payload("ocsf_detection_finding.json")
    del finding["time"]

    with pytest.raises(Invalid, match=r"item 0 \(time\)"):
        normalize_payload(finding)


@pytest.mark.parametrize(
    ("change", "state", "reason"),
    [
        ({"status_id": 3}, "resolved", "status_id 3 (Suppressed)"),
        ({"status_id": 5}, "resolved", "status_id 5 (Archived)"),
        ({"status_id": 99, "status": "archived"}, "resolved", "status Archived"),
        ({"status_id": 2}, "active", None),
        ({"activity_id": 3}, "resolved", "activity_id 3 (Close)"),
        ({"compliance": {"control": "C-1", "status_id": 1}}, "resolved", "compliance.status_id 1 (Pass)"),
        ({"compliance": {"control": "C-1", "status_id": 3}}, "active", None),
    ],
)
def test_ocsf_status_activity_and_compliance_give_the_lifecycle(payload, change, state, reason):
    finding = payload("ocsf_detection_finding.json")
    finding.update(change)

    (alert,) = normalize_payload(finding)

    assert (alert.state, alert.state_reason) == (state, reason)


def test_an_ocsf_analytic_names_the_detection_within_its_product(normalize_one):
    alert = normalize_one("ocsf_detection_finding.json")

    assert alert.detection is not None
    assert alert.detection.startswith(f"{alert.product}/")
