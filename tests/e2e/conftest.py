"""Fixtures of the end-to-end tests: clients for the running system's emulator and API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.settings import AcsoSettings
from tests.e2e.flow_support import Api
from tests.support.stack import RunningSystem


@pytest.fixture
async def aws(system: RunningSystem) -> AsyncIterator[AwsClientFactory]:
    factory = AwsClientFactory(AcsoSettings(aws_endpoint_url=system.emulator_url))
    yield factory
    await factory.aclose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(system: RunningSystem, http: aiohttp.ClientSession) -> Api:
    return Api(system, http)
