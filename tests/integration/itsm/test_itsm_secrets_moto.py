"""Credentials come from Secrets Manager: the real reader over aiobotocore against a moto server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiobotocore.session import get_session
from moto.server import ThreadedMotoServer

from acso_service_orchestration.itsm.credentials import SecretsManagerReader
from acso_service_orchestration.itsm.factory import build_adapter
from acso_service_orchestration.itsm.models import IncidentStatus
from tests.integration.itsm.itsm_support import incident, servicenow_config, servicenow_secret

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
async def secretsmanager(moto_endpoint: str) -> AsyncIterator[Any]:
    session = get_session()
    async with session.create_client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        yield client


async def test_adapter_built_from_a_secrets_manager_secret_opens_a_ticket(
    secretsmanager, servicenow, http_session, verifier, fast_retry
):
    config = servicenow_config(servicenow)
    await secretsmanager.create_secret(Name=config.credentials_secret_id, SecretString=servicenow_secret(servicenow))

    adapter = await build_adapter(
        config, SecretsManagerReader(secretsmanager), http_session, verifier, retry=fast_retry
    )
    ref = await adapter.create(incident(status=IncidentStatus.TRIAGED))

    assert servicenow.tables["incident"][ref.external_id]["sys_created_by"] == servicenow.username
    await secretsmanager.delete_secret(SecretId=config.credentials_secret_id, ForceDeleteWithoutRecovery=True)


async def test_a_rotated_secret_is_picked_up_after_forget(secretsmanager):
    name = "acso-local/integrations/jira-rotation-test"
    await secretsmanager.create_secret(Name=name, SecretString=json.dumps({"v": 1}))
    reader = SecretsManagerReader(secretsmanager)
    assert json.loads(await reader.read(name)) == {"v": 1}

    await secretsmanager.put_secret_value(SecretId=name, SecretString=json.dumps({"v": 2}))
    reader.forget(name)

    assert json.loads(await reader.read(name)) == {"v": 2}
    await secretsmanager.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
