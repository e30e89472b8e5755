"""Delegated actions on the real emulator and database: incident response asks service orchestration
for forensic evidence (`operation.request`) and follows its `operation.result` replies.

No orchestration agent runs here: the test reads the requests from the orchestration task queue and
plays the orchestration side by sending the results to the incident-response queue itself.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiohttp import web

from acso_incident_response.app import create_app
from acso_incident_response.planning import ACTION_EXECUTE
from acso_incident_response.settings import Settings
from acso_shared.alerts.models import (
    Observable,
    ObservableType,
    Resource,
    ResourceType,
)
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import (
    OPERATION_REQUEST,
    OPERATION_RESULT,
    OperationResult,
)
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent, build_manifest
from acso_shared.web.keys import RUNTIME
from tests.integration.incident_response.ir_support import (
    ACCOUNT,
    describe_instance,
    guardduty_alert,
    response_request,
    run_instance,
)
from tests.integration.orchestration.orchestration_support import QueueWatcher
from tests.support.apps import running
from tests.support.stack import TEST_ENV, TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _settings(stack: TestStack, **overrides: Any) -> Settings:
    # Config compliance is not what these specs are about (the emulator has no Config rules).
    values: dict[str, Any] = {"sweep_interval_s": 0.2, "visibility_timeout_s": 5, "config_compliance_enabled": False}
    values.update(overrides)
    settings: Settings = stack.service_settings(Settings, **values)
    return settings


@pytest.fixture
def orchestration_queue(aws: AwsClientFactory) -> QueueWatcher:
    """What incident response sends to the service-orchestration agent."""
    return QueueWatcher(aws, build_manifest(TEST_ENV).task_queues[Agent.SERVICE_ORCHESTRATION].name)


def _routable_ip() -> str:
    # Globally routable (documentation ranges are never blocked), unique per test run.
    n = uuid.uuid4().int
    return f"45.{n % 200 + 10}.{(n >> 8) % 250}.{(n >> 16) % 250 + 1}"


def _backdoor_request(instance_id: str) -> Envelope:
    """A `response.request` for a GuardDuty backdoor finding on the instance, calling a public address."""
    alert = guardduty_alert(
        "Backdoor:EC2/C&CActivity.B",
        [Resource(type=ResourceType.EC2_INSTANCE, id=instance_id, account_id=ACCOUNT, region="us-east-1")],
        [
            Observable(
                type=ObservableType.IP,
                value=_routable_ip(),
                name="service.action.networkConnectionAction.remoteIpDetails.ipAddressV4",
            )
        ],
    )
    return response_request(alert, techniques=["T1071"])


async def _send(app: web.Application, envelope: Envelope) -> None:
    await app[RUNTIME].send_task(Agent.INCIDENT_RESPONSE, envelope)


def _result(request: Envelope, status: str, operation_id: str, per_instance: dict[str, str] | None = None) -> Envelope:
    """What service orchestration answers: in the request's workflow and step, a fresh key each time."""
    result = OperationResult(
        operation_id=operation_id,
        incident_id=request.payload["incident_id"],
        status=status,
        per_instance=per_instance or {},
    )
    return Envelope.new(
        kind=OPERATION_RESULT,
        sender=Agent.SERVICE_ORCHESTRATION.value,
        payload=result.model_dump(mode="json"),
        workflow_id=request.workflow_id,
        step=request.step,
    )


async def _incident_when(client: Any, stack: TestStack, incident_id: str, predicate: Any) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/v1/incidents/{incident_id}", headers=stack.auth("analyst"))
        if response.status != 200:
            return None
        incident: dict[str, Any] = await response.json()
        return incident if predicate(incident) else None

    found: dict[str, Any] = await wait_until(check, timeout_s=60, interval_s=0.2)
    return found


def _action(incident: dict[str, Any], step: str) -> dict[str, Any]:
    return next(a for a in incident["actions"] if a["step"] == step)


def _statuses(incident: dict[str, Any]) -> dict[str, str]:
    return {a["step"]: a["status"] for a in incident["actions"]}


def _requested(incident: dict[str, Any]) -> bool:
    forensics = _action(incident, "collect-forensics")
    return forensics["status"] == "running" and (forensics["after_state"] or {}).get("status") == "requested"


async def _operation_request(queue: QueueWatcher, incident_id: str) -> Envelope:
    found: Envelope = await wait_until(
        lambda: queue.find(OPERATION_REQUEST, incident_id=incident_id), timeout_s=30, interval_s=0.2
    )
    return found


