"""Operations through SSM in the emulator: approval when the policy says so, four eyes, per-instance results."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from acso_service_orchestration.app import create_app
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
            operations_approval_instance_threshold=2,
            operations_poll_interval_s=0.05,
            operations_scheduler_interval_s=0.2,
        )
    )


async def _operation(client: Any, stack: TestStack, operation_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/operations/{operation_id}", headers=stack.auth("analyst"))
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


async def test_a_patch_on_three_tagged_instances_waits_for_approval_then_records_each_instance(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    fleet = f"web-{uuid.uuid4().hex[:8]}"
    instance_ids = await run_tagged_instances(aws, 3, {"Fleet": fleet, "Environment": "staging"})
    async with running(_app(stack)) as client:
        created = await client.post(
            "/v1/operations",
            json={"operation": "patch", "tag_filter": {"Fleet": fleet}, "reason": "CVE-2026-1234"},
            headers=stack.auth("it_operator"),
        )
        assert created.status == 201
        operation = await created.json()
        assert operation["status"] == "pending_approval"
        assert operation["approval_reasons"] == ["high_risk", "more_than_2_instances"]
        assert [t["instance_id"] for t in operation["targets"]] == instance_ids
        assert operation["document"] == "AWS-RunPatchBaseline"
        assert operation["rollback_plan"]
        # The emulator has no Config compliance queries: the preview says so instead of failing.
        assert {c["state"] for c in operation["compliance"]} == {"unknown"}
        assert {i["status"] for i in operation["instances"]} == {"pending"}

        own = await client.post(f"/v1/operations/{operation['id']}/approve", headers=stack.auth("it_operator"))
        assert (own.status, (await own.json())["error"]["code"]) == (403, "self_approval_forbidden")
        assert (await _operation(client, stack, operation["id"]))["status"] == "pending_approval"

        approved = await client.post(f"/v1/operations/{operation['id']}/approve", headers=stack.auth("admin"))
        assert approved.status == 200
        assert (await approved.json())["approved_by"] == "demo-admin"

        async def finished() -> dict[str, Any] | None:
            record = await _operation(client, stack, operation["id"])
            return record if record["status"] not in ("approved", "running") else None

        record = await wait_until(finished)
        again = await client.post(f"/v1/operations/{operation['id']}/approve", headers=stack.auth("admin"))
        assert (again.status, (await again.json())["error"]["code"]) == (409, "operation_not_pending")

    assert record["status"] == "succeeded"
    assert record["summary"] == {"total": 3, "succeeded": 3, "failed": 0, "cancelled": 0}
    assert [i["instance_id"] for i in record["instances"]] == instance_ids
    assert all(i["status"] == "succeeded" and i["command_id"] and i["response_code"] == 0 for i in record["instances"])
    assert len({i["command_id"] for i in record["instances"]}) == 3


async def test_operations_are_refused_to_roles_without_the_permission_and_for_bad_input(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"x-{uuid.uuid4().hex[:8]}"})
    async with running(_app(stack)) as client:
        analyst = await client.post(
            "/v1/operations",
            json={"operation": "restart_service", "instance_ids": [instance_id], "parameters": {"service": "nginx"}},
            headers=stack.auth("analyst"),
        )
        injected = await client.post(
            "/v1/operations",
            json={
                "operation": "restart_service",
                "instance_ids": [instance_id],
                "parameters": {"service": "a; rm -rf /"},
            },
            headers=stack.auth("it_operator"),
        )
        unknown = await client.post(
            "/v1/operations",
            json={"operation": "collect_forensics", "instance_ids": ["i-0123456789abcdef0"]},
            headers=stack.auth("it_operator"),
        )

        assert (analyst.status, (await analyst.json())["error"]["code"]) == (403, "forbidden")
        assert (injected.status, (await injected.json())["error"]["code"]) == (422, "operation_parameter_invalid")
        assert (unknown.status, (await unknown.json())["error"]["code"]) == (422, "instances_not_found")


async def test_incident_response_can_request_forensics_and_hears_the_result(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"db-{uuid.uuid4().hex[:8]}"})
    incident_id = f"INC-{uuid.uuid4().hex[:10]}"
    ir_queue = QueueWatcher(aws, stack.aws_settings().manifest.task_queues[Agent.INCIDENT_RESPONSE].name)
    app = _app(stack)
    async with running(app):
        request = OperationRequest(
            operation="collect_forensics",
            instance_ids=[instance_id],
            requested_by="playbook:credential-compromise",
            incident_id=incident_id,
            reason="evidence before isolation",
        )
        envelope = Envelope.new(
            kind=OPERATION_REQUEST,
            sender="incident_response",
            payload=request.model_dump(mode="json"),
            workflow_id=f"wf-{incident_id}",
            step="collect_forensics",
        )
        await app[RUNTIME].send_task(Agent.SERVICE_ORCHESTRATION, envelope)

        result = await wait_until(
            lambda: ir_queue.find(OPERATION_RESULT, incident_id=incident_id, status="succeeded"), timeout_s=60
        )

    assert result.workflow_id == f"wf-{incident_id}"
    assert result.step == "collect_forensics"
    assert result.payload["per_instance"] == {instance_id: "succeeded"}
    accepted = next(e for e in ir_queue.seen if e.kind == OPERATION_RESULT and e.payload["status"] == "approved")
    assert accepted.payload["operation_id"] == result.payload["operation_id"]
    # One reply per stage (SQS standard queues do not keep their order, so compared as a set).
    stages = [
        e.payload["status"]
        for e in ir_queue.seen
        if e.kind == OPERATION_RESULT and e.payload["operation_id"] == result.payload["operation_id"]
    ]
    assert sorted(stages) == ["approved", "running", "succeeded"]
