"""Parsing and authenticating inbound ITSM webhooks, without a network."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import yarl
from pydantic import SecretStr

from acso_service_orchestration.itsm.http import ItsmHttp
from acso_service_orchestration.itsm.jira import JiraAdapter
from acso_service_orchestration.itsm.models import IncidentStatus, IntegrationConfig, ItsmSystem
from acso_service_orchestration.itsm.servicenow import ServiceNowAdapter
from acso_shared.auth.webhooks import SIGNATURE_HEADER, WebhookVerifier, sign
from acso_shared.errors import Invalid, Unauthorized

pytestmark = pytest.mark.unit

SECRET = "whsec-test"
NOW = datetime(2026, 11, 3, 10, 0, tzinfo=UTC)


async def always_claim(key: str, expires_at: int) -> bool:
    return True


def http(system: ItsmSystem) -> ItsmHttp:
    # Never used to send: parse_inbound does no I/O.
    return ItsmHttp(system, yarl.URL("https://acme.example"), session=None)  # type: ignore[arg-type]


def jira_adapter() -> JiraAdapter:
    config = IntegrationConfig(
        system=ItsmSystem.JIRA,
        base_url="https://acme.atlassian.net",
        credentials_secret_id="s",
        jira_project_key="SEC",
        integration_user="bot-account",
    )
    return JiraAdapter(http(ItsmSystem.JIRA), config, SecretStr(SECRET), WebhookVerifier(always_claim), now=lambda: NOW)


def servicenow_adapter() -> ServiceNowAdapter:
    config = IntegrationConfig(
        system=ItsmSystem.SERVICENOW, base_url="https://acme.service-now.com", credentials_secret_id="s"
    )
    return ServiceNowAdapter(
        http(ItsmSystem.SERVICENOW), config, SecretStr(SECRET), WebhookVerifier(always_claim), now=lambda: NOW
    )


def hub_signed(payload: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(payload).encode()
    digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return {"x-hub-signature": f"sha256={digest}"}, raw


ISSUE = {
    "id": "10001",
    "key": "SEC-1",
    "fields": {"labels": ["acso", "acso-INC-7"], "status": {"name": "Done", "statusCategory": {"key": "done"}}},
}


async def test_jira_status_change_maps_by_status_category_and_reads_the_incident_label():
    headers, raw = hub_signed(
        {
            "timestamp": 1_793_700_000_000,
            "webhookEvent": "jira:issue_updated",
            "user": {"accountId": "u1", "displayName": "Beth"},
            "issue": ISSUE,
            "changelog": {"items": [{"field": "status", "fieldId": "status", "toString": "Done"}]},
        }
    )

    update = await jira_adapter().parse_inbound(headers, raw)

    assert update is not None
    assert (update.incident_id, update.new_status, update.actor) == ("INC-7", IncidentStatus.CLOSED, "Beth")
    assert update.occurred_at == datetime.fromtimestamp(1_793_700_000, UTC)


async def test_jira_update_without_a_status_change_carries_nothing():
    headers, raw = hub_signed(
        {
            "webhookEvent": "jira:issue_updated",
            "issue": ISSUE,
            "changelog": {"items": [{"field": "summary", "fieldId": "summary", "toString": "x"}]},
        }
    )

    assert await jira_adapter().parse_inbound(headers, raw) is None


async def test_jira_change_by_the_integration_account_is_an_echo():
    headers, raw = hub_signed(
        {
            "webhookEvent": "comment_created",
            "issue": ISSUE,
            "comment": {"author": {"accountId": "bot-account", "displayName": "ACSO"}, "body": "synced"},
        }
    )

    update = await jira_adapter().parse_inbound(headers, raw)

    assert update is not None
    assert update.self_authored


async def test_jira_webhook_without_any_signature_is_unauthorized():
    with pytest.raises(Unauthorized):
        await jira_adapter().parse_inbound({}, b"{}")


async def test_jira_webhook_with_the_acso_signature_is_accepted():
    raw = json.dumps({"webhookEvent": "comment_created", "issue": ISSUE, "comment": {"body": "hi"}}).encode()

    update = await jira_adapter().parse_inbound({SIGNATURE_HEADER: sign(raw, SECRET)}, raw)

    assert update is not None
    assert update.comment == "hi"


async def test_servicenow_journal_header_is_stripped_and_time_is_utc():
    raw = json.dumps(
        {
            "sys_id": "a" * 32,
            "number": "INC0010001",
            "state": "2",
            "correlation_id": "INC-7",
            "comments": "2026-11-03 09:58:00 - Beth Anglin (Additional comments)\nOn it.\n\n",
            "sys_updated_by": "beth.anglin",
            "sys_updated_on": "2026-11-03 09:58:00",
        }
    ).encode()

    update = await servicenow_adapter().parse_inbound({SIGNATURE_HEADER: sign(raw, SECRET)}, raw)

    assert update is not None
    assert (update.comment, update.ticket_state, update.new_status) == ("On it.", "In Progress", IncidentStatus.TRIAGED)
    assert update.occurred_at == datetime(2026, 11, 3, 9, 58, tzinfo=UTC)


async def test_servicenow_message_for_another_table_is_ignored():
    raw = json.dumps({"table": "problem", "sys_id": "b" * 32, "state": "6"}).encode()

    assert await servicenow_adapter().parse_inbound({SIGNATURE_HEADER: sign(raw, SECRET)}, raw) is None


async def test_servicenow_message_that_is_not_the_documented_json_is_invalid():
    raw = b'{"number": "INC0010001"}'

    with pytest.raises(Invalid):
        await servicenow_adapter().parse_inbound({SIGNATURE_HEADER: sign(raw, SECRET)}, raw)
