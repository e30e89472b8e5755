"""Ticket-side changes flow back: the fakes POST their real webhook payloads to ACSO's endpoint."""

from __future__ import annotations

import pytest

from acso_service_orchestration.itsm.models import IncidentStatus, ItsmSystem
from acso_service_orchestration.itsm.status_map import inbound_transition
from tests.integration.itsm.itsm_support import incident, start_inbound

pytestmark = pytest.mark.integration


async def test_servicenow_resolution_reaches_acso_as_closed(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident(status=IncidentStatus.CONTAINED))
    async with start_inbound({"servicenow": sn_adapter}) as inbound:
        servicenow.webhook_url = f"{inbound.url}/servicenow/events"

        status = await servicenow.ticket_side_update(ref.external_id, state="6")

    assert status == 202
    [update] = inbound.updates
    assert (update.system, update.external_id, update.incident_id) == (
        ItsmSystem.SERVICENOW,
        ref.external_id,
        "INC-2026-0001",
    )
    assert update.ticket_state == "Resolved"
    assert update.new_status is IncidentStatus.CLOSED
    assert update.actor == "beth.anglin"
    assert not update.self_authored
    assert inbound_transition(IncidentStatus.CONTAINED, update.new_status) is IncidentStatus.CLOSED


async def test_servicenow_comment_arrives_without_the_journal_header(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident())
    async with start_inbound({"servicenow": sn_adapter}) as inbound:
        servicenow.webhook_url = f"{inbound.url}/servicenow/events"

        await servicenow.ticket_side_update(ref.external_id, comment="Owner confirms the key was not theirs.")

    [update] = inbound.updates
    assert update.comment == "Owner confirms the key was not theirs."


async def test_servicenow_message_with_a_bad_signature_is_refused(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident())
    servicenow.webhook_signer = lambda raw: {"X-ACSO-Signature": "t=1,v1=" + "0" * 64}
    async with start_inbound({"servicenow": sn_adapter}) as inbound:
        servicenow.webhook_url = f"{inbound.url}/servicenow/events"

        status = await servicenow.ticket_side_update(ref.external_id, state="2")

    assert status == 401
    assert inbound.updates == []
    assert inbound.refused == ["signature_expired"]


async def test_jira_transition_to_done_reaches_acso_as_closed(jira, jira_adapter):
    ref = await jira_adapter.create(incident(status=IncidentStatus.TRIAGED))
    async with start_inbound({"jira": jira_adapter}) as inbound:
        jira.webhook_url = f"{inbound.url}/jira/events"

        status = await jira.ticket_side_transition(ref.external_key, "Done")

    assert status == 202
    [update] = inbound.updates
    assert (update.external_key, update.incident_id) == (ref.external_key, "INC-2026-0001")
    assert (update.ticket_state, update.new_status) == ("Done", IncidentStatus.CLOSED)
    assert update.actor == "Beth Anglin"
    assert update.delivery_id is not None


async def test_jira_comment_reaches_acso_as_text(jira, jira_adapter):
    ref = await jira_adapter.create(incident())
    async with start_inbound({"jira": jira_adapter}) as inbound:
        jira.webhook_url = f"{inbound.url}/jira/events"

        await jira.ticket_side_comment(ref.external_key, "Change freeze: coordinate with SRE.")

    [update] = inbound.updates
    assert update.comment == "Change freeze: coordinate with SRE."
    assert update.new_status is None


async def test_jira_webhook_signed_with_another_secret_is_refused(jira, jira_adapter):
    ref = await jira_adapter.create(incident())
    jira.webhook_secret = "not-the-configured-secret"
    async with start_inbound({"jira": jira_adapter}) as inbound:
        jira.webhook_url = f"{inbound.url}/jira/events"

        status = await jira.ticket_side_transition(ref.external_key, "Done")

    assert status == 401
    assert inbound.refused == ["itsm_bad_signature"]


async def test_a_change_made_by_the_integration_user_is_flagged_as_an_echo(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident())
    async with start_inbound({"servicenow": sn_adapter}) as inbound:
        servicenow.webhook_url = f"{inbound.url}/servicenow/events"

        await servicenow.ticket_side_update(ref.external_id, state="2", user=servicenow.username)

    [update] = inbound.updates
    assert update.self_authored
