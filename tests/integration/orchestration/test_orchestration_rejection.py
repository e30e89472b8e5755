"""Rejecting a pending operation: who may, what the record says, and that it never runs."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from acso_service_orchestration.app import create_app
from acso_service_orchestration.keys import OPERATIONS
from acso_service_orchestration.settings import Settings
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import OPERATION_REQUEST, OPERATION_RESULT, OperationRequest
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from tests.integration.orchestration.orchestration_support import QueueWatcher, run_tagged_instances
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _app(stack: TestStack) -> Any:
    return create_app(
        stack.service_settings(
            Settings,
            operations_poll_interval_s=0.05,
            operations_scheduler_interval_s=0.2,
            # The emulator has no Config compliance queries; the preview is not what these specs are about.
            config_compliance_enabled=False,
        )
    )


async def _pending_patch(client: Any, stack: TestStack, aws: AwsClientFactory) -> dict[str, Any]:
    """A high-risk patch (needs an approval) requested by the it_operator."""
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"rej-{uuid.uuid4().hex[:8]}"})
    created = await client.post(
        "/v1/operations",
        json={"operation": "patch", "instance_ids": [instance_id], "reason": "CVE-2026-4242"},
        headers=stack.auth("it_operator"),
    )
    assert created.status == 201
    operation: dict[str, Any] = await created.json()
    assert operation["status"] == "pending_approval"
    return operation


async def _commands_for(aws: AwsClientFactory, instance_id: str) -> list[dict[str, Any]]:
    ssm = await aws.client("ssm")
    return list((await ssm.list_commands(InstanceId=instance_id)).get("Commands", []))


async def test_a_rejected_operation_records_who_and_why_and_never_runs(stack: TestStack, aws: AwsClientFactory) -> None:
    app = _app(stack)
    async with running(app) as client:
        operation = await _pending_patch(client, stack, aws)
        [instance_id] = [t["instance_id"] for t in operation["targets"]]

        rejected = await client.post(
            f"/v1/operations/{operation['id']}/reject",
            json={"comment": "Not during the quarter-end freeze."},
            headers=stack.auth("admin"),
        )
        assert rejected.status == 200
        record = await rejected.json()

        # The scheduler passes over it, and approving it afterwards is refused.
        await app[OPERATIONS].schedule_once()
        await app[OPERATIONS].wait_idle()
        late = await client.post(f"/v1/operations/{operation['id']}/approve", headers=stack.auth("admin"))
        late_approval = (late.status, (await late.json())["error"]["code"])
        stored = await (await client.get(f"/v1/operations/{operation['id']}", headers=stack.auth("analyst"))).json()
        listed = await (
            await client.get(
                "/v1/operations", params={"status": "rejected", "limit": "200"}, headers=stack.auth("analyst")
            )
        ).json()

    assert record["status"] == "rejected"
    assert record["rejected_by"] == "demo-admin"
    assert record["rejected_at"] is not None
    assert record["rejection_comment"] == "Not during the quarter-end freeze."
    assert record["approved_by"] is None
    assert record["started_at"] is None
    assert late_approval == (409, "operation_not_pending")
    assert stored["status"] == "rejected"
    assert {i["status"] for i in stored["instances"]} == {"pending"}
    assert operation["id"] in [o["id"] for o in listed["operations"]]
    assert await _commands_for(aws, instance_id) == []


async def test_rejecting_twice_is_a_conflict_and_an_unknown_operation_is_not_found(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    async with running(_app(stack)) as client:
        operation = await _pending_patch(client, stack, aws)
        first = await client.post(f"/v1/operations/{operation['id']}/reject", headers=stack.auth("admin"))
        first_body = await first.json()
        second = await client.post(f"/v1/operations/{operation['id']}/reject", headers=stack.auth("admin"))
        second_error = (second.status, (await second.json())["error"]["code"])
        unknown = await client.post(f"/v1/operations/{uuid.uuid4()}/reject", headers=stack.auth("admin"))
        unknown_error = (unknown.status, (await unknown.json())["error"]["code"])

    assert first.status == 200
    assert first_body["rejection_comment"] is None
    assert second_error == (409, "operation_not_pending")
    assert unknown_error == (404, "operation_not_found")


async def test_the_requester_may_withdraw_their_own_request_but_an_analyst_may_not_reject(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    async with running(_app(stack)) as client:
        operation = await _pending_patch(client, stack, aws)
        analyst = await client.post(f"/v1/operations/{operation['id']}/reject", headers=stack.auth("analyst"))
        analyst_error = (analyst.status, (await analyst.json())["error"]["code"])
        still_pending = await (
            await client.get(f"/v1/operations/{operation['id']}", headers=stack.auth("analyst"))
        ).json()
        own = await client.post(
            f"/v1/operations/{operation['id']}/reject",
            json={"comment": "wrong fleet"},
            headers=stack.auth("it_operator"),
        )
        own_body = await own.json()

    assert analyst_error == (403, "forbidden")
    assert still_pending["status"] == "pending_approval"
    assert own.status == 200
    assert own_body["rejected_by"] == "demo-it-operator"


MALFORMED_BODIES = [
    ('{"comment": "x", "comment": "y"}', "json_invalid"),
    ('{"comment": "ok", "extra": 1}', "validation_failed"),
    ('{"comment": "' + "x" * 4001 + '"}', "validation_failed"),
    ("[]", "validation_failed"),
]


async def test_a_malformed_rejection_body_is_a_400_and_leaves_the_operation_pending(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    errors = []
    async with running(_app(stack)) as client:
        operation = await _pending_patch(client, stack, aws)
        for body, _ in MALFORMED_BODIES:
            response = await client.post(
                f"/v1/operations/{operation['id']}/reject",
                data=body,
                headers={**stack.auth("admin"), "Content-Type": "application/json"},
            )
            errors.append((response.status, (await response.json())["error"]["code"]))
        after = await (await client.get(f"/v1/operations/{operation['id']}", headers=stack.auth("analyst"))).json()

    assert errors == [(400, code) for _, code in MALFORMED_BODIES]
    assert after["status"] == "pending_approval"


async def test_incident_response_hears_that_its_operation_was_rejected(stack: TestStack, aws: AwsClientFactory) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"rej-ir-{uuid.uuid4().hex[:8]}"})
    incident_id = f"INC-{uuid.uuid4().hex[:10]}"
    ir_queue = QueueWatcher(aws, stack.aws_settings().manifest.task_queues[Agent.INCIDENT_RESPONSE].name)
    app = _app(stack)
    async with running(app) as client:
        request = OperationRequest(
            operation="patch",
            instance_ids=[instance_id],
            requested_by="playbook:vulnerable-host",
            incident_id=incident_id,
            reason="exploited CVE",
        )
        envelope = Envelope.new(
            kind=OPERATION_REQUEST,
            sender="incident_response",
            payload=request.model_dump(mode="json"),
            workflow_id=f"wf-{incident_id}",
            step="patch",
        )
        await app[RUNTIME].send_task(Agent.SERVICE_ORCHESTRATION, envelope)
        pending = await wait_until(
            lambda: ir_queue.find(OPERATION_RESULT, incident_id=incident_id, status="pending_approval"), timeout_s=60
        )
        operation_id = pending.payload["operation_id"]
        rejected = await client.post(f"/v1/operations/{operation_id}/reject", headers=stack.auth("admin"))
        assert rejected.status == 200
        result = await wait_until(
            lambda: ir_queue.find(OPERATION_RESULT, incident_id=incident_id, status="rejected"), timeout_s=30
        )

    assert result.payload["operation_id"] == operation_id
    assert result.workflow_id == f"wf-{incident_id}"
    assert result.step == "patch"
    assert await _commands_for(aws, instance_id) == []
