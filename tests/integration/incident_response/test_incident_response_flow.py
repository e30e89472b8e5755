"""Incident response on the real emulator and database: `response.request` in, AWS changes and timeline out."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest

from acso_incident_response.app import create_app
from acso_incident_response.settings import Settings
from acso_shared.alerts.models import (
    Observable,
    ObservableType,
    Resource,
    ResourceType,
    SeverityLabel,
)
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from tests.integration.incident_response.ir_support import (
    ACCOUNT,
    describe_instance,
    guardduty_alert,
    response_request,
    run_instance,
)
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _settings(stack: TestStack, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"sweep_interval_s": 0.2, "visibility_timeout_s": 5}
    values.update(overrides)
    settings: Settings = stack.service_settings(Settings, **values)
    return settings


def _ec2_resource(instance: dict[str, Any]) -> Resource:
    return Resource(type=ResourceType.EC2_INSTANCE, id=instance["InstanceId"], account_id=ACCOUNT, region="us-east-1")


async def _incident(client: Any, stack: TestStack, incident_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/v1/incidents/{incident_id}", headers=stack.auth("analyst"))
    if response.status == 404:
        return None
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def _until_incident(client: Any, stack: TestStack, incident_id: str, predicate: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        incident = await _incident(client, stack, incident_id)
        return incident if incident is not None and predicate(incident) else None

    result: dict[str, Any] = await wait_until(check, timeout_s=60, interval_s=0.2)
    return result


async def _audit_rows(stack: TestStack, incident_id: str) -> list[Any]:
    connection = await asyncpg.connect(stack.database_url)
    try:
        return list(
            await connection.fetch(
                "SELECT action, result FROM audit_log WHERE details::jsonb->>'incident_id' = $1", incident_id
            )
        )
    finally:
        await connection.close()


def _statuses(incident: dict[str, Any]) -> dict[str, str]:
    return {a["step"]: a["status"] for a in incident["actions"]}


async def _send(app: Any, envelope: Envelope) -> None:
    await app[RUNTIME].send_task(Agent.INCIDENT_RESPONSE, envelope)


async def test_a_compromised_instance_is_snapshotted_quarantined_and_tagged_once(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    instance = await run_instance(aws)
    original_groups = sorted(g["GroupId"] for g in instance["SecurityGroups"])
    alert = guardduty_alert("UnauthorizedAccess:EC2/TorClient", [_ec2_resource(instance)])
    request = response_request(alert)
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(client, stack, incident_id, lambda i: i["status"] == "contained")

        assert incident["playbook"] == "compromised-ec2-instance"
        assert _statuses(incident) == {"forensic-snapshot": "succeeded", "quarantine": "succeeded", "tag": "succeeded"}
        ec2 = await aws.client("ec2")
        now = await describe_instance(aws, instance["InstanceId"])
        quarantine = next(a for a in incident["actions"] if a["step"] == "quarantine")
        assert [g["GroupId"] for g in now["SecurityGroups"]] == [quarantine["after_state"]["quarantine_group"]]
        assert quarantine["before_state"]["groups"] == original_groups
        group = (await ec2.describe_security_groups(GroupIds=[quarantine["after_state"]["quarantine_group"]]))[
            "SecurityGroups"
        ][0]
        assert group["IpPermissions"] == []
        assert group["IpPermissionsEgress"] == []
        snapshots = (await ec2.describe_snapshots(Filters=[{"Name": "tag:acso:incident", "Values": [incident_id]}]))[
            "Snapshots"
        ]
        volume = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
        assert [s["VolumeId"] for s in snapshots] == [volume]
        assert {t["Key"]: t["Value"] for t in now["Tags"]}["acso:incident"] == incident_id
        kinds = [entry["kind"] for entry in incident["timeline"]]
        assert kinds.count("action_succeeded") == 3
        assert kinds[0] == "opened"
        assert incident["sla"]["time_to_triage"]["state"] == "met"
        assert incident["sla"]["time_to_contain"]["state"] == "met"
        audited = await _audit_rows(stack, incident_id)
        assert sorted(r["action"] for r in audited) == [
            "action.ec2.quarantine",
            "action.ec2.snapshot_volumes",
            "action.ec2.tag",
        ]
        assert all(r["result"] == "success" for r in audited)

        # The same finding again (a redelivery with a new message, one more alert): only the count moves.
        timeline_before = len(incident["timeline"])
        await _send(app, response_request(alert, alert_count=2, incident_id=incident_id))
        again = await _until_incident(client, stack, incident_id, lambda i: i["alert_count"] == 2)
        assert len(again["timeline"]) == timeline_before
        assert [(a["id"], a["status"], a["attempts"]) for a in again["actions"]] == [
            (a["id"], a["status"], a["attempts"]) for a in incident["actions"]
        ]
        assert again["version"] == incident["version"]
        snapshots_after = (
            await ec2.describe_snapshots(Filters=[{"Name": "tag:acso:incident", "Values": [incident_id]}])
        )["Snapshots"]
        assert len(snapshots_after) == 1


async def test_a_protected_instance_is_never_modified_and_the_incident_says_why(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    instance = await run_instance(aws, tags={"acso:protected": "true"})
    request = response_request(guardduty_alert("UnauthorizedAccess:EC2/RDPBruteForce", [_ec2_resource(instance)]))
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(client, stack, incident_id, lambda i: len(i["actions"]) == 3)

        assert set(_statuses(incident).values()) == {"blocked"}
        assert all(a["reason"].startswith("resource_protected") for a in incident["actions"])
        blocked = [e for e in incident["timeline"] if e["kind"] == "action_blocked"]
        assert len(blocked) == 3
        assert "acso:protected=true" in blocked[0]["summary"]
        assert incident["status"] == "triaged"
        now = await describe_instance(aws, instance["InstanceId"])
        assert now["SecurityGroups"] == instance["SecurityGroups"]
        assert "acso:incident" not in {t["Key"] for t in now["Tags"]}
        ec2 = await aws.client("ec2")
        snapshots = (await ec2.describe_snapshots(Filters=[{"Name": "tag:acso:incident", "Values": [incident_id]}]))[
            "Snapshots"
        ]
        assert snapshots == []


async def test_a_compromised_access_key_is_deactivated_and_its_user_denied_everything(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    iam = await aws.client("iam")
    user = f"ir-user-{uuid.uuid4().hex[:8]}"
    await iam.create_user(UserName=user)
    key = (await iam.create_access_key(UserName=user))["AccessKey"]["AccessKeyId"]
    alert = guardduty_alert(
        "CredentialAccess:IAMUser/AnomalousBehavior",
        [
            Resource(type=ResourceType.IAM_ACCESS_KEY, id=key, account_id=ACCOUNT),
            Resource(type=ResourceType.IAM_USER, id=user, name=user, account_id=ACCOUNT),
        ],
        [Observable(type=ObservableType.ACCESS_KEY_ID, value=key)],
    )
    request = response_request(alert)
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(client, stack, incident_id, lambda i: i["status"] == "contained")

        assert incident["playbook"] == "compromised-iam-access-key"
        keys = (await iam.list_access_keys(UserName=user))["AccessKeyMetadata"]
        assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key, "Inactive")]
        policy = await iam.get_user_policy(UserName=user, PolicyName="acso-quarantine-deny-all")
        assert policy["PolicyDocument"]["Statement"][0]["Effect"] == "Deny"

        # Reverting the deactivation restores the key's prior state.
        action = next(a for a in incident["actions"] if a["step"] == "deactivate-key")
        response = await client.post(
            f"/v1/incidents/{incident_id}/actions/{action['id']}/revert", headers=stack.auth("responder")
        )
        assert response.status == 200, await response.text()
        reverted = next(a for a in (await response.json())["items"] if a["id"] == action["id"])
        assert reverted["status"] == "reverted"
        keys = (await iam.list_access_keys(UserName=user))["AccessKeyMetadata"]
        assert keys[0]["Status"] == "Active"
        again = await client.post(
            f"/v1/incidents/{incident_id}/actions/{action['id']}/revert", headers=stack.auth("responder")
        )
        assert again.status == 409
        assert (await again.json())["error"]["code"] == "action_not_revertible"


async def test_reverting_the_quarantine_restores_the_original_security_groups(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    instance = await run_instance(aws)
    original = sorted(g["GroupId"] for g in instance["SecurityGroups"])
    request = response_request(guardduty_alert("UnauthorizedAccess:EC2/MetadataDNSRebind", [_ec2_resource(instance)]))
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(client, stack, incident_id, lambda i: i["status"] == "contained")
        quarantine = next(a for a in incident["actions"] if a["step"] == "quarantine")
        snapshot = next(a for a in incident["actions"] if a["step"] == "forensic-snapshot")

        analyst = await client.post(
            f"/v1/incidents/{incident_id}/actions/{quarantine['id']}/revert", headers=stack.auth("analyst")
        )
        assert analyst.status == 403
        response = await client.post(
            f"/v1/incidents/{incident_id}/actions/{quarantine['id']}/revert", headers=stack.auth("responder")
        )
        assert response.status == 200
        now = await describe_instance(aws, instance["InstanceId"])
        assert sorted(g["GroupId"] for g in now["SecurityGroups"]) == original
        evidence = await client.post(
            f"/v1/incidents/{incident_id}/actions/{snapshot['id']}/revert", headers=stack.auth("responder")
        )
        assert evidence.status == 409
        detail = await _incident(client, stack, incident_id)
        assert detail is not None
        assert "action_reverted" in [e["kind"] for e in detail["timeline"]]


async def test_crypto_mining_waits_for_a_responder_and_runs_once_approved(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    instance = await run_instance(aws)
    request = response_request(guardduty_alert("CryptoCurrency:EC2/BitcoinTool.B!DNS", [_ec2_resource(instance)]))
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(
            client, stack, incident_id, lambda i: _statuses(i).get("forensic-snapshot") == "succeeded"
        )
        assert incident["playbook"] == "crypto-mining"
        assert _statuses(incident)["stop-instance"] == "pending_approval"
        assert (await describe_instance(aws, instance["InstanceId"]))["State"]["Name"] == "running"
        approval = incident["approvals"][0]
        listed = await (
            await client.get(f"/v1/approvals?status=pending&incident_id={incident_id}", headers=stack.auth("analyst"))
        ).json()
        assert [a["id"] for a in listed["items"]] == [approval["id"]]

        denied = await client.post(
            f"/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=stack.auth("analyst")
        )
        assert denied.status == 403
        bad = await client.post(
            f"/v1/approvals/{approval['id']}", json={"decision": "maybe"}, headers=stack.auth("responder")
        )
        assert bad.status == 400
        for _ in range(3):
            response = await client.post(
                f"/v1/approvals/{approval['id']}",
                json={"decision": "approve", "comment": "confirmed miner"},
                headers=stack.auth("responder"),
            )
            assert response.status == 200
            assert (await response.json())["status"] == "approved"
        opposite = await client.post(
            f"/v1/approvals/{approval['id']}", json={"decision": "reject"}, headers=stack.auth("responder")
        )
        assert opposite.status == 409

        done = await _until_incident(client, stack, incident_id, lambda i: i["status"] == "contained")
        assert _statuses(done)["stop-instance"] == "succeeded"
        assert (await describe_instance(aws, instance["InstanceId"]))["State"]["Name"] in ("stopping", "stopped")
        assert [e["kind"] for e in done["timeline"]].count("approval_decided") == 1


async def test_an_unapproved_high_risk_action_expires_as_rejected(stack: TestStack, aws: AwsClientFactory) -> None:
    instance = await run_instance(aws)
    request = response_request(guardduty_alert("CryptoCurrency:EC2/BitcoinTool.B", [_ec2_resource(instance)]))
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack, approval_ttl_s=1.0))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(
            client, stack, incident_id, lambda i: _statuses(i).get("stop-instance") == "rejected"
        )
        approval = incident["approvals"][0]
        assert approval["status"] == "rejected"
        assert approval["expired"] is True
        assert approval["decided_by"] == "system"
        late = await client.post(
            f"/v1/approvals/{approval['id']}", json={"decision": "approve"}, headers=stack.auth("responder")
        )
        assert late.status == 409
        assert (await describe_instance(aws, instance["InstanceId"]))["State"]["Name"] == "running"
        assert "approval expired and was rejected" in [e["summary"] for e in incident["timeline"]]


async def test_a_malicious_ip_lands_in_the_waf_block_list(stack: TestStack, aws: AwsClientFactory) -> None:
    # A globally routable address (documentation ranges are not global, so they are never blocked).
    ip = f"45.{uuid.uuid4().int % 200 + 10}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    instance = await run_instance(aws)
    alert = guardduty_alert(
        "Recon:EC2/PortProbeUnprotectedPort",
        [_ec2_resource(instance)],
        [
            Observable(type=ObservableType.IP, value=ip, name="service.action.portProbeAction.remoteIpDetails"),
            Observable(type=ObservableType.IP, value="54.1.2.3", name="resource.instanceDetails.publicIp"),
        ],
        severity=SeverityLabel.MEDIUM,
    )
    request = response_request(alert)
    incident_id = request.payload["incident_id"]
    settings = _settings(stack)
    app = create_app(settings)
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(client, stack, incident_id, lambda i: i["status"] == "contained")
        assert [a["target"] for a in incident["actions"]] == [f"ip:{ip}"]
        waf = await aws.client("wafv2")
        sets = (await waf.list_ip_sets(Scope="REGIONAL"))["IPSets"]
        summary = next(s for s in sets if s["Name"] == "acso-test-blocklist")
        addresses = (await waf.get_ip_set(Name=summary["Name"], Scope="REGIONAL", Id=summary["Id"]))["IPSet"][
            "Addresses"
        ]
        assert f"{ip}/32" in addresses
        assert "54.1.2.3/32" not in addresses


async def test_an_exposed_bucket_gets_public_access_blocked(stack: TestStack, aws: AwsClientFactory) -> None:
    s3 = await aws.client("s3")
    bucket = f"ir-exposed-{uuid.uuid4().hex[:12]}"
    await s3.create_bucket(Bucket=bucket)
    request = response_request(
        guardduty_alert(
            "Policy:S3/BucketBlockPublicAccessDisabled",
            [Resource(type=ResourceType.S3_BUCKET, id=bucket, name=bucket, account_id=ACCOUNT)],
            severity=SeverityLabel.LOW,
        )
    )
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        await _until_incident(client, stack, request.payload["incident_id"], lambda i: i["status"] == "contained")
        block = (await s3.get_public_access_block(Bucket=bucket))["PublicAccessBlockConfiguration"]
        assert all(block.values())
        assert len(block) == 4


async def test_a_benign_verdict_leaves_the_incident_triaged_without_actions(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    instance = await run_instance(aws)
    request = response_request(
        guardduty_alert("UnauthorizedAccess:EC2/TorClient", [_ec2_resource(instance)]), verdict="benign"
    )
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _until_incident(client, stack, request.payload["incident_id"], lambda i: True)
        assert incident["status"] == "triaged"
        assert incident["actions"] == []
        assert (await describe_instance(aws, instance["InstanceId"]))["SecurityGroups"] == instance["SecurityGroups"]


async def test_a_crash_mid_action_resumes_after_restart_without_a_duplicate(
    stack: TestStack, aws: AwsClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from acso_incident_response.actions.ec2 import SnapshotVolumes

    instance = await run_instance(aws)
    request = response_request(guardduty_alert("UnauthorizedAccess:EC2/TorRelay", [_ec2_resource(instance)]))
    incident_id = request.payload["incident_id"]
    real_apply = SnapshotVolumes.apply
    applied = asyncio.Event()

    async def apply_then_hang(self: SnapshotVolumes, *args: Any) -> None:
        # The snapshot is taken, then the process "dies" before recording it.
        await real_apply(self, *args)
        applied.set()
        await asyncio.Event().wait()

    monkeypatch.setattr(SnapshotVolumes, "apply", apply_then_hang)
    first = create_app(_settings(stack, shutdown_grace_s=0.2))
    async with running(first) as client:
        await _send(first, request)
        await asyncio.wait_for(applied.wait(), timeout=60)
        incident = await _incident(client, stack, incident_id)
        assert incident is not None
        assert _statuses(incident)["forensic-snapshot"] == "running"
    monkeypatch.setattr(SnapshotVolumes, "apply", real_apply)

    second = create_app(_settings(stack))
    async with running(second) as client:
        incident = await _until_incident(client, stack, incident_id, lambda i: i["status"] == "contained")
    ec2 = await aws.client("ec2")
    snapshots = (await ec2.describe_snapshots(Filters=[{"Name": "tag:acso:incident", "Values": [incident_id]}]))[
        "Snapshots"
    ]
    assert len(snapshots) == 1
    snapshot = next(a for a in incident["actions"] if a["step"] == "forensic-snapshot")
    assert snapshot["status"] == "succeeded"
    assert snapshot["attempts"] == 2
    assert [e["kind"] for e in incident["timeline"]].count("action_succeeded") == 3
