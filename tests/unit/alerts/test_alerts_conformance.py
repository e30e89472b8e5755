"""The conformance corpus: what ACSO makes of each vendor-documented payload, stated in one table.

Each row names a file of `tests/fixtures/conformance/<format>/` (its folder README names the vendor
documentation it follows) and the normalised outcome: identity (source format, source id, type and
detection), resources (type and id, primary first), observables, severity and lifecycle (state and
reason). Every file is also delivered a second time, as its source would resend it (a GuardDuty
update with a later `updatedAt` and a higher `service.count`, an ASFF or OCSF re-evaluation, a
Splunk redelivery): the alert id and the fingerprint must not change.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from acso_shared.alerts import NormalizedAlert, correlation_keys, fingerprint, normalize_payload

pytestmark = pytest.mark.unit

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "conformance"
RECEIVED_AT = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Expected:
    file: str
    source_format: str
    source_id: str
    type: str
    detection: str
    severity: str
    state: str
    state_reason: str | None
    resources: list[tuple[str, str]]
    observables: set[tuple[str, str]]


SH = f"arn:aws:securityhub:us-east-1:{ACCOUNT}"
TABLE: list[Expected] = [
    # ---- GuardDuty: one finding per resource family ------------------------------------------
    Expected(
        "guardduty/ec2_backdoor_c2_activity.json",
        "guardduty_finding",
        "5ac6a0b1e2d34f5a8b9c0d1e2f3a4b5c",
        "Backdoor:EC2/C&CActivity.B",
        "Backdoor:EC2/C&CActivity.B",
        "high",
        "active",
        None,
        [("ec2_instance", "i-0a1b2c3d4e5f60718"), ("security_group", "sg-0a1b2c3d4e5f60718")],
        {
            ("instance_id", "i-0a1b2c3d4e5f60718"),
            ("ip", "54.210.33.41"),
            ("ip", "10.0.1.41"),
            ("ip", "198.51.100.200"),
        },
    ),
    Expected(
        "guardduty/ec2_backdoor_c2_activity_archived.json",
        "guardduty_eventbridge",
        "5ac6a0b1e2d34f5a8b9c0d1e2f3a4b5c",
        "Backdoor:EC2/C&CActivity.B",
        "Backdoor:EC2/C&CActivity.B",
        "high",
        "resolved",
        "service.archived true",
        [("ec2_instance", "i-0a1b2c3d4e5f60718"), ("security_group", "sg-0a1b2c3d4e5f60718")],
        {
            ("instance_id", "i-0a1b2c3d4e5f60718"),
            ("ip", "54.210.33.41"),
            ("ip", "10.0.1.41"),
            ("ip", "198.51.100.200"),
        },
    ),
    Expected(
        "guardduty/iam_access_key_tor_ip_caller.json",
        "guardduty_finding",
        "6bd7b1c2f3e45a6b9cad1e2f3a4b5c6d",
        "UnauthorizedAccess:IAMUser/TorIPCaller",
        "UnauthorizedAccess:IAMUser/TorIPCaller",
        "medium",
        "active",
        None,
        [("iam_access_key", "ASIAQXZJ4EXAMPLE5678"), ("iam_role", "ci-deployer")],
        {
            ("access_key_id", "ASIAQXZJ4EXAMPLE5678"),
            ("principal", "ci-deployer"),
            ("principal_id", "AROAQXZJ4EXAMPLE12345:build-runner"),
            ("ip", "203.0.113.99"),
        },
    ),
    Expected(
        "guardduty/s3_bucket_malicious_ip_caller.json",
        "guardduty_finding",
        "7ce8c2d3a4f56b7cadbe2f3a4b5c6d7e",
        "Discovery:S3/MaliciousIPCaller",
        "Discovery:S3/MaliciousIPCaller",
        "high",
        "active",
        None,
        [
            ("s3_bucket", "acme-finance-reports"),
            ("iam_access_key", "AKIAQXZJ4EXAMPLE2468"),
            ("iam_user", "reporting-svc"),
        ],
        {
            ("access_key_id", "AKIAQXZJ4EXAMPLE2468"),
            ("principal", "reporting-svc"),
            ("principal_id", "AIDAQXZJ4EXAMPLE97531"),
            ("ip", "192.0.2.150"),
        },
    ),
    Expected(
        "guardduty/eks_privileged_container.json",
        "guardduty_finding",
        "8df9d3e4b5a67c8dbecf3a4b5c6d7e8f",
        "PrivilegeEscalation:Kubernetes/PrivilegedContainer",
        "PrivilegeEscalation:Kubernetes/PrivilegedContainer",
        "medium",
        "active",
        None,
        [
            ("eks_cluster", "payments-prod"),
            ("kubernetes_workload", "payments-prod/default/debug-shell"),
            ("container", "shell"),
        ],
        {("principal", f"arn:aws:iam::{ACCOUNT}:role/eks-deployer"), ("ip", "203.0.113.120")},
    ),
    Expected(
        "guardduty/rds_anomalous_successful_login.json",
        "guardduty_finding",
        "9e0ae4f5c6b78d9ecfd04b5c6d7e8f90",
        "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
        "CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin",
        "high",
        "active",
        None,
        [("rds_instance", "orders-db-instance-1"), ("rds_cluster", "orders-db")],
        {("ip", "198.51.100.77")},
    ),
    Expected(
        "guardduty/lambda_bitcoin_tool.json",
        "guardduty_finding",
        "a01bf5a6d7c89eaf0de15c6d7e8f90a1",
        "CryptoCurrency:Lambda/BitcoinTool.B",
        "CryptoCurrency:Lambda/BitcoinTool.B",
        "high",
        "active",
        None,
        [("lambda_function", "thumbnailer"), ("security_group", "sg-0c1d2e3f4a5b60718")],
        {
            ("principal", f"arn:aws:iam::{ACCOUNT}:role/thumbnailer-exec"),
            ("ip", "192.0.2.66"),
            ("ip", "10.2.0.15"),
        },
    ),
    Expected(
        "guardduty/ecs_runtime_new_binary_executed.json",
        "guardduty_finding",
        "b12ca6b7e8d90fb01ef26d7e8f90a1b2",
        "Execution:Runtime/NewBinaryExecuted",
        "Execution:Runtime/NewBinaryExecuted",
        "medium",
        "active",
        None,
        [
            ("ecs_task", f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/checkout/0f1e2d3c4b5a69788796a5b4c3d2e1f0"),
            ("ecs_cluster", "checkout"),
            ("container", "0f1e2d3c4b5a69788796a5b4c3d2e1f0-1234567890"),
        ],
        {("hash_sha256", "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592")},
    ),
    Expected(
        "guardduty/ec2_runtime_bitcoin_tool_dns.json",
        "guardduty_finding",
        "c23db7c8f9e01ac12fa37e8f90a1b2c3",
        "CryptoCurrency:Runtime/BitcoinTool.B!DNS",
        "CryptoCurrency:Runtime/BitcoinTool.B!DNS",
        "high",
        "active",
        None,
        [("ec2_instance", "i-0d1e2f3a4b5c60718"), ("security_group", "sg-0d1e2f3a4b5c60718")],
        {
            ("instance_id", "i-0d1e2f3a4b5c60718"),
            ("ip", "54.210.33.88"),
            ("ip", "10.0.2.88"),
            ("domain", "pool.minexmr.example"),
            ("hash_sha256", "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"),
        },
    ),
    Expected(
        "guardduty/s3_object_malicious_file.json",
        "guardduty_finding",
        "d34ec8d90af12bd23fb48f90a1b2c3d4",
        "Object:S3/MaliciousFile",
        "Object:S3/MaliciousFile",
        "high",
        "active",
        None,
        [("s3_object", "acme-uploads/incoming/invoice-2026-11.pdf.exe"), ("s3_bucket", "acme-uploads")],
        {("hash_sha256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f")},
    ),
    Expected(
        "guardduty/ec2_malware_protection_malicious_file.json",
        "guardduty_finding",
        "e45fd9e01ba23ce34ac59a01b2c3d4e5",
        "Execution:EC2/MaliciousFile",
        "Execution:EC2/MaliciousFile",
        "high",
        "active",
        None,
        [
            ("ec2_instance", "i-0a1b2c3d4e5f60718"),
            ("security_group", "sg-0a1b2c3d4e5f60718"),
            ("ebs_volume", "vol-0a1b2c3d4e5f60718"),
        ],
        {
            ("instance_id", "i-0a1b2c3d4e5f60718"),
            ("ip", "54.210.33.41"),
            ("ip", "10.0.1.41"),
            ("hash_sha256", "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"),
        },
    ),
    # ---- Security Hub ASFF: FSBP and CIS, consolidated and per-standard, lifecycles -----------
    Expected(
        "securityhub/fsbp_consolidated_ec2_19_failed.json",
        "asff",
        f"{SH}:security-control/EC2.19/finding/2f9a0b1c-3d4e-4f5a-8b6c-7d8e9f0a1b2c",
        "securityhub:control/EC2.19",
        "EC2.19",
        "critical",
        "active",
        None,
        [("security_group", "sg-0e1f2a3b4c5d60718")],
        set(),
    ),
    Expected(
        "securityhub/fsbp_consolidated_ec2_19_passed.json",
        "asff",
        f"{SH}:security-control/EC2.19/finding/2f9a0b1c-3d4e-4f5a-8b6c-7d8e9f0a1b2c",
        "securityhub:control/EC2.19",
        "EC2.19",
        "informational",
        "resolved",
        "Workflow.Status RESOLVED",
        [("security_group", "sg-0e1f2a3b4c5d60718")],
        set(),
    ),
    Expected(
        "securityhub/fsbp_legacy_cloudtrail_2_failed.json",
        "asff",
        f"arn:aws:securityhub:us-east-2:{ACCOUNT}:subscription/aws-foundational-security-best-practices/v/1.0.0"
        "/CloudTrail.2/finding/a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "securityhub:control/CloudTrail.2",
        "aws-foundational-security-best-practices/v/1.0.0/CloudTrail.2",
        "medium",
        "active",
        None,
        [("cloudtrail_trail", "org-audit")],
        set(),
    ),
    Expected(
        "securityhub/fsbp_legacy_s3_8_passed.json",
        "asff",
        f"{SH}:subscription/aws-foundational-security-best-practices/v/1.0.0/S3.8/finding/"
        "b2c3d4e5-6789-0abc-def1-EXAMPLE22222",
        "securityhub:control/S3.8",
        "aws-foundational-security-best-practices/v/1.0.0/S3.8",
        "informational",
        "resolved",
        "Workflow.Status RESOLVED",
        [("s3_bucket", "acme-static-site")],
        set(),
    ),
    Expected(
        "securityhub/cis_legacy_v1_2_0_2_9_failed.json",
        "asff",
        f"{SH}:subscription/cis-aws-foundations-benchmark/v/1.2.0/2.9/finding/c3d4e5f6-7890-abcd-ef12-EXAMPLE33333",
        "securityhub:control/cis-aws-foundations-benchmark/v/1.2.0/2.9",
        "cis-aws-foundations-benchmark/v/1.2.0/2.9",
        "medium",
        "active",
        None,
        [("vpc", "vpc-0f1e2d3c4b5a60718")],
        set(),
    ),
    Expected(
        "securityhub/cis_legacy_v1_4_0_1_4_passed.json",
        "asff",
        f"{SH}:subscription/cis-aws-foundations-benchmark/v/1.4.0/1.4/finding/d4e5f6a7-890a-bcde-f123-EXAMPLE44444",
        "securityhub:control/cis-aws-foundations-benchmark/v/1.4.0/1.4",
        "cis-aws-foundations-benchmark/v/1.4.0/1.4",
        "informational",
        "resolved",
        "Workflow.Status RESOLVED",
        [("aws_account", ACCOUNT)],
        set(),
    ),
    Expected(
        "securityhub/cis_consolidated_iam_4_failed.json",
        "asff",
        f"{SH}:security-control/IAM.4/finding/e5f6a7b8-90ab-cdef-1234-EXAMPLE55555",
        "securityhub:control/IAM.4",
        "IAM.4",
        "critical",
        "active",
        None,
        [("aws_account", ACCOUNT)],
        set(),
    ),
    Expected(
        "securityhub/cis_consolidated_kms_4_passed.json",
        "asff",
        f"{SH}:security-control/KMS.4/finding/f6a7b8c9-0abc-def1-2345-EXAMPLE66666",
        "securityhub:control/KMS.4",
        "KMS.4",
        "informational",
        "resolved",
        "Workflow.Status RESOLVED",
        [("kms_key", "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d")],
        set(),
    ),
    Expected(
        "securityhub/fsbp_consolidated_sqs_1_archived.json",
        "asff",
        f"{SH}:security-control/SQS.1/finding/0a7b8c9d-abcd-ef12-3456-EXAMPLE77777",
        "securityhub:control/SQS.1",
        "SQS.1",
        "medium",
        "resolved",
        "RecordState ARCHIVED",
        [("sqs_queue", "legacy-orders")],
        set(),
    ),
    Expected(
        "securityhub/inspector_ecr_image_cve_workflow_resolved.json",
        "asff",
        f"arn:aws:inspector2:us-east-1:{ACCOUNT}:finding/0f9e8d7c6b5a49382716a5b4c3d2e1f0",
        "Software and Configuration Checks/Vulnerabilities/CVE",
        "AWSInspector/CVE-2023-44487",
        "high",
        "resolved",
        "Workflow.Status RESOLVED",
        [("ecr_image", "checkout-api@sha256:9b2a0c1f3e4d5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b")],
        set(),
    ),
    # ---- OCSF 1.x ------------------------------------------------------------------------------
    Expected(
        "ocsf/detection_finding_2004.json",
        "ocsf_detection_finding",
        "edr-det-2026-11-21-000417",
        "Reverse Shell",
        "Example EDR/rule-4821",
        "high",
        "active",
        None,
        [("ec2_instance", "i-0e1f2a3b4c5d60718")],
        {
            ("instance_id", "i-0e1f2a3b4c5d60718"),
            ("ip", "203.0.113.44"),
            ("ip", "10.0.3.12"),
            ("domain", "ip-10-0-3-12.ec2.internal"),
            ("hash_sha256", "04a484f27a4b485b28451923605d9b528453d6c098a5a5112bec859fb5f2eea9"),
        },
    ),
    Expected(
        "ocsf/detection_finding_2004_resolved.json",
        "ocsf_detection_finding",
        "edr-det-2026-11-21-000417",
        "Reverse Shell",
        "Example EDR/rule-4821",
        "high",
        "resolved",
        "status_id 4 (Resolved)",
        [("ec2_instance", "i-0e1f2a3b4c5d60718")],
        {
            ("instance_id", "i-0e1f2a3b4c5d60718"),
            ("ip", "203.0.113.44"),
            ("ip", "10.0.3.12"),
            ("domain", "ip-10-0-3-12.ec2.internal"),
            ("hash_sha256", "04a484f27a4b485b28451923605d9b528453d6c098a5a5112bec859fb5f2eea9"),
        },
    ),
    Expected(
        "ocsf/security_finding_2001.json",
        "ocsf_security_finding",
        "cspm-iam-0042-svc-legacy",
        "IAM user without MFA",
        "IAM user without MFA",
        "medium",
        "active",
        None,
        [("iam_user", "svc-legacy")],
        {("principal", f"arn:aws:iam::{ACCOUNT}:user/svc-legacy")},
    ),
    Expected(
        "ocsf/securityhub_v2_compliance_finding_2003_passed.json",
        "securityhub_v2_eventbridge",
        f"{SH}:security-control/S3.5/finding/1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
        "securityhub:control/S3.5",
        "S3.5",
        "informational",
        "resolved",
        "compliance.status_id 1 (Pass)",
        [("s3_bucket", "acme-logs")],
        set(),
    ),
    # ---- Splunk webhook alert action -----------------------------------------------------------
    Expected(
        "splunk/webhook_docs_example.json",
        "splunk_webhook",
        # No saved search, no event address: the row's digest tells it apart within the run.
        "scheduler_admin_search_W2_at_14232356_132:8ceff8c7c8575f31",
        "splunk_adhoc_search",
        "splunk_adhoc_search",
        "unknown",
        "active",
        None,
        [],
        set(),
    ),
    Expected(
        "splunk/webhook_windows_failed_logons.json",
        "splunk_webhook",
        "scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5a1b2c3d4e5f60718_at_1795201200_2231:_cd=7:1204958",
        "Access - Excessive Failed Logins - Rule",
        "Access - Excessive Failed Logins - Rule",
        "high",
        "active",
        None,
        [("host", "wks-0042.corp.example.com")],
        {("ip", "203.0.113.50"), ("principal", "jdoe"), ("domain", "wks-0042.corp.example.com")},
    ),
]


def _load(name: str) -> Any:
    return json.loads((CORPUS / name).read_text())


def _normalize(payload: Any) -> NormalizedAlert:
    (alert,) = normalize_payload(payload, received_at=RECEIVED_AT)
    return alert


def _redelivered(name: str, payload: Any) -> Any:
    """The same finding as its source sends it again (see the module docstring)."""
    again = copy.deepcopy(payload)
    folder = name.split("/", 1)[0]
    if folder == "guardduty":
        finding = again.get("detail", again)
        finding["updatedAt"] = "2026-11-22T00:00:00.000Z"
        finding["service"]["count"] = finding["service"]["count"] + 5
        finding["service"]["eventLastSeen"] = "2026-11-21T23:59:00.000Z"
    elif folder == "securityhub":
        again["UpdatedAt"] = again["LastObservedAt"] = "2026-11-22T00:00:00.000Z"
    elif folder == "ocsf":
        finding = again["detail"]["findings"][0] if "detail" in again else again
        finding["time"] = 1795305600000
        # OCSF 1.0 Security Findings keep their details under `finding`.
        finding.get("finding_info", finding.get("finding"))["modified_time"] = 1795305600000
    return again


def test_every_file_of_the_corpus_has_a_row_and_every_row_a_file():
    files = {str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*.json")}

    assert files == {row.file for row in TABLE}
    assert {name.split("/")[0] for name in files} == {"guardduty", "securityhub", "ocsf", "splunk"}


def test_every_folder_names_the_documentation_of_each_of_its_files():
    for folder in ("guardduty", "securityhub", "ocsf", "splunk"):
        readme = (CORPUS / folder / "README.md").read_text()
        assert "https://" in readme
        for path in (CORPUS / folder).glob("*.json"):
            assert f"`{path.name}`" in readme, f"{folder}/README.md does not name {path.name}"


@pytest.mark.parametrize("row", TABLE, ids=[row.file for row in TABLE])
def test_conformance_file_normalises_as_stated(row: Expected):
    payload = _load(row.file)
    alert = _normalize(payload)

    assert (alert.source_format.value, alert.source_id) == (row.source_format, row.source_id)
    assert (alert.type, alert.detection) == (row.type, row.detection)
    assert alert.severity.label.value == row.severity
    assert (alert.state.value, alert.state_reason) == (row.state, row.state_reason)
    assert [(r.type.value, r.id) for r in alert.resources] == row.resources
    assert {(o.type.value, o.value) for o in alert.observables} == row.observables
    assert alert.account_id == ACCOUNT or row.source_format == "splunk_webhook"
    assert alert.notes == []

    again = _normalize(_redelivered(row.file, payload))
    assert again.alert_id == alert.alert_id
    assert fingerprint(again) == fingerprint(alert)


def test_each_finding_is_one_alert_and_its_lifecycle_update_is_the_same_alert():
    alerts = {row.file: _normalize(_load(row.file)) for row in TABLE}
    updates = {
        "guardduty/ec2_backdoor_c2_activity_archived.json": "guardduty/ec2_backdoor_c2_activity.json",
        "securityhub/fsbp_consolidated_ec2_19_passed.json": "securityhub/fsbp_consolidated_ec2_19_failed.json",
        "ocsf/detection_finding_2004_resolved.json": "ocsf/detection_finding_2004.json",
    }

    for update, original in updates.items():
        assert alerts[update].alert_id == alerts[original].alert_id
        assert fingerprint(alerts[update]) == fingerprint(alerts[original])
        assert (alerts[original].state.value, alerts[update].state.value) == ("active", "resolved")
    distinct = [a.alert_id for name, a in alerts.items() if name not in updates]
    assert len(set(distinct)) == len(distinct)


def test_distinct_controls_on_one_account_are_distinct_alerts_that_share_the_account_resource_key():
    iam_4 = _normalize(_load("securityhub/cis_consolidated_iam_4_failed.json"))
    cis_1_4 = _normalize(_load("securityhub/cis_legacy_v1_4_0_1_4_passed.json"))

    assert fingerprint(iam_4) != fingerprint(cis_1_4)
    assert f"{ACCOUNT}|resource:aws_account:{ACCOUNT}" in correlation_keys(iam_4) & correlation_keys(cis_1_4)


def test_the_same_c2_address_from_two_accounts_joins_only_with_cross_account_correlation():
    ours = _load("guardduty/ec2_backdoor_c2_activity.json")
    theirs = _load("guardduty/ec2_backdoor_c2_activity.json")
    theirs.update(id="0" * 32, accountId="210987654321")
    theirs["resource"]["instanceDetails"]["instanceId"] = "i-0f0e0d0c0b0a09080"
    theirs["resource"]["instanceDetails"]["networkInterfaces"][0]["publicIp"] = "54.210.99.1"

    a, b = _normalize(ours), _normalize(theirs)

    assert not correlation_keys(a) & correlation_keys(b)
    assert correlation_keys(a, cross_account=True) & correlation_keys(b, cross_account=True) == {"ip:198.51.100.200"}
