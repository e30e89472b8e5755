"""Fixtures of the incident-response integration specs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from acso_shared.aws.clients import AwsClientFactory
from tests.support.stack import TestStack


@pytest.fixture
async def aws(stack: TestStack) -> AsyncIterator[AwsClientFactory]:
    """Clients for the session's emulator."""
    clients = AwsClientFactory(stack.aws_settings())
    try:
        yield clients
    finally:
        await clients.aclose()
