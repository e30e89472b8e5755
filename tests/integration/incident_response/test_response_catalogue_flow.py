"""The response catalogue through the incident-response service: a `response.request` for each new family
or control in, the playbook's actions on the emulated resources, approvals, reverts and the timeline out.

Security Hub's `BatchUpdateFindings` is served by a fake speaking its wire protocol (moto lacks it).
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acso_incident_response.app import create_app
from acso_incident_response.settings import Settings
from acso_shared.alerts.models import NormalizedAlert, Resource, ResourceType
from acso_shared.alerts.normalize import normalize_payload
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import OPERATION_REQUEST, OPERATION_RESULT, OperationResult
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent, build_manifest
from acso_shared.web.keys import RUNTIME
from tests.fakes.securityhub import FakeSecurityHub, start_securityhub
from tests.integration.incident_response.catalogue_support import (
    bucket,
    db_instance,
    ecs_task,
    eks_cluster,
    ingress_of,
    security_group,
    vpc_with_subnet,
)
from tests.integration.incident_response.ir_support import ACCOUNT, guardduty_alert, response_request
from tests.integration.orchestration.orchestration_support import QueueWatcher
from tests.support.apps import running
from tests.support.stack import TEST_ENV, TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EC2_19 = Path(__file__).resolve().parents[2] / "fixtures/conformance/securityhub/fsbp_consolidated_ec2_19_failed.json"
WORLD_RDP = {"IpProtocol": "tcp", "FromPort": 3389, "ToPort": 3389, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
WORLD_HTTPS = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


@pytest.fixture
async def hub() -> AsyncIterator[FakeSecurityHub]:
    async with start_securityhub() as fake:
        yield fake


def _settings(stack: TestStack, hub: FakeSecurityHub | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"sweep_interval_s": 0.2, "visibility_timeout_s": 5}
    if hub is not None:
        values["aws_service_endpoints"] = {"securityhub": hub.url}
    values.update(overrides)
    settings: Settings = stack.service_settings(Settings, **values)
    return settings


async def _incident(client: Any, stack: TestStack, incident_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/incidents/{incident_id}", headers=stack.auth("analyst"))
    if response.status == 404:
        return None
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def _until(client: Any, stack: TestStack, incident_id: str, predicate: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        incident = await _incident(client, stack, incident_id)
        return incident if incident is not None and predicate(incident) else None

    result: dict[str, Any] = await wait_until(check, timeout_s=60, interval_s=0.2)
    return result


def _statuses(incident: dict[str, Any]) -> dict[str, str]:
    return {a["step"]: a["status"] for a in incident["actions"]}


def _action(incident: dict[str, Any], step: str) -> dict[str, Any]:
    return next(a for a in incident["actions"] if a["step"] == step)


async def _send(app: Any, envelope: Envelope) -> None:
    await app[RUNTIME].send_task(Agent.INCIDENT_RESPONSE, envelope)


async def _approve(client: Any, stack: TestStack, incident: dict[str, Any], step: str) -> None:
    action_id = _action(incident, step)["id"]
    approval = next(a for a in incident["approvals"] if a["action_id"] == action_id)
    response = await client.post(
        f"/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=stack.auth("responder")
    )
    assert response.status == 200, await response.text()


async def _revert(client: Any, stack: TestStack, incident_id: str, action_id: str) -> None:
    response = await client.post(
        f"/v1/incidents/{incident_id}/actions/{action_id}/revert", headers=stack.auth("responder")
    )
    assert response.status in (200, 202), await response.text()


def _control_finding(group: str) -> tuple[dict[str, Any], NormalizedAlert]:
    """The vendor-documented EC2.19 finding (conformance corpus), about `group`, with a fresh finding id."""
    finding = copy.deepcopy(json.loads(EC2_19.read_text()))
    finding["Id"] = finding["Id"].rsplit("/", 1)[0] + f"/{uuid.uuid4()}"
    finding["Resources"][0]["Id"] = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/{group}"
    finding["Resources"][0]["Details"]["AwsEc2SecurityGroup"]["GroupId"] = group
    return finding, normalize_payload(finding)[0]


async def _seed(aws: AwsClientFactory, hub: FakeSecurityHub, finding: dict[str, Any]) -> None:
    client = await aws.client("securityhub", endpoint_url=hub.url)
    keep = ("SchemaVersion", "Id", "ProductArn", "GeneratorId", "AwsAccountId", "Types", "CreatedAt", "UpdatedAt")
    await client.batch_import_findings(
        Findings=[
            {
                **{k: finding[k] for k in keep},
                "Severity": {"Label": finding["Severity"]["Label"]},
                "Title": finding["Title"],
                "Description": finding["Description"],
                "Resources": [{"Type": r["Type"], "Id": r["Id"]} for r in finding["Resources"]],
            }
        ]
    )


async def test_an_ecs_runtime_finding_records_its_task_and_stops_it(stack: TestStack, aws: AwsClientFactory) -> None:
    task_arn, cluster = await ecs_task(aws)
    resources = [
        Resource(type=ResourceType.ECS_TASK, id=task_arn, arn=task_arn, account_id=ACCOUNT),
        Resource(type=ResourceType.ECS_CLUSTER, id=cluster, account_id=ACCOUNT),
    ]
    request = response_request(guardduty_alert("Execution:Runtime/NewBinaryExecuted", resources))
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until(client, stack, incident_id, lambda i: _statuses(i).get("stop-task") == "succeeded")

        assert incident["playbook"] == "runtime-ecs-task"
        statuses = _statuses(incident)
        assert statuses["capture-task"] == "succeeded"
        # The emulated task runs in bridge mode: it has no interface of its own to quarantine.
        assert statuses["quarantine-network"] == "failed"
        assert "no network interface of its own" in _action(incident, "quarantine-network")["error"]
        evidence = _action(incident, "capture-task")["before_state"]
        assert evidence["task_arn"] == task_arn
        ecs = await aws.client("ecs")
        task = (await ecs.describe_tasks(cluster=cluster, tasks=[task_arn]))["tasks"][0]
        assert task["desiredStatus"] == "STOPPED"
        stop = _action(incident, "stop-task")
        assert (stop["before_state"]["desired_status"], stop["after_state"]["desired_status"]) == ("RUNNING", "STOPPED")
        refused = await client.post(
            f"/v1/incidents/{incident_id}/actions/{stop['id']}/revert", headers=stack.auth("responder")
        )
        assert refused.status == 409


async def test_a_protected_ecs_cluster_keeps_its_task_running(stack: TestStack, aws: AwsClientFactory) -> None:
    task_arn, cluster = await ecs_task(aws, tags={"acso:protected": "true"})
    resources = [Resource(type=ResourceType.ECS_TASK, id=task_arn, arn=task_arn, account_id=ACCOUNT)]
    request = response_request(guardduty_alert("Execution:Runtime/ReverseShell", resources))
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until(client, stack, incident_id, lambda i: len(i["actions"]) == 3)
        assert set(_statuses(incident).values()) == {"blocked"}
        assert all("resource_protected" in a["reason"] for a in incident["actions"])
        ecs = await aws.client("ecs")
        assert (await ecs.describe_tasks(cluster=cluster, tasks=[task_arn]))["tasks"][0]["desiredStatus"] == "RUNNING"


async def test_an_rds_anomalous_login_snapshots_then_rotates_and_isolates_after_approval(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    name, group = await db_instance(aws, managed_secret=True)
    rds = await aws.client("rds")
    secret = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]["MasterUserSecret"][
        "SecretArn"
    ]
    secrets = await aws.client("secretsmanager")
    versions = {v["VersionId"] for v in (await secrets.list_secret_version_ids(SecretId=secret))["Versions"]}
    resources = [Resource(type=ResourceType.RDS_INSTANCE, id=name, account_id=ACCOUNT)]
    request = response_request(guardduty_alert("CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin", resources))
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until(client, stack, incident_id, lambda i: _statuses(i).get("snapshot") == "succeeded")
        assert incident["playbook"] == "rds-anomalous-login"
        assert _statuses(incident)["rotate-credential"] == "pending_approval"
        assert _statuses(incident)["isolate"] == "pending_approval"
        snapshot = _action(incident, "snapshot")["after_state"]["snapshot"]
        assert (await rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot))["DBSnapshots"]

        await _approve(client, stack, incident, "rotate-credential")
        await _approve(client, stack, incident, "isolate")
        done = await _until(client, stack, incident_id, lambda i: i["status"] == "contained")
        assert _statuses(done) == {"snapshot": "succeeded", "rotate-credential": "succeeded", "isolate": "succeeded"}
        now = {v["VersionId"] for v in (await secrets.list_secret_version_ids(SecretId=secret))["Versions"]}
        assert len(now - versions) == 1
        isolate = _action(done, "isolate")
        found = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]
        assert [g["VpcSecurityGroupId"] for g in found["VpcSecurityGroups"]] == [
            isolate["after_state"]["quarantine_group"]
        ]

        await _revert(client, stack, incident_id, isolate["id"])
        found = (await rds.describe_db_instances(DBInstanceIdentifier=name))["DBInstances"][0]
        assert [g["VpcSecurityGroupId"] for g in found["VpcSecurityGroups"]] == [group]


async def test_a_security_hub_ec2_19_finding_removes_the_open_rule_after_approval_and_resolves_the_finding(
    stack: TestStack, aws: AwsClientFactory, hub: FakeSecurityHub
) -> None:
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [WORLD_RDP, WORLD_HTTPS])
    finding, alert = _control_finding(group)
    await _seed(aws, hub, finding)
    request = response_request(alert)
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack, hub))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until(client, stack, incident_id, lambda i: len(i["approvals"]) == 1)
        assert incident["playbook"] == "securityhub-ec2-19"
        assert _statuses(incident) == {"remediate": "pending_approval", "resolve-finding": "planned"}
        assert ("tcp", 3389, 3389, "0.0.0.0/0") in await ingress_of(aws, group)
        assert hub.finding(finding["Id"])["Workflow"] == {"Status": "NEW"}

        await _approve(client, stack, incident, "remediate")
        done = await _until(client, stack, incident_id, lambda i: _statuses(i)["resolve-finding"] == "succeeded")
        assert _statuses(done)["remediate"] == "succeeded"
        assert await ingress_of(aws, group) == [("tcp", 443, 443, "0.0.0.0/0")]
        resolved = hub.finding(finding["Id"])
        assert resolved["Workflow"] == {"Status": "RESOLVED"}
        assert incident_id in resolved["Note"]["Text"]
        assert resolved["Note"]["UpdatedBy"] == "acso-incident-response"
        assert not hub.rejected
        kinds = [e["kind"] for e in done["timeline"]]
        assert kinds.count("action_succeeded") == 2

        await _revert(client, stack, incident_id, _action(done, "resolve-finding")["id"])
        await _revert(client, stack, incident_id, _action(done, "remediate")["id"])
        assert hub.finding(finding["Id"])["Workflow"] == {"Status": "NEW"}
        assert ("tcp", 3389, 3389, "0.0.0.0/0") in await ingress_of(aws, group)


async def test_a_rejected_remediation_leaves_the_finding_open(
    stack: TestStack, aws: AwsClientFactory, hub: FakeSecurityHub
) -> None:
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [WORLD_RDP])
    finding, alert = _control_finding(group)
    await _seed(aws, hub, finding)
    request = response_request(alert)
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack, hub))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until(client, stack, incident_id, lambda i: len(i["approvals"]) == 1)
        approval = incident["approvals"][0]
        response = await client.post(
            f"/v1/approvals/{approval['id']}", json={"decision": "reject"}, headers=stack.auth("responder")
        )
        assert response.status == 200
        done = await _until(
            client, stack, incident_id, lambda i: _statuses(i)["resolve-finding"] in ("failed", "succeeded")
        )
        assert _statuses(done) == {"remediate": "rejected", "resolve-finding": "failed"}
        assert "finding_not_remediated" in _action(done, "resolve-finding")["error"]
        assert hub.finding(finding["Id"])["Workflow"] == {"Status": "NEW"}


async def test_an_s3_2_finding_blocks_public_access_and_reverts(
    stack: TestStack, aws: AwsClientFactory, hub: FakeSecurityHub
) -> None:
    name = await bucket(aws)
    finding = copy.deepcopy(json.loads(EC2_19.read_text()))
    finding["Id"] = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:security-control/S3.2/finding/{uuid.uuid4()}"
    finding["GeneratorId"] = "security-control/S3.2"
    finding["Compliance"]["SecurityControlId"] = "S3.2"
    finding["Title"] = "S3 general purpose buckets should block public read access"
    finding["Resources"] = [
        {"Type": "AwsS3Bucket", "Id": f"arn:aws:s3:::{name}", "Partition": "aws", "Region": "us-east-1"}
    ]
    alert = normalize_payload(finding)[0]
    assert alert.type == "securityhub:control/S3.2"
    await _seed(aws, hub, finding)
    request = response_request(alert)
    incident_id = request.payload["incident_id"]
    # One action per minute for the account: the resolve step waits for the next slot.
    app = create_app(_settings(stack, hub, account_rate_limit_per_minute=1, rate_limit_retry_s=1))
    async with running(app) as client:
        await _send(app, request)
        first = await _until(client, stack, incident_id, lambda i: _statuses(i).get("remediate") == "succeeded")
        assert first["playbook"] == "securityhub-s3-2"
        s3 = await aws.client("s3")
        config = (await s3.get_public_access_block(Bucket=name))["PublicAccessBlockConfiguration"]
        assert config == {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }
        deferred = await _until(
            client, stack, incident_id, lambda i: "action_deferred" in [e["kind"] for e in i["timeline"]]
        )
        assert _statuses(deferred)["resolve-finding"] in ("planned", "running")

        await _revert(client, stack, incident_id, _action(first, "remediate")["id"])
        with pytest.raises(Exception, match="NoSuchPublicAccessBlockConfiguration"):
            await s3.get_public_access_block(Bucket=name)


async def test_a_dry_run_previews_the_remediation_and_changes_neither_the_group_nor_the_finding(
    stack: TestStack, aws: AwsClientFactory, hub: FakeSecurityHub
) -> None:
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [WORLD_RDP, WORLD_HTTPS])
    finding, alert = _control_finding(group)
    await _seed(aws, hub, finding)
    request = response_request(alert)
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack, hub, dry_run=True))
    async with running(app) as client:
        await _send(app, request)
        done = await _until(client, stack, incident_id, lambda i: set(_statuses(i).values()) == {"succeeded"})
        remediate = _action(done, "remediate")
        assert remediate["dry_run"] is True
        # What would be revoked is the state read before: the world-open RDP rule, not HTTPS.
        assert remediate["before_state"]["open"] == [
            {
                "IpProtocol": "tcp",
                "FromPort": 3389,
                "ToPort": 3389,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                "Ipv6Ranges": [],
            }
        ]
        assert "high-risk ports" in remediate["after_state"]["would"]
        assert ("tcp", 3389, 3389, "0.0.0.0/0") in await ingress_of(aws, group)
        assert hub.finding(finding["Id"])["Workflow"] == {"Status": "NEW"}
        assert not [r for r in hub.requests if r["operation"] == "BatchUpdateFindings"]


async def test_an_eks_finding_tags_the_cluster_hands_the_kubernetes_fix_to_orchestration_and_restricts_the_endpoint(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    orchestration = QueueWatcher(aws, build_manifest(TEST_ENV).task_queues[Agent.SERVICE_ORCHESTRATION].name)
    name = await eks_cluster(aws)
    resources = [Resource(type=ResourceType.EKS_CLUSTER, id=name, account_id=ACCOUNT)]
    request = response_request(guardduty_alert("PrivilegeEscalation:Kubernetes/PrivilegedContainer", resources))
    incident_id = request.payload["incident_id"]
    # The operator's administration network: the public endpoint is restricted to it.
    app = create_app(_settings(stack, eks_endpoint_allowed_cidrs="203.0.113.0/24"))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until(
            client, stack, incident_id, lambda i: _statuses(i).get("kubernetes-response") == "running"
        )
        assert incident["playbook"] == "eks-cluster"
        assert _statuses(incident)["tag-cluster"] == "succeeded"
        assert _statuses(incident)["restrict-endpoint"] == "pending_approval"

        asked = await wait_until(
            lambda: orchestration.find(OPERATION_REQUEST, incident_id=incident_id), timeout_s=30, interval_s=0.2
        )
        assert asked.payload["operation"] == "run_runbook"
        assert asked.payload["tag_filter"] == {"eks:cluster-name": name}
        assert asked.payload["parameters"] == {"runbook": "eks-isolate-workload"}
        result = OperationResult(operation_id="op-1", incident_id=incident_id, status="succeeded")
        await app[RUNTIME].send_task(
            Agent.INCIDENT_RESPONSE,
            Envelope.new(
                kind=OPERATION_RESULT,
                sender=Agent.SERVICE_ORCHESTRATION.value,
                payload=result.model_dump(mode="json"),
                workflow_id=asked.workflow_id,
                step=asked.step,
            ),
        )
        await _approve(client, stack, incident, "restrict-endpoint")
        done = await _until(
            client,
            stack,
            incident_id,
            lambda i: {_statuses(i)["kubernetes-response"], _statuses(i)["restrict-endpoint"]} == {"succeeded"},
        )
        eks = await aws.client("eks")
        config = (await eks.describe_cluster(name=name))["cluster"]["resourcesVpcConfig"]
        assert config["publicAccessCidrs"] == ["203.0.113.0/24"]
        assert (await eks.describe_cluster(name=name))["cluster"]["tags"]["acso:incident"] == incident_id

        await _revert(client, stack, incident_id, _action(done, "restrict-endpoint")["id"])
        config = (await eks.describe_cluster(name=name))["cluster"]["resourcesVpcConfig"]
        assert config["publicAccessCidrs"] == ["0.0.0.0/0"]
