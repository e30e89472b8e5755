"""ServiceNow adapter against the fake Table API over real HTTP."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from acso_service_orchestration.itsm.factory import build_adapter
from acso_service_orchestration.itsm.http import ItsmHttp
from acso_service_orchestration.itsm.models import (
    ChangeRequestSpec,
    ChangeType,
    IncidentStatus,
    IntegrationConfig,
    ItsmSystem,
    Severity,
)
from acso_service_orchestration.itsm.servicenow import ServiceNowAdapter
from acso_service_orchestration.itsm.urlpolicy import UrlPolicy, validate_url
from acso_shared.errors import Upstream
from tests.integration.itsm.itsm_support import (
    SN_INBOUND_SECRET,
    DictSecrets,
    incident,
    servicenow_config,
    servicenow_secret,
)

pytestmark = pytest.mark.integration


async def test_create_opens_an_incident_correlated_to_the_acso_incident(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident(severity=Severity.CRITICAL))

    record = servicenow.tables["incident"][ref.external_id]
    assert ref.external_key == record["number"]
    assert record["number"].startswith("INC")
    assert record["correlation_id"] == "INC-2026-0001"
    assert (record["impact"], record["urgency"]) == ("1", "1")
    assert record["state"] == "1"
    assert ref.url == f"{servicenow.base_url}/incident.do?sys_id={ref.external_id}"


async def test_create_retried_after_a_lost_response_returns_the_same_ticket(servicenow, sn_adapter):
    first = await sn_adapter.create(incident())

    second = await sn_adapter.create(incident())

    assert second == first
    assert len(servicenow.records("incident")) == 1


async def test_update_writes_state_and_severity(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident())

    await sn_adapter.update(ref, incident(status=IncidentStatus.CONTAINED, severity=Severity.LOW))

    record = servicenow.tables["incident"][ref.external_id]
    assert record["state"] == "2"
    assert (record["impact"], record["urgency"]) == ("2", "3")


async def test_comment_appends_a_work_note(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident())

    await sn_adapter.comment(ref, "Access key AKIA... deactivated by playbook step 3.")

    entries = servicenow.journal[ref.external_id]
    assert [(e.field, e.value) for e in entries] == [
        ("work_notes", "Access key AKIA... deactivated by playbook step 3.")
    ]


async def test_resolve_sets_resolved_with_close_code_and_notes(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident())

    await sn_adapter.resolve(ref, incident(status=IncidentStatus.CLOSED, summary="Key rotated, host rebuilt."))

    record = servicenow.tables["incident"][ref.external_id]
    assert record["state"] == "6"
    assert record["close_code"] == "Solution provided"
    assert record["close_notes"] == "Key rotated, host rebuilt."


async def test_update_of_a_closed_incident_resolves_the_ticket(servicenow, sn_adapter):
    ref = await sn_adapter.create(incident())

    await sn_adapter.update(ref, incident(status=IncidentStatus.CLOSED))

    assert servicenow.tables["incident"][ref.external_id]["state"] == "6"


async def test_change_request_is_created_once_per_correlation_id(servicenow, sn_adapter):
    assert isinstance(sn_adapter, ServiceNowAdapter)
    change = ChangeRequestSpec(
        correlation_id="RUNBOOK-42",
        short_description="Rotate IAM keys for svc-payments",
        type=ChangeType.EMERGENCY,
        risk="high",
        backout_plan="Re-enable the previous key",
    )

    first = await sn_adapter.create_change_request(change)
    second = await sn_adapter.create_change_request(change)

    assert first == second
    [record] = servicenow.records("change_request")
    assert record["number"].startswith("CHG")
    assert (record["type"], record["risk"], record["state"]) == ("emergency", "2", "-5")


async def test_oauth_client_credentials_fetch_a_bearer_token_once(servicenow, http_session, verifier, fast_retry):
    secrets = DictSecrets({"acso-local/integrations/servicenow": servicenow_secret(servicenow, "oauth")})
    adapter = await build_adapter(servicenow_config(servicenow), secrets, http_session, verifier, retry=fast_retry)

    ref = await adapter.create(incident())
    await adapter.comment(ref, "via OAuth")

    assert servicenow.requests.count(("POST", "/oauth_token.do")) == 1
    assert len(servicenow.tokens) == 1


async def test_wrong_password_is_rejected_without_retrying(servicenow, http_session, verifier, fast_retry):
    secret = json.loads(servicenow_secret(servicenow))
    secret["password"] = "wrong"
    secrets = DictSecrets({"acso-local/integrations/servicenow": json.dumps(secret)})
    adapter = await build_adapter(servicenow_config(servicenow), secrets, http_session, verifier, retry=fast_retry)

    with pytest.raises(Upstream) as caught:
        await adapter.create(incident())

    assert caught.value.code == "itsm_rejected"
    assert caught.value.details["status"] == 401
    assert len(servicenow.requests) == 1


async def test_an_unreachable_instance_is_unavailable_after_the_retries(http_session, verifier, fast_retry):
    # Port 9 (discard) on loopback has no listener here: every attempt is a connection error.
    config = IntegrationConfig(
        system=ItsmSystem.SERVICENOW, base_url="http://127.0.0.1:9", credentials_secret_id="x", allow_loopback_http=True
    )
    http = ItsmHttp(
        config.system, validate_url(config.base_url, UrlPolicy.for_config(config)), http_session, policy=fast_retry
    )
    adapter = ServiceNowAdapter(http, config, SecretStr(SN_INBOUND_SECRET), verifier)

    with pytest.raises(Upstream) as caught:
        await adapter.create(incident())

    assert caught.value.code == "itsm_unavailable"
    assert caught.value.details["attempts"] == fast_retry.max_attempts
