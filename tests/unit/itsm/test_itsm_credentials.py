"""Reading and validating ITSM secrets."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from acso_service_orchestration.itsm.credentials import (
    JiraCredentials,
    SecretsManagerReader,
    ServiceNowCredentials,
    parse_secret,
)
from acso_service_orchestration.itsm.models import ServiceNowAuthMode
from acso_shared.errors import Invalid, NotFound, Upstream

pytestmark = pytest.mark.unit


def aws_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetSecretValue")


class SecretsClient:
    def __init__(self, values: dict[str, str], error: str | None = None) -> None:
        self.values = values
        self.error = error
        self.calls = 0

    async def get_secret_value(self, *, SecretId: str) -> dict[str, Any]:
        self.calls += 1
        if self.error:
            raise aws_error(self.error)
        if SecretId not in self.values:
            raise aws_error("ResourceNotFoundException")
        return {"Name": SecretId, "SecretString": self.values[SecretId]}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_a_secret_is_cached_within_its_ttl():
    client, clock = SecretsClient({"s": "v"}), Clock()
    reader = SecretsManagerReader(client, ttl_s=60, clock=clock)

    assert await reader.read("s") == "v"
    clock.now = 59
    assert await reader.read("s") == "v"

    assert client.calls == 1


async def test_a_secret_is_read_again_after_its_ttl():
    client, clock = SecretsClient({"s": "v"}), Clock()
    reader = SecretsManagerReader(client, ttl_s=60, clock=clock)
    await reader.read("s")

    clock.now = 61
    await reader.read("s")

    assert client.calls == 2


async def test_a_missing_secret_is_not_found():
    with pytest.raises(NotFound) as caught:
        await SecretsManagerReader(SecretsClient({})).read("nope")
    assert caught.value.code == "itsm_secret_not_found"


async def test_other_aws_errors_use_the_shared_translation():
    with pytest.raises(Upstream):
        await SecretsManagerReader(SecretsClient({}, error="AccessDeniedException")).read("s")


def test_a_servicenow_oauth_secret_parses():
    creds = parse_secret(
        ServiceNowCredentials, "id", '{"auth": "oauth", "client_id": "c", "client_secret": "x", "inbound_secret": "i"}'
    )
    assert creds.auth is ServiceNowAuthMode.OAUTH


def test_a_malformed_secret_names_fields_but_never_values():
    with pytest.raises(Invalid) as caught:
        parse_secret(JiraCredentials, "jira", '{"email": "a@b.c", "api_token": "tok-SECRET"}')
    assert "webhook_secret" in caught.value.message
    assert "tok-SECRET" not in caught.value.message


def test_a_secret_that_is_not_json_is_invalid():
    with pytest.raises(Invalid):
        parse_secret(JiraCredentials, "jira", "email=a")
