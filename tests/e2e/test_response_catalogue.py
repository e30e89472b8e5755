"""The response catalogue end to end, on the system as `make run` starts it (issue #17): vendor-documented
findings (the conformance corpus) about emulated resources go in at the supervisor, and the playbook of
their family or control acts on those resources, with approvals and reverts through the API.

Security Hub's BatchUpdateFindings, which moto lacks, is served by the session's Security Hub fake.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from acso_shared.aws.clients import AwsClientFactory
from tests.e2e.flow_support import Api
from tests.fakes.securityhub import FakeSecurityHub
from tests.integration.incident_response.catalogue_support import (
    bucket,
    db_instance,
    ecs_task,
    ingress_of,
    security_group,
    vpc_with_subnet,
)
from tests.support.ids import unique_finding_id, unique_public_ip

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CONFORMANCE = Path(__file__).resolve().parents[1] / "fixtures" / "conformance"
ACCOUNT = "123456789012"
WORLD_RDP = {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
WORLD_HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def _conformance(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONFORMANCE / name).read_text())
    return copy.deepcopy(data)


def _fresh_addresses(node: Any) -> None:
    """Every remote address of the finding made unique, so findings of different tests never correlate."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "ipAddressV4" and isinstance(value, str):
                node[key] = unique_public_ip()
            else:
                _fresh_addresses(value)
    elif isinstance(node, list):
        for item in node:
            _fresh_addresses(item)


def _steps(incident: dict[str, Any]) -> dict[str, str]:
    return {a["step"]: a["status"] for a in incident["actions"]}


def _action(incident: dict[str, Any], step: str) -> dict[str, Any]:
    return next(a for a in incident["actions"] if a["step"] == step)


async def _approve(api: Api, incident: dict[str, Any], step: str) -> None:
    action_id = _action(incident, step)["id"]
    approval = next(a for a in incident["approvals"] if a["action_id"] == action_id)
    status, body = await api.call(
        "POST", "incident_response", f"/v1/approvals/{approval['id']}", body={"decision": "approve"}
    )
    assert status == 200, body


async def _revert(api: Api, incident: dict[str, Any], step: str) -> None:
    action_id = _action(incident, step)["id"]
    status, body = await api.call(
        "POST", "incident_response", f"/v1/incidents/{incident['id']}/actions/{action_id}/revert"
    )
    assert status in (200, 202), body


async def _seed(aws: AwsClientFactory, hub: FakeSecurityHub, finding: dict[str, Any]) -> None:
    client = await aws.client("securityhub", endpoint_url=hub.url)
    keep = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt")
    await client.batch_import_findings(
        Findings=[
            {
                **{k: finding[k] for k in keep},
                "Title": finding["Title"],
                "Description": finding["Description"],
                "Resources": [{"Type": r["Type"], "Id": r["Id"]} for r in finding["Resources"]],
            }
        ]
    )


def _control_finding(control: str, resource: dict[str, Any]) -> dict[str, Any]:
    """The FSBP EC2.19 sample finding turned into `control`'s, about `resource`, with a fresh id."""
    finding = _conformance("securityhub/fsbp_consolidated_ec2_19_failed.json")
    finding["Id"] = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:security-control/{control}/finding/{uuid.uuid4()}"
    finding["GeneratorId"] = f"security-control/{control}"
    finding["Compliance"]["SecurityControlId"] = control
    finding["ProductFields"].pop("Resources:0/Id", None)
    finding["ProductFields"].pop("aws/securityhub/FindingId", None)
    finding["Resources"] = [resource]
    return finding


async def test_an_ecs_runtime_finding_stops_its_task(api: Api, aws: AwsClientFactory) -> None:
    task_arn, cluster = await ecs_task(aws)
    finding = _conformance("guardduty/ecs_runtime_new_binary_executed.json")
    finding["id"] = unique_finding_id()
    details = finding["resource"]["ecsClusterDetails"]
    details["name"] = cluster
    details["arn"] = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/{cluster}"
    details["taskDetails"]["arn"] = task_arn
    _fresh_addresses(finding)

    result = await api.send_alert(finding)
    incident = await api.wait_incident(result["incident_id"], lambda i: _steps(i).get("stop-task") == "succeeded")

    assert incident["playbook"] == "runtime-ecs-task"
    assert _steps(incident)["capture-task"] == "succeeded"
    assert _action(incident, "capture-task")["before_state"]["task_arn"] == task_arn
    ecs = await aws.client("ecs")
    assert (await ecs.describe_tasks(cluster=cluster, tasks=[task_arn]))["tasks"][0]["desiredStatus"] == "STOPPED"
    # A stopped task cannot be started again: the catalogue says the stop does not revert.
    status, _ = await api.call(
        "POST",
        "incident_response",
        f"/v1/incidents/{incident['id']}/actions/{_action(incident, 'stop-task')['id']}/revert",
    )
    assert status == 409


