"""Every alert of an incident gets its own response (issue #15), on the real emulator and database.

An alert that joins an incident is listed with its resources and planned on its own; a joining alert
that brings a new resource reopens a contained incident, which reads `contained` again only once the
new resource is contained too; a resource whose containment is blocked keeps it from `contained`.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from acso_incident_response.app import create_app
from acso_incident_response.settings import Settings
from acso_shared.alerts.models import Resource, ResourceType, SeverityLabel
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import CONTAINMENT_RESULT, RESPONSE_RESULT
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
from tests.support.queues import wait_for_envelope
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _settings(stack: TestStack) -> Settings:
    settings: Settings = stack.service_settings(Settings, sweep_interval_s=0.2, visibility_timeout_s=5)
    return settings


def _instance(instance: dict[str, Any]) -> Resource:
    return Resource(type=ResourceType.EC2_INSTANCE, id=instance["InstanceId"], account_id=ACCOUNT, region="us-east-1")


def _joining(request: Envelope, alert: Any, severity: SeverityLabel = SeverityLabel.HIGH) -> Envelope:
    """The response request of a further alert of the same incident, in the alert's own workflow."""
    incident_id = request.payload["incident_id"]
    joined = response_request(alert, incident_id=incident_id)
    return joined.model_copy(update={"workflow_id": f"wf-{uuid.uuid4().hex[:8]}"})


async def _incident(client: Any, stack: TestStack, incident_id: str, predicate: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/v1/incidents/{incident_id}", headers=stack.auth("analyst"))
        if response.status != 200:
            return None
        body: dict[str, Any] = await response.json()
        return body if predicate(body) else None

    result: dict[str, Any] = await wait_until(check, timeout_s=60, interval_s=0.2)
    return result


def _quarantined(incident: dict[str, Any]) -> dict[str, str]:
    return {a["target"]: a["status"] for a in incident["actions"] if a["action_type"] == "ec2.quarantine"}


async def test_a_joining_alert_on_a_new_instance_reopens_the_contained_incident_until_it_is_contained_too(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    first, second = await run_instance(aws), await run_instance(aws)
    opening = response_request(guardduty_alert("UnauthorizedAccess:EC2/TorClient", [_instance(first)]))
    incident_id = opening.payload["incident_id"]
    later = guardduty_alert("UnauthorizedAccess:EC2/TorClient", [_instance(second)], severity=SeverityLabel.CRITICAL)
    joining = _joining(opening, later)
    app = create_app(_settings(stack))
    async with running(app) as client:
        runtime = app[RUNTIME]
        await runtime.send_task(Agent.INCIDENT_RESPONSE, opening)
        await _incident(client, stack, incident_id, lambda i: i["status"] == "contained")

        await runtime.send_task(Agent.INCIDENT_RESPONSE, joining)
        incident = await _incident(
            client,
            stack,
            incident_id,
            lambda i: i["status"] == "contained" and len(_quarantined(i)) == 2 and len(i["alerts"]) == 2,
        )

        assert set(_quarantined(incident).values()) == {"succeeded"}
        now = await describe_instance(aws, second["InstanceId"])
        assert {g["GroupId"] for g in now["SecurityGroups"]}.isdisjoint(
            {g["GroupId"] for g in second["SecurityGroups"]}
        )
        statuses = [(e["data"]["from"], e["data"]["to"]) for e in incident["timeline"] if e["kind"] == "status"]
        assert statuses == [
            ("new", "triaged"),
            ("triaged", "contained"),
            ("contained", "triaged"),
            ("triaged", "contained"),
        ]
        assert incident["severity"] == "critical"
        assert {a["alert_id"]: a["containment"] for a in incident["alerts"]} == {
            str(opening.payload["alert"]["alert_id"]): "contained",
            str(later.alert_id): "contained",
        }
        joined = next(a for a in incident["alerts"] if a["alert_id"] == str(later.alert_id))
        assert [r["id"] for r in joined["resources"]] == [second["InstanceId"]]
        assert all(a["alert_id"] for a in incident["actions"])
        # The joining alert's workflow heard that its response was planned with work open, then that it finished.
        heard: dict[str, Envelope] = {}

        def of_joining(envelope: Envelope) -> bool:
            if envelope.workflow_id == joining.workflow_id:
                heard[envelope.kind] = envelope
            return {RESPONSE_RESULT, CONTAINMENT_RESULT} <= set(heard)

        await wait_for_envelope(runtime.clients, runtime.manifest.results_queue.name, of_joining)
        assert heard[RESPONSE_RESULT].payload["alert_id"] == str(later.alert_id)
        assert heard[RESPONSE_RESULT].payload["open_actions"] > 0
        contained = heard[CONTAINMENT_RESULT].payload
        assert contained["outcome"] == "contained"
        assert contained["targets"][f"ec2_instance:{second['InstanceId']}"] == "contained"


async def test_a_joining_alert_whose_resource_is_protected_keeps_the_incident_from_contained(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    free, protected = await run_instance(aws), await run_instance(aws, tags={"acso:protected": "true"})
    opening = response_request(guardduty_alert("UnauthorizedAccess:EC2/TorClient", [_instance(free)]))
    incident_id = opening.payload["incident_id"]
    joining = _joining(opening, guardduty_alert("UnauthorizedAccess:EC2/TorClient", [_instance(protected)]))
    app = create_app(_settings(stack))
    async with running(app) as client:
        runtime = app[RUNTIME]
        await runtime.send_task(Agent.INCIDENT_RESPONSE, opening)
        await runtime.send_task(Agent.INCIDENT_RESPONSE, joining)
        incident = await _incident(
            client,
            stack,
            incident_id,
            lambda i: len(i["alerts"]) == 2 and all(a["containment"] not in (None, "pending") for a in i["alerts"]),
        )

        assert _quarantined(incident) == {
            f"ec2_instance:{free['InstanceId']}": "succeeded",
            f"ec2_instance:{protected['InstanceId']}": "blocked",
        }
        assert incident["status"] == "triaged"
        assert sorted(a["containment"] for a in incident["alerts"]) == ["contained", "failed"]