async def _handled(app: web.Application, envelope: Envelope) -> dict[str, Any]:
    """The outcome the consumer recorded for an envelope once its handler finished."""

    async def completed() -> dict[str, Any] | None:
        record = await app[RUNTIME].idempotency.get(envelope.idempotency_key)
        return record if record and record.get("status") == "completed" else None

    record: dict[str, Any] = await wait_until(completed, timeout_s=30, interval_s=0.2)
    return dict(record.get("result") or {})


async def test_a_backdoor_finding_collects_evidence_through_orchestration_before_the_quarantine(
    stack: TestStack, aws: AwsClientFactory, orchestration_queue: QueueWatcher
) -> None:
    instance = await run_instance(aws)
    instance_id = instance["InstanceId"]
    request = _backdoor_request(instance_id)
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        incident = await _incident_when(
            client,
            stack,
            incident_id,
            lambda i: _requested(i) and _statuses(i).get("forensic-snapshot") == "succeeded",
        )
        forensics = _action(incident, "collect-forensics")

        # Given the request on the orchestration queue, in the incident's workflow, routed back to the action.
        asked = await _operation_request(orchestration_queue, incident_id)
        assert asked.step == f"action:{forensics['id']}"
        assert asked.idempotency_key == f"{OPERATION_REQUEST}:{forensics['id']}"
        assert asked.workflow_id == f"wf-{incident_id}"
        assert asked.sender == "incident_response"
        assert asked.payload["operation"] == "collect_forensics"
        assert asked.payload["instance_ids"] == [instance_id]
        assert incident["playbook"] == "malware-ec2-instance"
        assert forensics["before_state"]["instance_state"] == "running"
        # The quarantine waits for the evidence: the instance is still on its network.
        assert _statuses(incident)["quarantine"] == "planned"
        assert (await describe_instance(aws, instance_id))["SecurityGroups"] == instance["SecurityGroups"]

        # A redelivered action.execute asks for nothing more.
        again = Envelope.new(
            kind=ACTION_EXECUTE,
            sender="incident_response",
            payload={"action_id": forensics["id"], "incident_id": incident_id},
            workflow_id=f"wf-{incident_id}",
        )
        await _send(app, again)
        assert (await _handled(app, again))["outcome"] == "delegated"

        pending = _result(asked, "pending_approval", "op-forensics-1")
        await _send(app, pending)
        incident = await _incident_when(
            client,
            stack,
            incident_id,
            lambda i: _action(i, "collect-forensics")["after_state"].get("status") == "pending_approval",
        )
        assert "waits for an it_operator's approval (operation op-forensics-1)" in " ".join(
            e["summary"] for e in incident["timeline"]
        )
        assert _statuses(incident)["quarantine"] == "planned"

        succeeded = _result(asked, "succeeded", "op-forensics-1", {instance_id: "succeeded"})
        await _send(app, succeeded)
        done = await _incident_when(client, stack, incident_id, lambda i: i["status"] == "contained")

        forensics = _action(done, "collect-forensics")
        quarantine = _action(done, "quarantine")
        assert forensics["status"] == "succeeded"
        assert forensics["after_state"] == {
            "operation": "collect_forensics",
            "operation_id": "op-forensics-1",
            "status": "succeeded",
            "per_instance": {instance_id: "succeeded"},
        }
        assert _statuses(done) == {
            "collect-forensics": "succeeded",
            "forensic-snapshot": "succeeded",
            "quarantine": "succeeded",
            "tag": "succeeded",
            "block-ip": "succeeded",
        }
        assert quarantine["started_at"] >= forensics["finished_at"]
        kinds = [e["kind"] for e in done["timeline"]]
        assert kinds.count("action_delegated") == 1
        assert kinds.count("action_waiting") == 1
        assert len([e for e in orchestration_queue.seen if e.kind == OPERATION_REQUEST and e.step == asked.step]) == 1

        # The same result again (a new message) changes nothing.
        duplicate = _result(asked, "succeeded", "op-forensics-1", {instance_id: "succeeded"})
        await _send(app, duplicate)
        assert (await _handled(app, duplicate))["outcome"] == "ignored:succeeded"
        late_pending = _result(asked, "pending_approval", "op-forensics-1")
        await _send(app, late_pending)
        assert (await _handled(app, late_pending))["outcome"] == "ignored:succeeded"
        after = await _incident_when(client, stack, incident_id, lambda i: True)
        assert after["actions"] == done["actions"]
        assert len(after["timeline"]) == len(done["timeline"])


