"""ASFF findings, plain and from a Security Hub EventBridge event."""

from __future__ import annotations

import pytest

from acso_shared.alerts import ObservableType, ResourceType, SeverityLabel, normalize_payload
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit


def test_guardduty_finding_relayed_by_security_hub_keeps_its_guardduty_type(payload):
    tor, _ = normalize_payload(payload("securityhub_findings_imported.json"))

    assert tor.type == "UnauthorizedAccess:EC2/TorIPCaller"
    assert tor.product == "GuardDuty"
    assert tor.attack_techniques == ["T1090.003"]
    assert tor.severity.label is SeverityLabel.MEDIUM
    assert tor.severity.score == 50


def test_asff_resources_ids_are_taken_from_their_arns(payload):
    tor, control = normalize_payload(payload("securityhub_findings_imported.json"))

    assert tor.primary_resource is not None
    assert tor.primary_resource.id == "i-0123456789abcdef0"
    assert control.primary_resource is not None
    assert (control.primary_resource.type, control.primary_resource.id) == (
        ResourceType.SECURITY_GROUP,
        "sg-0f1e2d3c4b5a69788",
    )


def test_asff_network_and_product_fields_yield_the_remote_ip(payload):
    tor, _ = normalize_payload(payload("securityhub_findings_imported.json"))

    assert "198.51.100.23" in tor.observables_of(ObservableType.IP)
    assert tor.observables_of(ObservableType.INSTANCE_ID) == ["i-0123456789abcdef0"]


def test_a_critical_label_maps_to_ocsf_critical(payload):
    _, control = normalize_payload(payload("securityhub_findings_imported.json"))

    assert control.severity.label is SeverityLabel.CRITICAL
    assert control.attack_techniques == []


def test_plain_asff_access_key_finding(normalize_one):
    alert = normalize_one("asff_finding.json")

    assert alert.primary_resource is not None
    assert (alert.primary_resource.type, alert.primary_resource.id) == (
        ResourceType.IAM_ACCESS_KEY,
        "AKIAI44QH8DHBEXAMPLE",
    )
    assert alert.observables_of(ObservableType.PRINCIPAL) == ["ops-admin", "arn:aws:iam::123456789012:user/ops-admin"]
    assert alert.observables_of(ObservableType.PRINCIPAL_ID) == ["AIDAQXZJ4EXAMPLE13579"]


def test_threat_intel_indicators_are_typed_normalised_and_deduplicated(normalize_one):
    alert = normalize_one("asff_finding.json")

    assert alert.observables_of(ObservableType.IP) == ["203.0.113.9"]
    assert alert.observables_of(ObservableType.DOMAIN) == ["c2.stealer.example.net"]
    assert alert.observables_of(ObservableType.HASH_SHA256) == [
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    ]


def test_explicit_technique_ids_in_types_are_kept(normalize_one):
    assert normalize_one("asff_finding.json").attack_techniques == ["T1078.004"]


def test_normalized_severity_is_used_when_no_label_is_given(payload):
    finding = payload("asff_finding.json")
    finding["Severity"] = {"Normalized": 72}

    (alert,) = normalize_payload(finding)

    assert alert.severity.label is SeverityLabel.HIGH


def test_a_finding_without_resources_names_the_field(payload):
    finding = payload("asff_finding.json")
    finding["Resources"] = []

    with pytest.raises(Invalid, match=r"item 0 \(Resources\)"):
        normalize_payload(finding)


def _control(payload):
    return payload("securityhub_findings_imported.json")["detail"]["findings"][1]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"RecordState": "ARCHIVED"}, "RecordState ARCHIVED"),
        ({"Workflow": {"Status": "SUPPRESSED"}}, "Workflow.Status SUPPRESSED"),
        ({"Workflow": {"Status": "RESOLVED"}}, "Workflow.Status RESOLVED"),
        ({"Compliance": {"Status": "PASSED", "SecurityControlId": "EC2.19"}}, "Compliance.Status PASSED"),
        ({"Compliance": {"Status": "NOT_AVAILABLE", "SecurityControlId": "EC2.19"}}, "Compliance.Status NOT_AVAILABLE"),
    ],
)
def test_asff_lifecycle_fields_resolve_the_finding(payload, change, reason):
    finding = _control(payload)
    finding.update(change)

    (alert,) = normalize_payload(finding)

    assert (alert.state, alert.state_reason) == ("resolved", reason)


