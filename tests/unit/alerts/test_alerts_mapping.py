"""Severity and ATT&CK technique mapping tables."""

from __future__ import annotations

import pytest

from acso_shared.alerts import SeverityId
from acso_shared.alerts.attack import guardduty_type_from_asff_types, techniques_for_guardduty_type, techniques_in_text
from acso_shared.alerts.severity import from_asff, from_guardduty_score, from_label

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.5, SeverityId.INFORMATIONAL),
        (1.0, SeverityId.LOW),
        (3.9, SeverityId.LOW),
        (4.0, SeverityId.MEDIUM),
        (6.9, SeverityId.MEDIUM),
        (7.0, SeverityId.HIGH),
        (8.9, SeverityId.HIGH),
        (9.0, SeverityId.CRITICAL),
        (10.0, SeverityId.CRITICAL),
    ],
)
def test_guardduty_scores_map_to_the_documented_bands(score, expected):
    assert from_guardduty_score(score).id is expected


@pytest.mark.parametrize(
    ("normalized", "expected"),
    [
        (0, SeverityId.INFORMATIONAL),
        (1, SeverityId.LOW),
        (39, SeverityId.LOW),
        (40, SeverityId.MEDIUM),
        (69, SeverityId.MEDIUM),
        (70, SeverityId.HIGH),
        (89, SeverityId.HIGH),
        (90, SeverityId.CRITICAL),
    ],
)
def test_asff_normalized_scores_map_to_the_documented_bands(normalized, expected):
    severity = from_asff(None, normalized)
    assert severity is not None
    assert severity.id is expected


def test_asff_label_wins_over_normalized():
    severity = from_asff("LOW", 95)
    assert severity is not None
    assert severity.id is SeverityId.LOW


def test_asff_without_label_or_normalized_has_no_severity():
    assert from_asff(None, None) is None
    assert from_asff("SEVERE", 101) is None


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Info", SeverityId.INFORMATIONAL),
        ("MEDIUM", SeverityId.MEDIUM),
        ("critical", SeverityId.CRITICAL),
        ("p1", SeverityId.UNKNOWN),
    ],
)
def test_free_text_labels(label, expected):
    assert from_label(label).id is expected


@pytest.mark.parametrize(
    ("finding_type", "expected"),
    [
        ("UnauthorizedAccess:EC2/SSHBruteForce", ["T1110"]),
        ("UnauthorizedAccess:EC2/RDPBruteForce", ["T1110"]),
        ("CryptoCurrency:EC2/BitcoinTool.B!DNS", ["T1496"]),
        ("CryptoCurrency:Runtime/BitcoinTool.B", ["T1496"]),
        ("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS", ["T1552.005", "T1078.004"]),
        ("Recon:IAMUser/MaliciousIPCaller", ["T1580", "T1087.004"]),
        ("Policy:S3/BucketBlockPublicAccessDisabled", ["T1530"]),
        ("Stealth:IAMUser/CloudTrailLoggingDisabled", ["T1562.008"]),
        ("Backdoor:EC2/C&CActivity.B!DNS", ["T1071"]),
        ("Trojan:EC2/DGADomainRequest.C!DNS", ["T1568.002"]),
        ("UnauthorizedAccess:EC2/TorIPCaller", ["T1090.003"]),
    ],
)
def test_guardduty_types_map_to_techniques(finding_type, expected):
    assert techniques_for_guardduty_type(finding_type) == expected


def test_unlisted_types_fall_back_to_their_threat_purpose():
    assert techniques_for_guardduty_type("Backdoor:Lambda/SomethingNew") == ["T1071"]


def test_purposes_too_vague_to_map_give_no_technique():
    assert techniques_for_guardduty_type("Policy:IAMUser/SomethingNew") == []


def test_guardduty_type_is_recovered_from_asff_types():
    assert guardduty_type_from_asff_types(["TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS"]) == (
        "Backdoor:EC2/C&CActivity.B!DNS"
    )
    assert guardduty_type_from_asff_types(["Software and Configuration Checks/Vulnerabilities/CVE"]) is None


def test_technique_ids_are_found_in_text_but_not_inside_other_tokens():
    assert techniques_in_text("TTPs/Credential Access/T1552.005, also T1078") == ["T1552.005", "T1078"]
    assert techniques_in_text("XT1078 T10789 TA0001") == []