async def test_a_rejected_operation_rejects_the_forensic_action_and_the_quarantine_still_runs(
    stack: TestStack, aws: AwsClientFactory, orchestration_queue: QueueWatcher
) -> None:
    instance = await run_instance(aws)
    request = _backdoor_request(instance["InstanceId"])
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, request)
        await _incident_when(client, stack, incident_id, _requested)
        asked = await _operation_request(orchestration_queue, incident_id)

        refused = _result(asked, "rejected:instances_not_running", "")
        await _send(app, refused)
        done = await _incident_when(client, stack, incident_id, lambda i: i["status"] == "contained")

        forensics = _action(done, "collect-forensics")
        assert forensics["status"] == "rejected"
        assert forensics["reason"] == "service orchestration refused the operation: instances_not_running"
        assert _statuses(done)["quarantine"] == "succeeded"
        rejected = [e for e in done["timeline"] if e["kind"] == "action_rejected"]
        assert len(rejected) == 1
        assert "instances_not_running" in rejected[0]["summary"]

        again = _result(asked, "rejected:instances_not_running", "")
        await _send(app, again)
        assert (await _handled(app, again))["outcome"] == "ignored:rejected"
        after = await _incident_when(client, stack, incident_id, lambda i: True)
        assert after["actions"] == done["actions"]
        assert len(after["timeline"]) == len(done["timeline"])


async def test_an_operation_rejected_by_an_operator_and_a_failed_one_say_which_operation(
    stack: TestStack, aws: AwsClientFactory, orchestration_queue: QueueWatcher
) -> None:
    first, second = await run_instance(aws), await run_instance(aws)
    rejected_request, failed_request = _backdoor_request(first["InstanceId"]), _backdoor_request(second["InstanceId"])
    app = create_app(_settings(stack))
    async with running(app) as client:
        await _send(app, rejected_request)
        await _send(app, failed_request)
        asked_first = await _operation_request(orchestration_queue, rejected_request.payload["incident_id"])
        asked_second = await _operation_request(orchestration_queue, failed_request.payload["incident_id"])

        await _send(app, _result(asked_first, "rejected", "op-no"))
        await _send(app, _result(asked_second, "failed", "op-broken", {second["InstanceId"]: "timed_out"}))
        rejected = await _incident_when(
            client, stack, rejected_request.payload["incident_id"], lambda i: i["status"] == "contained"
        )
        failed = await _incident_when(
            client, stack, failed_request.payload["incident_id"], lambda i: i["status"] == "contained"
        )

        assert _action(rejected, "collect-forensics")["reason"] == "operation op-no was rejected by an it_operator"
        forensics = _action(failed, "collect-forensics")
        assert forensics["status"] == "failed"
        assert forensics["error"] == (
            f"operation_failed: operation op-broken failed ({second['InstanceId']}: timed_out)"
        )
        assert _statuses(failed)["quarantine"] == "succeeded"


async def test_without_a_final_result_the_forensic_action_times_out_and_releases_the_quarantine(
    stack: TestStack, aws: AwsClientFactory, orchestration_queue: QueueWatcher
) -> None:
    instance = await run_instance(aws)
    request = _backdoor_request(instance["InstanceId"])
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack, delegated_action_timeout_s=2.0))
    async with running(app) as client:
        await _send(app, request)
        asked = await _operation_request(orchestration_queue, incident_id)
        await _send(app, _result(asked, "pending_approval", "op-never-approved"))
        done = await _incident_when(client, stack, incident_id, lambda i: i["status"] == "contained")

        forensics = _action(done, "collect-forensics")
        assert forensics["status"] == "failed"
        assert forensics["error"].startswith("operation_timeout: no final result for operation op-never-approved")
        assert _statuses(done)["quarantine"] == "succeeded"
        assert _action(done, "quarantine")["started_at"] >= forensics["finished_at"]

        # The approval comes after all: too late, the evidence window closed with the quarantine.
        late = _result(asked, "succeeded", "op-never-approved", {instance["InstanceId"]: "succeeded"})
        await _send(app, late)
        assert (await _handled(app, late))["outcome"] == "ignored:failed"


async def test_a_dry_run_describes_the_evidence_collection_and_asks_orchestration_for_nothing(
    stack: TestStack, aws: AwsClientFactory, orchestration_queue: QueueWatcher
) -> None:
    instance = await run_instance(aws)
    request = _backdoor_request(instance["InstanceId"])
    incident_id = request.payload["incident_id"]
    app = create_app(_settings(stack, dry_run=True))
    async with running(app) as client:
        await _send(app, request)
        done = await _incident_when(
            client, stack, incident_id, lambda i: set(_statuses(i).values()) == {"succeeded"} and len(i["actions"]) == 5
        )

        forensics = _action(done, "collect-forensics")
        assert forensics["after_state"] == {
            "dry_run": True,
            "would": f"collect volatile forensic evidence on {instance['InstanceId']} through SSM",
        }
        assert await orchestration_queue.find(OPERATION_REQUEST, incident_id=incident_id) is None
