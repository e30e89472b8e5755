"""A broken ITSM secret shows as a failing sync and, once an operator fixes it, the retry uses it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from acso_service_orchestration.app import create_app
from acso_service_orchestration.settings import Settings
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import TICKET_SYNC, TicketSync
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from tests.fakes.servicenow import FakeServiceNow
from tests.integration.orchestration.orchestration_support import SN_INBOUND_SECRET, put_secret
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_a_fixed_secret_is_used_by_the_next_retry_without_a_restart(
    stack: TestStack, aws: AwsClientFactory, servicenow: FakeServiceNow
) -> None:
    # As provisioned: the secret exists but holds no credentials yet.
    secret_id = await put_secret(aws, {})
    settings = stack.service_settings(
        Settings,
        itsm_integrations=[
            {
                "system": "servicenow",
                "base_url": servicenow.base_url,
                "credentials_secret_id": secret_id,
                "allow_loopback_http": True,
            }
        ],
        itsm_retry_base_s=0.2,
        itsm_retry_max_s=0.5,
        itsm_retry_poll_s=0.1,
    )
    incident_id = f"INC-{uuid.uuid4().hex[:10]}"
    sync = TicketSync(
        incident_id=incident_id,
        title="Tor exit node talking to i-0abc1234",
        status="new",
        severity="high",
        summary="GuardDuty UnauthorizedAccess:EC2/TorIPCaller",
        updated_at=datetime.now(UTC),
    )
    app = create_app(settings)
    async with running(app) as client:

        async def sync_state() -> dict[str, Any]:
            response = await client.get(
                "/v1/tickets", params={"incident_id": incident_id}, headers=stack.auth("analyst")
            )
            links = (await response.json())["tickets"]
            state: dict[str, Any] = links[0]["sync"] if links else {"status": "pending", "attempts": 0}
            return state

        envelope = Envelope.new(kind=TICKET_SYNC, sender="incident_response", payload=sync.model_dump(mode="json"))
        await app[RUNTIME].send_task(Agent.SERVICE_ORCHESTRATION, envelope)

        async def failing_twice() -> dict[str, Any] | None:
            state = await sync_state()
            return state if state["attempts"] >= 2 else None

        failing = await wait_until(failing_twice, timeout_s=30)
        secretsmanager = await aws.client("secretsmanager")
        await secretsmanager.put_secret_value(
            SecretId=secret_id,
            SecretString=json.dumps(
                {"username": servicenow.username, "password": servicenow.password, "inbound_secret": SN_INBOUND_SECRET}
            ),
        )

        async def synced() -> bool:
            return bool((await sync_state())["status"] == "synced")

        await wait_until(synced, timeout_s=30)

    assert failing["status"] == "failing"
    assert failing["last_error"].startswith("itsm_secret_invalid")
    assert [r["correlation_id"] for r in servicenow.records("incident")].count(incident_id) == 1
