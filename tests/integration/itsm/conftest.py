"""Fixtures for the ITSM adapters over real HTTP against the fakes in tests/fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from acso_service_orchestration.itsm.base import TicketAdapter
from acso_service_orchestration.itsm.factory import build_adapter
from acso_service_orchestration.itsm.http import RetryPolicy
from acso_shared.auth.webhooks import SIGNATURE_HEADER, WebhookVerifier, sign
from tests.fakes.jira import FakeJira, start_jira
from tests.fakes.servicenow import FakeServiceNow, start_servicenow
from tests.integration.itsm.itsm_support import (
    SN_INBOUND_SECRET,
    DictSecrets,
    MemoryClaims,
    jira_config,
    jira_secret,
    servicenow_config,
    servicenow_secret,
)


@pytest.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def verifier() -> WebhookVerifier:
    return WebhookVerifier(MemoryClaims())


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return RetryPolicy(max_attempts=4, base_delay_s=0.001, max_delay_s=0.005, max_retry_after_s=0.01, timeout_s=5)


@pytest.fixture
async def servicenow() -> AsyncIterator[FakeServiceNow]:
    fake = FakeServiceNow(webhook_signer=lambda raw: {SIGNATURE_HEADER: sign(raw, SN_INBOUND_SECRET)})
    async with start_servicenow(fake) as running:
        yield running


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    async with start_jira() as running:
        yield running


@pytest.fixture
async def sn_adapter(servicenow, http_session, verifier, fast_retry) -> TicketAdapter:
    secrets = DictSecrets({"acso-local/integrations/servicenow": servicenow_secret(servicenow)})
    return await build_adapter(servicenow_config(servicenow), secrets, http_session, verifier, retry=fast_retry)


@pytest.fixture
async def jira_adapter(jira, http_session, verifier, fast_retry) -> TicketAdapter:
    secrets = DictSecrets({"acso-local/integrations/jira": jira_secret(jira)})
    return await build_adapter(jira_config(jira), secrets, http_session, verifier, retry=fast_retry)