def test_the_deprecated_workflow_state_counts_only_without_workflow(payload):
    deferred = _control(payload)
    del deferred["Workflow"]
    deferred["WorkflowState"] = "DEFERRED"
    overridden = _control(payload)
    overridden["WorkflowState"] = "RESOLVED"

    (a,) = normalize_payload(deferred)
    (b,) = normalize_payload(overridden)

    assert (a.state, a.state_reason) == ("resolved", "WorkflowState DEFERRED")
    assert b.state == "active"


def test_failed_and_warning_results_stay_active(payload):
    for status in ("FAILED", "WARNING"):
        finding = _control(payload)
        finding["Compliance"]["Status"] = status
        (alert,) = normalize_payload(finding)
        assert (alert.state, alert.state_reason) == ("active", None)


def test_a_control_finding_is_typed_by_its_control_not_by_types(payload):
    _, control = normalize_payload(payload("securityhub_findings_imported.json"))

    assert (control.type, control.detection) == ("securityhub:control/EC2.19", "EC2.19")


def test_a_guardduty_finding_relayed_by_security_hub_is_detected_by_its_guardduty_type(payload):
    tor, _ = normalize_payload(payload("securityhub_findings_imported.json"))

    assert tor.detection == "UnauthorizedAccess:EC2/TorIPCaller"


def test_a_third_party_finding_is_detected_by_its_generator(normalize_one, payload):
    alert = normalize_one("asff_finding.json")

    assert alert.detection == payload("asff_finding.json")["GeneratorId"]
    assert alert.state == "active"


@pytest.mark.parametrize(
    ("asff_type", "arn", "expected"),
    [
        (
            "AwsLambdaFunction",
            "arn:aws:lambda:us-east-1:123456789012:function:thumbnailer",
            ("lambda_function", "thumbnailer"),
        ),
        ("AwsRdsDbInstance", "arn:aws:rds:us-east-1:123456789012:db:orders-1", ("rds_instance", "orders-1")),
        ("AwsRdsDbCluster", "arn:aws:rds:us-east-1:123456789012:cluster:orders", ("rds_cluster", "orders")),
        ("AwsSnsTopic", "arn:aws:sns:us-east-1:123456789012:alerts", ("sns_topic", "alerts")),
        (
            "AwsEcsTask",
            "arn:aws:ecs:us-east-1:123456789012:task/checkout/0f1e2d3c",
            ("ecs_task", "arn:aws:ecs:us-east-1:123456789012:task/checkout/0f1e2d3c"),
        ),
        ("AwsEcsService", "arn:aws:ecs:us-east-1:123456789012:service/checkout/api", ("ecs_service", "api")),
        (
            "AwsEc2NetworkAcl",
            "arn:aws:ec2:us-east-1:123456789012:network-acl/acl-0a1b2c3d",
            ("network_acl", "acl-0a1b2c3d"),
        ),
        (
            "AwsSecretsManagerSecret",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            ("secretsmanager_secret", "db-AbCdEf"),
        ),
        ("AwsDynamoDbTable", "arn:aws:dynamodb:us-east-1:123456789012:table/orders", ("dynamodb_table", "orders")),
        ("AwsEc2Subnet", "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0a1b2c3d", ("subnet", "subnet-0a1b2c3d")),
    ],
)
def test_asff_resource_types_map_to_typed_resources_with_their_ids(payload, asff_type, arn, expected):
    finding = _control(payload)
    finding["Resources"] = [{"Type": asff_type, "Id": arn, "Region": "us-east-1"}]

    (alert,) = normalize_payload(finding)

    assert alert.primary_resource is not None
    assert (alert.primary_resource.type.value, alert.primary_resource.id) == expected
    assert alert.primary_resource.arn == arn
