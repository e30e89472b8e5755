"""Fixtures for the service-orchestration integration tests."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest

from acso_shared.auth.webhooks import SIGNATURE_HEADER, sign
from acso_shared.aws.clients import AwsClientFactory
from tests.fakes.jira import FakeJira, start_jira
from tests.fakes.servicenow import FakeServiceNow, start_servicenow
from tests.integration.orchestration.orchestration_support import SN_INBOUND_SECRET, clients_for
from tests.support.stack import TestStack


@pytest.fixture
async def aws(stack: TestStack) -> AsyncIterator[AwsClientFactory]:
    clients = clients_for(stack)
    try:
        yield clients
    finally:
        await clients.aclose()


@pytest.fixture
async def servicenow() -> AsyncIterator[FakeServiceNow]:
    fake = FakeServiceNow(webhook_signer=lambda raw: {SIGNATURE_HEADER: sign(raw, SN_INBOUND_SECRET)})
    async with start_servicenow(fake) as running:
        yield running


@pytest.fixture
async def jira() -> AsyncIterator[FakeJira]:
    # Issue ids and keys unique across the session: the mapping table outlives each fake.
    fake = FakeJira(_next_id=secrets.randbelow(10**9) + 10**6)
    fake._next_number["SEC"] = secrets.randbelow(10**6)
    async with start_jira(fake) as running:
        yield running
