"""Retries with backoff over real HTTP: 429 with Retry-After, 5xx, exhaustion."""

from __future__ import annotations

import aiohttp
import pytest
from pydantic import SecretStr

from acso_service_orchestration.itsm.credentials import BasicAuth
from acso_service_orchestration.itsm.http import ItsmHttp, RetryPolicy
from acso_service_orchestration.itsm.jira import JiraAdapter
from acso_service_orchestration.itsm.servicenow import ServiceNowAdapter
from acso_service_orchestration.itsm.urlpolicy import UrlPolicy, validate_url
from acso_shared.auth.webhooks import WebhookVerifier
from acso_shared.errors import Upstream
from tests.fakes.servicenow import FakeServiceNow
from tests.integration.itsm.itsm_support import (
    SN_INBOUND_SECRET,
    RecordingSleep,
    incident,
    jira_config,
    servicenow_config,
)

pytestmark = pytest.mark.integration

POLICY = RetryPolicy(max_attempts=4, base_delay_s=0.5, max_delay_s=4.0, max_retry_after_s=30.0, timeout_s=5)


def sn_adapter_with(
    servicenow: FakeServiceNow, session: aiohttp.ClientSession, verifier: WebhookVerifier, sleep: RecordingSleep
) -> ServiceNowAdapter:
    config = servicenow_config(servicenow)
    http = ItsmHttp(
        config.system,
        validate_url(config.base_url, UrlPolicy.for_config(config)),
        session,
        auth=BasicAuth(servicenow.username, SecretStr(servicenow.password)),
        policy=POLICY,
        sleep=sleep,
        rand=lambda: 0.5,
    )
    return ServiceNowAdapter(http, config, SecretStr(SN_INBOUND_SECRET), verifier)


async def test_429_waits_for_retry_after_then_succeeds(servicenow, http_session, verifier):
    sleep = RecordingSleep()
    adapter = sn_adapter_with(servicenow, http_session, verifier, sleep)
    servicenow.fail_next(429, retry_after="7")

    ref = await adapter.create(incident())

    assert sleep.delays == [7.0]
    assert ref.external_id in servicenow.tables["incident"]


async def test_5xx_backs_off_exponentially_with_jitter(servicenow, http_session, verifier):
    sleep = RecordingSleep()
    adapter = sn_adapter_with(servicenow, http_session, verifier, sleep)
    servicenow.fail_next(503, times=3)

    await adapter.create(incident())

    # rand() is 0.5: half of 0.5, 1.0, 2.0 seconds.
    assert sleep.delays == [0.25, 0.5, 1.0]


async def test_5xx_on_every_attempt_raises_itsm_unavailable(servicenow, http_session, verifier):
    sleep = RecordingSleep()
    adapter = sn_adapter_with(servicenow, http_session, verifier, sleep)
    servicenow.fail_next(500, times=10)

    with pytest.raises(Upstream) as caught:
        await adapter.create(incident())

    assert caught.value.code == "itsm_unavailable"
    assert caught.value.details["attempts"] == 4
    assert len(sleep.delays) == 3
    assert servicenow.records("incident") == []


async def test_a_retry_after_longer_than_the_cap_is_capped(servicenow, http_session, verifier):
    sleep = RecordingSleep()
    adapter = sn_adapter_with(servicenow, http_session, verifier, sleep)
    servicenow.fail_next(429, retry_after="3600")

    await adapter.create(incident())

    assert sleep.delays == [30.0]


async def test_jira_429_then_success_creates_exactly_one_issue(jira, http_session, verifier):
    sleep = RecordingSleep()
    config = jira_config(jira)
    http = ItsmHttp(
        config.system,
        validate_url(config.base_url, UrlPolicy.for_config(config)),
        http_session,
        auth=BasicAuth(jira.email, SecretStr(jira.api_token)),
        policy=POLICY,
        sleep=sleep,
    )
    adapter = JiraAdapter(http, config, SecretStr(jira.webhook_secret), verifier)
    jira.fail_next(429, times=2, retry_after="1")

    await adapter.create(incident())

    assert sleep.delays == [1.0, 1.0]
    assert len(jira.issues) == 1


async def test_a_4xx_refusal_is_not_retried(jira, jira_adapter):
    jira.projects = ("OPS",)

    with pytest.raises(Upstream) as caught:
        await jira_adapter.create(incident())

    assert caught.value.code == "itsm_rejected"
    assert caught.value.details["status"] == 400
    assert jira.requests.count(("POST", "/rest/api/3/issue")) == 1
