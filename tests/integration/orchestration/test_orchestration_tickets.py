"""ticket.sync opens and updates tickets on the ITSM fakes; ticket-side changes come back to incident response."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acso_service_orchestration.app import create_app
from acso_service_orchestration.settings import Settings
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import INCIDENT_EXTERNAL_UPDATE, TICKET_SYNC, IncidentComment, TicketSync
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from tests.fakes.jira import FakeJira
from tests.fakes.servicenow import FakeServiceNow
from tests.integration.orchestration.orchestration_support import SN_INBOUND_SECRET, QueueWatcher, put_secret
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


async def _settings(stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow, jira: FakeJira) -> Settings:
    sn_secret = await put_secret(
        aws,
        {
            "auth": "basic",
            "username": servicenow.username,
            "password": servicenow.password,
            "inbound_secret": SN_INBOUND_SECRET,
        },
    )
    jira_secret = await put_secret(
        aws, {"email": jira.email, "api_token": jira.api_token, "webhook_secret": jira.webhook_secret}
    )
    integrations: list[dict[str, Any]] = [
        {
            "system": "servicenow",
            "base_url": servicenow.base_url,
            "credentials_secret_id": sn_secret,
            "allow_loopback_http": True,
            "integration_user": servicenow.username,
        },
        {
            "system": "jira",
            "base_url": jira.base_url,
            "credentials_secret_id": jira_secret,
            "allow_loopback_http": True,
            "integration_user": jira.account_id,
            "jira_project_key": "SEC",
        },
    ]
    return stack.service_settings(  # type: ignore[no-any-return]
        Settings,
        itsm_integrations=integrations,
        itsm_http_attempts=2,
        itsm_http_base_delay_s=0.001,
        itsm_retry_base_s=0.2,
        itsm_retry_max_s=0.5,
        itsm_retry_poll_s=0.1,
    )


def _sync(incident_id: str, status: str = "triaged", at: datetime = T0, **extra: Any) -> Envelope:
    payload = TicketSync(
        incident_id=incident_id,
        title="Credential exfiltration from i-0abc1234",
        status=status,
        severity="high",
        summary="Access key used from a new ASN.",
        updated_at=at,
        **extra,
    )
    return Envelope.new(kind=TICKET_SYNC, sender="incident_response", payload=payload.model_dump(mode="json"))


async def _tickets(client: Any, stack: TestStack, incident_id: str) -> dict[str, Any]:
    response = await client.get("/v1/tickets", params={"incident_id": incident_id}, headers=stack.auth("analyst"))
    assert response.status == 200
    return {t["system"]: t for t in (await response.json())["tickets"]}


async def _all_synced(client: Any, stack: TestStack, incident_id: str) -> dict[str, Any] | None:
    tickets = await _tickets(client, stack, incident_id)
    done = len(tickets) == 2 and all(t["sync"]["status"] == "synced" for t in tickets.values())
    return tickets if done else None


def _sn_records(servicenow: FakeServiceNow, incident_id: str) -> list[dict[str, Any]]:
    return [r for r in servicenow.records("incident") if r.get("correlation_id") == incident_id]


def _jira_issues(jira: FakeJira, incident_id: str) -> list[dict[str, Any]]:
    return [i for i in jira.issues.values() if f"acso-{incident_id}" in i["fields"]["labels"]]


async def test_an_incident_opens_one_servicenow_incident_and_one_jira_issue_even_when_redelivered(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow, jira: FakeJira
) -> None:
    incident_id = f"INC-{uuid.uuid4().hex[:10]}"
    app = create_app(await _settings(stack, aws, servicenow, jira))
    async with running(app) as client:
        runtime = app[RUNTIME]
        comment = IncidentComment(author="alice", text="Key disabled.", created_at=T0)
        first = _sync(incident_id, comments=[comment])
        await runtime.send_task(Agent.SERVICE_ORCHESTRATION, first)
        tickets = await wait_until(lambda: _all_synced(client, stack, incident_id))

        # The same envelope again, and the same snapshot in a new envelope (a retry by the sender).
        await runtime.send_task(Agent.SERVICE_ORCHESTRATION, first)
        await runtime.send_task(Agent.SERVICE_ORCHESTRATION, _sync(incident_id, comments=[comment]))
        await wait_until(lambda: sum(c.stats.succeeded + c.stats.duplicates for c in runtime.consumers) >= 3)
        await wait_until(lambda: _all_synced(client, stack, incident_id))

    [record] = _sn_records(servicenow, incident_id)
    [issue] = _jira_issues(jira, incident_id)
    assert tickets["servicenow"]["ticket"]["external_id"] == record["sys_id"]
    assert tickets["jira"]["ticket"]["external_key"] == issue["key"]
    assert record["state"] == "2"  # In Progress: triaged
    assert issue["fields"]["status"]["name"] == "In Progress"
    assert [e.value for e in servicenow.journal[record["sys_id"]]] == ["alice (ACSO): Key disabled."]
    assert len(jira.comments[issue["key"]]) == 1


async def test_a_ticket_side_state_change_reaches_incident_response_and_closing_resolves_the_tickets(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow, jira: FakeJira
) -> None:
    incident_id = f"INC-{uuid.uuid4().hex[:10]}"
    app = create_app(await _settings(stack, aws, servicenow, jira))
    ir_queue = QueueWatcher(aws, stack.aws_settings().manifest.task_queues[Agent.INCIDENT_RESPONSE].name)
    async with running(app) as client:
        runtime = app[RUNTIME]
        await runtime.send_task(Agent.SERVICE_ORCHESTRATION, _sync(incident_id, status="new"))
        tickets = await wait_until(lambda: _all_synced(client, stack, incident_id))
        base = str(client.make_url("/v1/webhooks/itsm"))
        servicenow.webhook_url = f"{base}/servicenow"
        jira.webhook_url = f"{base}/jira"

        assert await servicenow.ticket_side_update(tickets["servicenow"]["ticket"]["external_id"], state="2") == 202
        assert await jira.ticket_side_comment(tickets["jira"]["ticket"]["external_key"], "SRE is on it.") == 202

        from_servicenow = await wait_until(
            lambda: ir_queue.find(INCIDENT_EXTERNAL_UPDATE, incident_id=incident_id, system="servicenow")
        )
        from_jira = await wait_until(
            lambda: ir_queue.find(INCIDENT_EXTERNAL_UPDATE, incident_id=incident_id, system="jira")
        )
        assert from_servicenow.payload["status"] == "triaged"
        assert from_servicenow.payload["actor"] == "beth.anglin"
        assert from_jira.payload["comment"] == "SRE is on it."
        assert from_jira.sender == "service_orchestration"

        await runtime.send_task(
            Agent.SERVICE_ORCHESTRATION, _sync(incident_id, status="closed", at=T0 + timedelta(hours=1))
        )

        def resolved() -> bool:
            [record] = _sn_records(servicenow, incident_id)
            [issue] = _jira_issues(jira, incident_id)
            return bool(record["state"] == "6" and issue["fields"]["status"]["name"] == "Done")

        await wait_until(resolved)
        [record] = _sn_records(servicenow, incident_id)
        assert record["close_notes"] == "Access key used from a new ASN."
        tickets = await _tickets(client, stack, incident_id)
        assert tickets["servicenow"]["ticket"]["last_inbound_state"] == "In Progress"


async def test_an_unsigned_or_forged_webhook_is_refused_with_401(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow, jira: FakeJira
) -> None:
    app = create_app(await _settings(stack, aws, servicenow, jira))
    async with running(app) as client:
        unsigned = await client.post("/v1/webhooks/itsm/servicenow", data=b'{"sys_id": "x", "state": "6"}')
        forged = await client.post(
            "/v1/webhooks/itsm/jira", data=b"{}", headers={"X-Hub-Signature": "sha256=" + "0" * 64}
        )
        unknown = await client.post("/v1/webhooks/itsm/remedy", data=b"{}")

        assert (unsigned.status, (await unsigned.json())["error"]["code"]) == (401, "signature_missing")
        assert (forged.status, (await forged.json())["error"]["code"]) == (401, "itsm_bad_signature")
        assert (unknown.status, (await unknown.json())["error"]["code"]) == (404, "itsm_not_configured")


async def test_an_unreachable_itsm_leaves_a_visible_failing_sync_that_recovers_when_it_returns(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow, jira: FakeJira
) -> None:
    incident_id = f"INC-{uuid.uuid4().hex[:10]}"
    app = create_app(await _settings(stack, aws, servicenow, jira))
    servicenow.fail_next(503, times=10_000)
    async with running(app) as client:
        runtime = app[RUNTIME]
        await runtime.send_task(Agent.SERVICE_ORCHESTRATION, _sync(incident_id))

        async def failing_twice() -> dict[str, Any] | None:
            tickets = await _tickets(client, stack, incident_id)
            sn = tickets.get("servicenow")
            return tickets if sn and sn["sync"]["status"] == "failing" and sn["sync"]["attempts"] >= 2 else None

        tickets = await wait_until(failing_twice)
        # The incident workflow is not blocked: the message was handled and Jira synced meanwhile.
        assert sum(c.stats.succeeded for c in runtime.consumers) >= 1
        assert tickets["jira"]["sync"]["status"] == "synced"
        assert tickets["servicenow"]["ticket"] is None
        assert tickets["servicenow"]["sync"]["last_error"].startswith("itsm_unavailable")
        assert tickets["servicenow"]["sync"]["next_retry_at"] is not None

        servicenow._failures.clear()  # the ITSM is back
        tickets = await wait_until(lambda: _all_synced(client, stack, incident_id))

    assert len(_sn_records(servicenow, incident_id)) == 1
    assert tickets["servicenow"]["sync"]["attempts"] == 0
