"""Grouping never hides work (issue #15), end to end on the system as `make run` starts it.

Alerts that join an incident are listed in it with their resources, and each gets the response its
own finding calls for; `contained` means every affected resource's containment finished. Finding
lifecycles are honoured: a passed check nobody saw fail opens nothing, an archived finding resolves
its alert. The findings are the vendor-documented shapes of `tests/fixtures/conformance/`.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

import pytest

from acso_shared.aws.clients import AwsClientFactory
from tests.e2e.flow_support import Api, actions_of, instance_state, run_instance, settled, tor_finding
from tests.support.ids import unique_finding_id, unique_public_ip
from tests.support.stack import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CONFORMANCE = Path(__file__).resolve().parents[1] / "fixtures" / "conformance"


def conformance(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFORMANCE / path).read_text())
    return data


def fresh_addresses(value: Any) -> Any:
    """The same finding with every IPv4 address replaced by one no other test uses, so findings of
    different tests never correlate through the documentation's example addresses."""
    mapping: dict[str, str] = {}

    def walk(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: walk(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, key) for v in node]
        if isinstance(node, str) and key.lower().endswith(("ipaddressv4", "publicip", "sourceipv4")):
            return mapping.setdefault(node, unique_public_ip())
        return node

    return walk(value)


def backdoor_finding(instance_id: str, c2_ip: str) -> dict[str, Any]:
    """GuardDuty `Backdoor:EC2/C&CActivity.B` on an instance, talking to the C2 server `c2_ip`."""
    finding = tor_finding(instance_id)
    finding["type"] = "Backdoor:EC2/C&CActivity.B"
    finding["title"] = f"EC2 instance {instance_id} is querying an IP address associated with a known C&C server."
    finding["description"] = finding["title"]
    finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] = c2_ip
    return finding


def control_finding(control: str, severity: str, bucket: str, status: str = "FAILED") -> dict[str, Any]:
    """A consolidated Security Hub control finding (one finding per control and resource) on a bucket."""
    finding = copy.deepcopy(conformance("securityhub/fsbp_consolidated_ec2_19_failed.json"))
    finding_id = f"arn:aws:securityhub:us-east-1:123456789012:security-control/{control}/finding/{uuid.uuid4()}"
    finding.update(
        Id=finding_id,
        GeneratorId=f"security-control/{control}",
        Title=f"{control} check on {bucket}",
        Severity={"Label": severity, "Original": severity},
        Resources=[{"Type": "AwsS3Bucket", "Id": f"arn:aws:s3:::{bucket}", "Partition": "aws", "Region": "us-east-1"}],
        ProductFields={"aws/securityhub/FindingId": finding_id},
    )
    finding["Compliance"] = {"Status": status, "SecurityControlId": control}
    return finding


async def test_two_instances_talking_to_one_c2_server_are_both_quarantined_in_one_incident(
    api: Api, aws: AwsClientFactory
) -> None:
    first, second = await run_instance(aws, {"Name": "app-a"}), await run_instance(aws, {"Name": "app-b"})
    originals = {i: {g["GroupId"] for g in (await instance_state(aws, i))["SecurityGroups"]} for i in (first, second)}
    c2 = unique_public_ip()

    opened = await api.send_alert(backdoor_finding(first, c2))
    joined = await api.send_alert(backdoor_finding(second, c2))

    assert joined["incident_id"] == opened["incident_id"]
    assert joined["outcome"] == "correlated"
    assert joined["workflow_id"] not in (None, opened["workflow_id"])
    incident = await api.wait_incident(
        opened["incident_id"], lambda i: i["status"] == "contained" and settled(i), timeout_s=150
    )
    quarantined = {a["target"]: a["status"] for a in actions_of(incident, "ec2.quarantine")}
    assert quarantined == {f"ec2_instance:{first}": "succeeded", f"ec2_instance:{second}": "succeeded"}
    for instance_id in (first, second):
        groups = {g["GroupId"] for g in (await instance_state(aws, instance_id))["SecurityGroups"]}
        assert groups.isdisjoint(originals[instance_id])
    listed = {a["alert_id"]: a for a in incident["alerts"]}
    assert set(listed) == {opened["alert_id"], joined["alert_id"]}
    assert {r["id"] for a in listed.values() for r in a["resources"] if r["type"] == "ec2_instance"} == {
        first,
        second,
    }
    assert all(a["containment"] == "contained" for a in listed.values())
    # `contained` was declared only after the second instance's quarantine had succeeded.
    timeline = incident["timeline"]
    contained_at = next(i for i, e in enumerate(timeline) if e["kind"] == "status" and e["data"]["to"] == "contained")
    second_quarantine = next(a["id"] for a in actions_of(incident, "ec2.quarantine") if second in a["target"])
    succeeded_at = next(
        i
        for i, e in enumerate(timeline)
        if e["kind"] == "action_succeeded" and e["data"]["action_id"] == second_quarantine
    )
    assert succeeded_at < contained_at
    assert next(e for e in timeline if e["kind"] == "alert_added")["data"]["alert_id"] == joined["alert_id"]

    # Financial intelligence estimated the contained incident's cost, the response's own included.
    async def impact() -> dict[str, Any] | None:
        status, body = await api.call(
            "GET", "financial_intelligence", f"/v1/costs/incidents/{opened['incident_id']}", role="admin"
        )
        return body if status == 200 else None

    estimate = await wait_until(impact, timeout_s=60, interval_s=1)
    assert {r["resource_id"] for r in estimate["resources"]} >= {first, second}
    assert any(a["action"] == "forensic_snapshot" for a in estimate["response_actions"])
    # Both alerts' workflows wait for their own containment and complete with it.
    for result in (opened, joined):
        status, workflow = await api.call("GET", "supervisor", f"/v1/workflows/{result['workflow_id']}", role="analyst")
        assert status == 200
        assert workflow["status"] == "completed"
        assert [(s["step"], s["status"]) for s in workflow["steps"]][-1] == ("contain", "completed")


