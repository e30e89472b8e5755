"""The main job, end to end on the system as `make run` starts it: from a SIEM alert to a contained,
documented incident (issue #3). Resources are real emulated EC2 instances, IAM keys and S3 buckets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import aiohttp
import pytest

from acso_shared.aws.clients import AwsClientFactory
from tests.e2e.flow_support import (
    Api,
    actions_of,
    fixture,
    instance_state,
    run_instance,
    settled,
    tor_finding,
    volume_count,
)
from tests.support.ids import unique_finding_id, unique_public_ip
from tests.support.stack import RunningSystem, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


async def test_a_guardduty_ec2_finding_is_triaged_snapshotted_and_quarantined(api: Api, aws: AwsClientFactory) -> None:
    instance_id = await run_instance(aws, {"Name": "web-1"})
    original_groups = {g["GroupId"] for g in (await instance_state(aws, instance_id))["SecurityGroups"]}
    finding = tor_finding(instance_id)
    result = await api.send_alert(finding)
    incident = await api.wait_incident(result["incident_id"], lambda i: i["status"] == "contained" and settled(i))

    assert incident["verdict"] == "malicious"
    snapshots = actions_of(incident, "ec2.snapshot_volumes")
    quarantine = actions_of(incident, "ec2.quarantine")
    assert [a["status"] for a in snapshots] == ["succeeded"]
    assert [a["status"] for a in quarantine] == ["succeeded"]
    groups = {g["GroupId"] for g in (await instance_state(aws, instance_id))["SecurityGroups"]}
    assert groups
    assert groups.isdisjoint(original_groups)
    ec2 = await aws.client("ec2")
    volume_snapshots = await ec2.describe_snapshots(
        Filters=[{"Name": "tag:acso:incident", "Values": [result["incident_id"]]}]
    )
    assert len(volume_snapshots["Snapshots"]) == await volume_count(aws, instance_id) >= 1
    kinds = [entry["kind"] for entry in incident["timeline"]]
    assert "triage" in kinds
    assert kinds.count("action_succeeded") >= 2

    # The same finding again: only the alert count changes.
    again = await api.send_alert(finding)
    assert again["incident_id"] == result["incident_id"]
    assert again["outcome"] == "duplicate"
    updated = await api.wait_incident(result["incident_id"], lambda i: i["alert_count"] == 2)
    assert [(a["id"], a["status"]) for a in updated["actions"]] == [(a["id"], a["status"]) for a in incident["actions"]]


async def test_reverting_the_quarantine_restores_the_original_security_groups(api: Api, aws: AwsClientFactory) -> None:
    instance_id = await run_instance(aws)
    original_groups = {g["GroupId"] for g in (await instance_state(aws, instance_id))["SecurityGroups"]}
    result = await api.send_alert(tor_finding(instance_id))
    incident = await api.wait_incident(result["incident_id"], lambda i: i["status"] == "contained" and settled(i))
    quarantine = actions_of(incident, "ec2.quarantine")[0]

    status, body = await api.call(
        "POST", "incident_response", f"/v1/incidents/{result['incident_id']}/actions/{quarantine['id']}/revert"
    )
    assert status in (200, 202), body
    await api.wait_incident(result["incident_id"], lambda i: actions_of(i, "ec2.quarantine")[0]["status"] == "reverted")
    groups = {g["GroupId"] for g in (await instance_state(aws, instance_id))["SecurityGroups"]}
    assert groups == original_groups


async def test_a_compromised_access_key_is_deactivated(api: Api, aws: AwsClientFactory) -> None:
    iam = await aws.client("iam")
    user = f"svc-{unique_finding_id()[:10]}"
    await iam.create_user(UserName=user)
    key = (await iam.create_access_key(UserName=user))["AccessKey"]["AccessKeyId"]
    finding = fixture("guardduty_instance_credential_exfiltration.json")
    finding["id"] = unique_finding_id()
    finding["resource"]["accessKeyDetails"]["accessKeyId"] = key
    finding["resource"]["accessKeyDetails"]["userName"] = user
    finding["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["ipAddressV4"] = unique_public_ip()
    result = await api.send_alert(finding)

    await api.wait_incident(result["incident_id"], lambda i: i["status"] == "contained" and settled(i))
    keys = (await iam.list_access_keys(UserName=user))["AccessKeyMetadata"]
    assert [k["Status"] for k in keys if k["AccessKeyId"] == key] == ["Inactive"]


async def test_a_protected_instance_is_never_modified_and_the_incident_says_why(
    api: Api, aws: AwsClientFactory
) -> None:
    instance_id = await run_instance(aws, {"acso:protected": "true"})
    before = await instance_state(aws, instance_id)
    result = await api.send_alert(tor_finding(instance_id))

    incident = await api.wait_incident(
        result["incident_id"], lambda i: bool(i["actions"]) and all(a["status"] == "blocked" for a in i["actions"])
    )
    assert all("protected" in (a["reason"] or "") for a in incident["actions"])
    after = await instance_state(aws, instance_id)
    assert after["SecurityGroups"] == before["SecurityGroups"]
    assert after["State"]["Name"] == before["State"]["Name"]
    assert any("protected" in entry["summary"] for entry in incident["timeline"])


def crypto_finding(instance_id: str) -> dict[str, Any]:
    finding = fixture("guardduty_bitcoin_tool_dns.json")
    finding["id"] = unique_finding_id()
    finding["resource"]["instanceDetails"]["instanceId"] = instance_id
    return finding


async def test_crypto_mining_waits_for_approval_and_runs_once_a_responder_approves(
    api: Api, aws: AwsClientFactory
) -> None:
    instance_id = await run_instance(aws)
    result = await api.send_alert(crypto_finding(instance_id))
    incident = await api.wait_incident(
        result["incident_id"], lambda i: any(a["status"] == "pending_approval" for a in i["actions"])
    )
    assert (await instance_state(aws, instance_id))["State"]["Name"] == "running"
    approval = next(a for a in incident["approvals"] if a["status"] == "pending")

    status, _ = await api.call(
        "POST", "incident_response", f"/v1/approvals/{approval['id']}", role="executive", body={"decision": "approve"}
    )
    assert status == 403
    status, body = await api.call(
        "POST", "incident_response", f"/v1/approvals/{approval['id']}", body={"decision": "approve"}
    )
    assert status == 200, body

    async def stopped() -> bool:
        return (await instance_state(aws, instance_id))["State"]["Name"] in ("stopping", "stopped")

    await wait_until(stopped, timeout_s=60, interval_s=0.5)


async def test_an_unapproved_high_risk_action_expires_as_rejected(api: Api, aws: AwsClientFactory) -> None:
    instance_id = await run_instance(aws)
    result = await api.send_alert(crypto_finding(instance_id))
    incident = await api.wait_incident(
        result["incident_id"],
        lambda i: any(a["status"] == "rejected" and a["expired"] for a in i["approvals"]),
        timeout_s=120,
    )
    stop = [a for a in incident["actions"] if a["risk"] == "high"]
    assert stop
    assert all(a["status"] == "rejected" for a in stop)
    assert (await instance_state(aws, instance_id))["State"]["Name"] == "running"


async def test_the_workflow_shows_every_step_and_the_stream_pushes_events(
    api: Api, aws: AwsClientFactory, system: RunningSystem
) -> None:
    token = system.tokens["analyst"]
    url = system.url("supervisor").replace("http", "ws") + "/v1/stream"
    async with aiohttp.ClientSession() as session, session.ws_connect(url, protocols=("bearer", token)) as socket:
        result = await api.send_alert(tor_finding(await run_instance(aws)))
        kinds: set[str] = set()

        async def collect() -> None:
            async for message in socket:
                event = json.loads(message.data)
                if (
                    event["data"].get("workflow_id") == result["workflow_id"]
                    or event["data"].get("incident_id") == result["incident_id"]
                ):
                    kinds.add(event["kind"])
                if "workflow.completed" in kinds:
                    return

        await asyncio.wait_for(collect(), timeout=150)
    assert {"alert.received", "workflow.step_completed", "workflow.completed"} <= kinds
    status, workflow = await api.call("GET", "supervisor", f"/v1/workflows/{result['workflow_id']}", role="analyst")
    assert status == 200
    assert [(s["step"], s["status"]) for s in workflow["steps"]] == [
        ("triage", "completed"),
        ("respond", "completed"),
        ("contain", "completed"),
    ]


async def test_killing_incident_response_mid_workflow_finishes_with_no_duplicate_action(
    api: Api, aws: AwsClientFactory, system: RunningSystem
) -> None:
    instance_id = await run_instance(aws)
    result = await api.send_alert(tor_finding(instance_id))
    # Wait until incident response has the incident and is working on it, then kill it hard.
    await api.wait_incident(result["incident_id"], lambda i: bool(i["actions"]), timeout_s=90)
    os.kill(system.pids()["incident_response"], signal.SIGKILL)

    async def restarted() -> bool:
        try:
            return (await api.incident(result["incident_id"])) is not None
        except aiohttp.ClientError:
            return False

    await wait_until(restarted, timeout_s=90, interval_s=1)
    incident = await api.wait_incident(result["incident_id"], lambda i: i["status"] == "contained" and settled(i))
    keys = [(a["action_type"], a["target"]) for a in incident["actions"]]
    assert len(keys) == len(set(keys))
    ec2 = await aws.client("ec2")
    snapshots = await ec2.describe_snapshots(Filters=[{"Name": "tag:acso:incident", "Values": [result["incident_id"]]}])
    assert len(actions_of(incident, "ec2.snapshot_volumes")) == 1
    assert len(snapshots["Snapshots"]) == await volume_count(aws, instance_id)
