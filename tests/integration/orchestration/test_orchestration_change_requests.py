"""Operations open ServiceNow change requests (on the fake) and keep them in step, never in the way."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from acso_service_orchestration.app import create_app
from acso_service_orchestration.keys import CHANGE_SYNC, OPERATIONS
from acso_service_orchestration.settings import Settings
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.web.keys import RUNTIME
from tests.fakes.servicenow import FakeServiceNow
from tests.integration.orchestration.orchestration_support import (
    SN_INBOUND_SECRET,
    put_secret,
    run_tagged_instances,
)
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

# The states a change request passes through, in the order ACSO may write them.
FORWARD = ["-5", "-2", "-1", "0", "3"]


async def _app(stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow) -> Any:
    secret = await put_secret(
        aws,
        {
            "auth": "basic",
            "username": servicenow.username,
            "password": servicenow.password,
            "inbound_secret": SN_INBOUND_SECRET,
        },
    )
    settings = stack.service_settings(
        Settings,
        itsm_integrations=[
            {
                "system": "servicenow",
                "base_url": servicenow.base_url,
                "credentials_secret_id": secret,
                "allow_loopback_http": True,
            }
        ],
        itsm_http_attempts=1,
        itsm_http_base_delay_s=0.001,
        itsm_retry_base_s=0.1,
        itsm_retry_max_s=0.3,
        itsm_retry_poll_s=0.05,
        operations_poll_interval_s=0.05,
        operations_scheduler_interval_s=0.2,
        # The emulator has no Config compliance queries; the preview is not what these specs are about.
        config_compliance_enabled=False,
    )
    return create_app(settings)


async def _operation(client: Any, stack: TestStack, operation_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/operations/{operation_id}", headers=stack.auth("analyst"))
    assert response.status == 200
    return await response.json()  # type: ignore[no-any-return]


async def _create(client: Any, stack: TestStack, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/operations", json=body, headers=stack.auth("it_operator"))
    assert response.status == 201
    return await response.json()  # type: ignore[no-any-return]


def _changes(servicenow: FakeServiceNow, operation_id: str) -> list[dict[str, Any]]:
    return [r for r in servicenow.records("change_request") if r.get("correlation_id") == operation_id]


def _in_state(client: Any, stack: TestStack, operation_id: str, state: str) -> Any:
    async def check() -> dict[str, Any] | None:
        record = await _operation(client, stack, operation_id)
        change = record["itsm_change"]
        done = change is not None and change["state"] == state and change["sync"]["status"] == "synced"
        return record if done else None

    return check


def _moves_forward(history: list[str]) -> bool:
    positions = [FORWARD.index(s) for s in history]
    return positions == sorted(set(positions))


async def test_an_operation_needing_approval_opens_a_change_request_that_closes_when_it_succeeds(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow
) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"chg-{uuid.uuid4().hex[:8]}"})
    async with running(await _app(stack, aws, servicenow)) as client:
        operation = await _create(
            client, stack, {"operation": "patch", "instance_ids": [instance_id], "reason": "CVE-2026-7777"}
        )
        pending = await wait_until(_in_state(client, stack, operation["id"], "new"))
        [opened] = _changes(servicenow, operation["id"])
        opened = dict(opened)

        approved = await client.post(f"/v1/operations/{operation['id']}/approve", headers=stack.auth("admin"))
        assert approved.status == 200
        record = await wait_until(_in_state(client, stack, operation["id"], "closed"), timeout_s=60)

    [change] = _changes(servicenow, operation["id"])
    assert operation["status"] == "pending_approval"
    assert opened["type"] == "normal"
    assert opened["risk"] == "2"  # High
    assert opened["impact"] == "1"  # High
    assert opened["correlation_display"] == "ACSO"
    assert opened["short_description"] == pending["change_request"]["title"]
    assert opened["backout_plan"] == operation["rollback_plan"]
    assert "AWS-RunPatchBaseline" in opened["implementation_plan"]
    assert instance_id in opened["implementation_plan"]
    assert "high_risk" in opened["description"]
    assert operation["id"] in opened["test_plan"]
    assert pending["itsm_change"]["number"] == opened["number"]
    assert pending["itsm_change"]["url"].endswith(f"/change_request.do?sys_id={opened['sys_id']}")

    assert record["status"] == "succeeded"
    assert record["instances"][0]["command_id"]
    assert change["state"] == "3"
    assert change["close_code"] == "successful"
    assert f"{instance_id}: succeeded, exit code 0" in change["close_notes"]
    assert change["work_end"]
    history = servicenow.state_history[change["sys_id"]]
    assert history[-2:] == ["0", "3"]  # Review, then Closed
    assert _moves_forward(history)
    assert record["itsm_change"]["sync"] == {
        "status": "synced",
        "attempts": 0,
        "last_error": None,
        "next_attempt_at": None,
    }


async def test_a_rejected_operation_cancels_its_change_request_and_never_runs(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow
) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"chg-rej-{uuid.uuid4().hex[:8]}"})
    app = await _app(stack, aws, servicenow)
    async with running(app) as client:
        operation = await _create(
            client,
            stack,
            {"operation": "rotate_credential", "instance_ids": [instance_id], "parameters": {"credential": "prod/db"}},
        )
        await wait_until(_in_state(client, stack, operation["id"], "new"))
        rejected = await client.post(
            f"/v1/operations/{operation['id']}/reject",
            json={"comment": "rotate after the release"},
            headers=stack.auth("it_operator"),
        )
        assert rejected.status == 200
        record = await wait_until(_in_state(client, stack, operation["id"], "canceled"))
        await app[OPERATIONS].schedule_once()
        await app[OPERATIONS].wait_idle()
        ssm = await aws.client("ssm")
        commands = (await ssm.list_commands(InstanceId=instance_id))["Commands"]

    [change] = _changes(servicenow, operation["id"])
    assert record["status"] == "rejected"
    assert change["state"] == "4"
    assert change["close_notes"] == "Rejected in ACSO by demo-it-operator: rotate after the release"
    assert commands == []


async def test_an_unreachable_servicenow_never_holds_up_the_operation_and_the_change_catches_up(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow
) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"chg-down-{uuid.uuid4().hex[:8]}"})
    servicenow.fail_next(503, times=10_000)
    async with running(await _app(stack, aws, servicenow)) as client:
        # Forensics is low risk and needs no approval: it runs at once.
        operation = await _create(client, stack, {"operation": "collect_forensics", "instance_ids": [instance_id]})

        async def finished_while_failing() -> dict[str, Any] | None:
            record = await _operation(client, stack, operation["id"])
            change = record["itsm_change"]
            failing = change is not None and change["sync"]["status"] == "failing" and change["sync"]["attempts"] >= 2
            return record if failing and record["status"] == "succeeded" else None

        during = await wait_until(finished_while_failing, timeout_s=60)
        servicenow.recover()
        after = await wait_until(_in_state(client, stack, operation["id"], "closed"), timeout_s=30)

    assert during["itsm_change"]["number"] is None
    assert during["itsm_change"]["sync"]["last_error"].startswith("itsm_unavailable")
    assert during["itsm_change"]["sync"]["next_attempt_at"] is not None
    [change] = _changes(servicenow, operation["id"])
    assert change["type"] == "standard"
    assert change["risk"] == "4"  # Low
    assert change["close_code"] == "successful"
    assert after["itsm_change"]["number"] == change["number"]
    assert after["itsm_change"]["sync"]["attempts"] == 0


async def test_a_retried_push_finds_the_change_request_instead_of_opening_a_second(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow
) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"chg-once-{uuid.uuid4().hex[:8]}"})
    app = await _app(stack, aws, servicenow)
    async with running(app) as client:
        operation = await _create(client, stack, {"operation": "patch", "instance_ids": [instance_id]})
        first = await wait_until(_in_state(client, stack, operation["id"], "new"))
        # A crash after ServiceNow created the record but before ACSO saved it: the row forgets it.
        await app[RUNTIME].db.execute(
            """
            UPDATE so_change_requests SET external_id = NULL, number = NULL, url = NULL, state = NULL,
                   synced_status = NULL, status = 'pending', next_attempt_at = now()
             WHERE operation_id = $1
            """,
            uuid.UUID(operation["id"]),
        )
        # The retry loop and two more status notifications race for the same row.
        sync = app[CHANGE_SYNC]
        await asyncio.gather(sync.changed(operation["id"]), sync.changed(operation["id"]), sync.retry_due())
        await sync.wait_idle()
        again = await wait_until(_in_state(client, stack, operation["id"], "new"))

    [change] = _changes(servicenow, operation["id"])
    assert again["itsm_change"]["number"] == first["itsm_change"]["number"] == change["number"]
    assert [p for m, p in servicenow.requests if m == "POST"] == ["/api/now/table/change_request"]


async def test_a_status_change_whose_notification_was_lost_still_reaches_the_change_request(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow
) -> None:
    [instance_id] = await run_tagged_instances(aws, 1, {"Fleet": f"chg-lost-{uuid.uuid4().hex[:8]}"})
    app = await _app(stack, aws, servicenow)
    async with running(app) as client:
        operation = await _create(client, stack, {"operation": "patch", "instance_ids": [instance_id]})
        await wait_until(_in_state(client, stack, operation["id"], "new"))
        # The status changes in PostgreSQL, but the process dies before telling the change sync.
        await app[RUNTIME].db.execute(
            "UPDATE so_operations SET status = 'rejected', rejected_by = 'demo-admin' WHERE id = $1",
            uuid.UUID(operation["id"]),
        )
        await wait_until(_in_state(client, stack, operation["id"], "canceled"))

    [change] = _changes(servicenow, operation["id"])
    assert change["state"] == "4"
    assert change["close_notes"] == "Rejected in ACSO by demo-admin."
