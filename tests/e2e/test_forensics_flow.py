"""Malware on an instance, end to end on the system as `make run` starts it (issue #5): incident response
asks the service-orchestration agent for volatile evidence through its task queue, orchestration runs
it through (emulated) SSM under its own approval rules, and only then is the instance quarantined."""

from __future__ import annotations

from typing import Any

import pytest

from acso_shared.aws.clients import AwsClientFactory
from tests.e2e.flow_support import Api, actions_of, instance_state, run_instance, settled, tor_finding

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def backdoor_finding(instance_id: str) -> dict[str, Any]:
    """A GuardDuty command-and-control finding on the instance (the Tor fixture with a malware type)."""
    finding = tor_finding(instance_id)
    finding["type"] = "Backdoor:EC2/C&CActivity.B"
    finding["title"] = f"EC2 instance {instance_id} is querying an IP address associated with a known C&C server."
    finding["description"] = finding["title"]
    return finding


async def test_a_backdoor_finding_collects_evidence_through_orchestration_then_quarantines(
    api: Api, aws: AwsClientFactory
) -> None:
    instance_id = await run_instance(aws, {"Name": "app-7"})
    original_groups = {g["GroupId"] for g in (await instance_state(aws, instance_id))["SecurityGroups"]}
    result = await api.send_alert(backdoor_finding(instance_id))
    incident_id = result["incident_id"]

    incident = await api.wait_incident(incident_id, lambda i: i["status"] == "contained" and settled(i), timeout_s=60)

    assert incident["playbook"] == "malware-ec2-instance"
    [forensics] = actions_of(incident, "ssm.collect_forensics")
    [quarantine] = actions_of(incident, "ec2.quarantine")
    assert forensics["status"] == "succeeded"
    assert forensics["after_state"]["per_instance"] == {instance_id: "succeeded"}
    assert forensics["after_state"]["status"] == "succeeded"
    assert quarantine["status"] == "succeeded"
    assert quarantine["started_at"] >= forensics["finished_at"]
    groups = {g["GroupId"] for g in (await instance_state(aws, instance_id))["SecurityGroups"]}
    assert groups.isdisjoint(original_groups)

    # The operation is on orchestration's record, with the instance's SSM result.
    status, body = await api.call(
        "GET", "service_orchestration", f"/v1/operations?incident_id={incident_id}", role="it_operator"
    )
    assert status == 200, body
    [operation] = body["operations"]
    assert operation["id"] == forensics["after_state"]["operation_id"]
    assert (operation["operation"], operation["status"], operation["requested_via"]) == (
        "collect_forensics",
        "succeeded",
        "agent",
    )
    [run] = operation["instances"]
    assert run["instance_id"] == instance_id
    assert run["status"] == "succeeded"
    assert run["command_id"]
    kinds = [entry["kind"] for entry in incident["timeline"]]
    assert kinds.count("action_delegated") == 1
