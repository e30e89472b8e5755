"""Generic signed webhook adapter against the receiver fake over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from acso_service_orchestration.itsm.base import TicketAdapter
from acso_service_orchestration.itsm.factory import build_adapter
from acso_service_orchestration.itsm.models import IncidentStatus, IntegrationConfig, ItsmSystem
from acso_shared.auth.webhooks import SIGNATURE_HEADER, sign
from acso_shared.errors import Unauthorized
from tests.fakes.webhook_receiver import FakeWebhookReceiver, start_webhook_receiver
from tests.integration.itsm.itsm_support import DictSecrets, incident

pytestmark = pytest.mark.integration


@pytest.fixture
async def receiver() -> AsyncIterator[FakeWebhookReceiver]:
    async with start_webhook_receiver() as running:
        yield running


@pytest.fixture
async def hook_adapter(receiver, http_session, verifier, fast_retry) -> TicketAdapter:
    config = IntegrationConfig(
        system=ItsmSystem.WEBHOOK,
        base_url=receiver.url,
        credentials_secret_id="acso-local/integrations/webhook-signing",
        allow_loopback_http=True,
    )
    secrets = DictSecrets({config.credentials_secret_id: json.dumps({"signing_secret": receiver.secret})})
    return await build_adapter(config, secrets, http_session, verifier, retry=fast_retry)


async def test_create_posts_a_signed_opened_event_and_keeps_the_receivers_ticket_id(receiver, hook_adapter):
    ref = await hook_adapter.create(incident())

    assert ref.external_id == "WH-1"
    [event] = receiver.events
    assert event["type"] == "incident.opened"
    assert event["incident"]["id"] == "INC-2026-0001"
    assert receiver.rejected == []


async def test_update_comment_and_resolve_post_their_events(receiver, hook_adapter):
    ref = await hook_adapter.create(incident())

    await hook_adapter.update(ref, incident(status=IncidentStatus.CONTAINED))
    await hook_adapter.comment(ref, "Isolated.")
    await hook_adapter.resolve(ref, incident(status=IncidentStatus.CLOSED))

    assert [e["type"] for e in receiver.events] == [
        "incident.opened",
        "incident.updated",
        "incident.commented",
        "incident.resolved",
    ]
    assert receiver.events[2]["comment"] == "Isolated."


async def test_a_retried_delivery_is_re_signed_and_deduplicated_by_event_id(receiver, hook_adapter):
    receiver.fail_next(503)

    await hook_adapter.create(incident())

    assert receiver.deliveries == 2
    assert len(receiver.events) == 1


async def test_inbound_change_signed_with_the_shared_scheme_is_parsed(hook_adapter, receiver):
    body = json.dumps(
        {"external_id": "WH-1", "incident_id": "INC-2026-0001", "status": "closed", "state": "Done", "actor": "bob"}
    ).encode()

    update = await hook_adapter.parse_inbound({SIGNATURE_HEADER: sign(body, receiver.secret)}, body)

    assert update is not None
    assert (update.external_id, update.new_status, update.ticket_state) == ("WH-1", IncidentStatus.CLOSED, "Done")


async def test_inbound_replay_of_an_accepted_delivery_is_refused(hook_adapter, receiver):
    body = json.dumps({"external_id": "WH-1", "comment": "hello"}).encode()
    headers = {SIGNATURE_HEADER: sign(body, receiver.secret)}
    await hook_adapter.parse_inbound(headers, body)

    with pytest.raises(Unauthorized) as caught:
        await hook_adapter.parse_inbound(headers, body)

    assert caught.value.code == "signature_replayed"