async def test_an_rds_anomalous_login_snapshots_the_instance_and_rotates_its_credential(
    api: Api, aws: AwsClientFactory
) -> None:
    name, group = await db_instance(aws, managed_secret=True)
    rds = await aws.client("rds")
    instance = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]
    secret = instance["MasterUserSecret"]["SecretArn"]
    secrets = await aws.client("secretsmanager")
    versions = {v["VersionId"] for v in (await secrets.list_secret_version_ids(SecretId=secret))["Versions"]}
    finding = _conformance("guardduty/rds_anomalous_successful_login.json")
    finding["id"] = unique_finding_id()
    details = finding["resource"]["rdsDbInstanceDetails"]
    details["dbInstanceIdentifier"] = name
    details["dbInstanceArn"] = instance["DBInstanceArn"]
    details.pop("dbClusterIdentifier")
    _fresh_addresses(finding)

    result = await api.send_alert(finding)
    incident = await api.wait_incident(
        result["incident_id"], lambda i: _steps(i).get("rotate-credential") == "pending_approval"
    )
    assert incident["playbook"] == "rds-anomalous-login"
    await api.wait_incident(incident["id"], lambda i: _steps(i).get("snapshot") == "succeeded")
    await _approve(api, incident, "rotate-credential")
    await _approve(api, incident, "isolate")
    done = await api.wait_incident(
        incident["id"], lambda i: {_steps(i)["rotate-credential"], _steps(i)["isolate"]} == {"succeeded"}
    )

    snapshot = _action(done, "snapshot")["after_state"]["snapshot"]
    assert (await rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot))["DBSnapshots"]
    rotated = {v["VersionId"] for v in (await secrets.list_secret_version_ids(SecretId=secret))["Versions"]}
    assert len(rotated - versions) == 1
    now = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]
    assert [g["VpcSecurityGroupId"] for g in now["VpcSecurityGroups"]] != [group]

    await _revert(api, done, "isolate")
    now = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]
    assert [g["VpcSecurityGroupId"] for g in now["VpcSecurityGroups"]] == [group]


async def test_a_security_hub_ec2_19_finding_removes_the_open_rule_after_approval_and_resolves_the_finding(
    api: Api, aws: AwsClientFactory, securityhub: FakeSecurityHub
) -> None:
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [WORLD_RDP, WORLD_HTTPS])
    finding = _control_finding(
        "EC2.19",
        {
            "Type": "AwsEc2SecurityGroup",
            "Id": f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}",
            "Partition": "aws",
            "Region": "us-east-1",
        },
    )
    await _seed(aws, securityhub, finding)

    result = await api.send_alert(finding)
    incident = await api.wait_incident(
        result["incident_id"], lambda i: _steps(i).get("remediate") == "pending_approval"
    )
    assert incident["playbook"] == "securityhub-ec2-19"
    assert ("tcp", 3389, 3389, "0.0.0.0/0") in await ingress_of(aws, group)
    assert securityhub.finding(finding["Id"])["Workflow"] == {"Status": "NEW"}

    await _approve(api, incident, "remediate")
    done = await api.wait_incident(incident["id"], lambda i: _steps(i).get("resolve-finding") == "succeeded")
    assert _steps(done)["remediate"] == "succeeded"
    assert await ingress_of(aws, group) == [("tcp", 443, 443, "0.0.0.0/0")]
    resolved = securityhub.finding(finding["Id"])
    assert resolved["Workflow"] == {"Status": "RESOLVED"}
    assert incident["id"] in resolved["Note"]["Text"]

    await _revert(api, done, "resolve-finding")
    await _revert(api, done, "remediate")
    assert securityhub.finding(finding["Id"])["Workflow"] == {"Status": "NEW"}
    assert ("tcp", 3389, 3389, "0.0.0.0/0") in await ingress_of(aws, group)


async def test_a_security_hub_s3_2_finding_blocks_public_access_and_reverts(
    api: Api, aws: AwsClientFactory, securityhub: FakeSecurityHub
) -> None:
    name = await bucket(aws)
    finding = _control_finding(
        "S3.2", {"Type": "AwsS3Bucket", "Id": f"arn:aws:s3:::{name}", "Partition": "aws", "Region": "us-east-1"}
    )
    finding["Title"] = "S3 general purpose buckets should block public read access"
    await _seed(aws, securityhub, finding)

    result = await api.send_alert(finding)
    done = await api.wait_incident(result["incident_id"], lambda i: _steps(i).get("resolve-finding") == "succeeded")

    assert done["playbook"] == "securityhub-s3-2"
    s3 = await aws.client("s3")
    config = (await s3.get_public_access_block(Bucket=name))["PublicAccessBlockConfiguration"]
    assert all(config.values())
    assert securityhub.finding(finding["Id"])["Workflow"] == {"Status": "RESOLVED"}

    await _revert(api, done, "remediate")
    with pytest.raises(Exception, match="NoSuchPublicAccessBlockConfiguration"):
        await s3.get_public_access_block(Bucket=name)