async def test_distinct_security_hub_controls_on_one_bucket_are_distinct_alerts_of_one_incident(api: Api) -> None:
    bucket = f"acso-e2e-controls-{secrets.token_hex(4)}"
    controls = [("S3.5", "MEDIUM"), ("S3.9", "LOW"), ("S3.17", "HIGH"), ("S3.6", "MEDIUM")]

    results = [await api.send_alert(control_finding(c, s, bucket)) for c, s in controls]

    assert [r["outcome"] for r in results] == ["new_incident"] + ["correlated"] * (len(controls) - 1)
    assert len({r["incident_id"] for r in results}) == 1
    incident = await api.wait_incident(results[0]["incident_id"], lambda i: len(i["alerts"]) == len(controls))
    assert sorted(a["type"] for a in incident["alerts"]) == sorted(f"securityhub:control/{c}" for c, _ in controls)
    assert all(a["resources"][0]["type"] == "s3_bucket" for a in incident["alerts"])
    assert incident["alert_count"] == len(controls)
    assert incident["severity"] == "high"


async def test_a_passed_check_nobody_saw_fail_opens_nothing(api: Api) -> None:
    passed = control_finding("S3.5", "INFORMATIONAL", f"acso-e2e-passed-{secrets.token_hex(4)}", status="PASSED")

    status, body = await api.call("POST", "supervisor", "/v1/alerts", body=passed)

    assert status == 202, body
    [result] = body["results"]
    assert (result["outcome"], result["incident_id"], result["workflow_id"]) == ("ignored", None, None)
    assert "PASSED" in result["reason"]
    assert body["incidents"] == []


async def test_an_archived_update_resolves_its_alert_and_then_the_incident(api: Api) -> None:
    bucket = f"acso-e2e-archived-{secrets.token_hex(4)}"
    failed = control_finding("S3.13", "LOW", bucket)
    opened = await api.send_alert(failed)
    await api.wait_incident(opened["incident_id"], lambda i: i["status"] != "new" and len(i["alerts"]) == 1)

    archived = copy.deepcopy(failed)
    archived["RecordState"] = "ARCHIVED"
    resolved = await api.send_alert(archived)

    assert (resolved["outcome"], resolved["alert_id"]) == ("resolved", opened["alert_id"])
    incident = await api.wait_incident(opened["incident_id"], lambda i: i["status"] == "closed")
    [alert] = incident["alerts"]
    assert alert["status"] == "resolved"
    assert "ARCHIVED" in alert["status_reason"]
    assert "resolved at the source" in incident["resolution"]
    assert any(e["kind"] == "alert_resolved" for e in incident["timeline"])


@pytest.mark.parametrize(
    ("fixture_file", "resource_type"),
    [
        ("guardduty/eks_privileged_container.json", "eks_cluster"),
        ("guardduty/rds_anomalous_successful_login.json", "rds_instance"),
        ("guardduty/lambda_bitcoin_tool.json", "lambda_function"),
    ],
)
async def test_eks_rds_and_lambda_findings_appear_in_their_incident_with_their_resources(
    api: Api, fixture_file: str, resource_type: str
) -> None:
    finding = fresh_addresses(conformance(fixture_file))
    finding["id"] = unique_finding_id()

    result = await api.send_alert(finding)

    incident = await api.wait_incident(
        result["incident_id"], lambda i: any(e["kind"] == "playbook" for e in i["timeline"])
    )
    [alert] = [a for a in incident["alerts"] if a["alert_id"] == result["alert_id"]]
    assert resource_type in {r["type"] for r in alert["resources"]}
    playbook_entry = next(e for e in incident["timeline"] if e["kind"] == "playbook")
    # Either the catalogue's playbook for the family runs, or the timeline says none applies.
    assert playbook_entry["data"]["playbook"] or "no playbook applies" in playbook_entry["summary"]
