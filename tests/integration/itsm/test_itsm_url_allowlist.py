"""Request forgery: a configured ITSM URL outside the allow-list never gets a request or a secret."""

from __future__ import annotations

import json

import pytest

from acso_service_orchestration.itsm.factory import build_adapter
from acso_service_orchestration.itsm.models import IntegrationConfig, ItsmSystem
from acso_shared.errors import Invalid
from tests.integration.itsm.itsm_support import DictSecrets

pytestmark = pytest.mark.integration

SECRET_ID = "acso-local/integrations/servicenow"


class CountingSecrets(DictSecrets):
    def __init__(self) -> None:
        super().__init__({SECRET_ID: json.dumps({"username": "u", "password": "p", "inbound_secret": "s"})})
        self.reads = 0

    async def read(self, secret_id: str) -> str:
        self.reads += 1
        return await super().read(secret_id)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254",
        "https://[fd00:ec2::254]",
        "https://2852039166",
        "https://acme.service-now.com@169.254.169.254",
        "https://admin:pw@acme.service-now.com",
        "https://acme.service-now.com.attacker.example",
        "https://attacker.example",
        "https://acme.service-now.com:8443",
        "http://acme.service-now.com",
        "http://127.0.0.1:8080",
        "file:///etc/passwd",
    ],
)
async def test_build_adapter_rejects_a_forged_base_url_before_reading_the_secret(url, http_session, verifier):
    config = IntegrationConfig(system=ItsmSystem.SERVICENOW, base_url=url, credentials_secret_id=SECRET_ID)
    secrets = CountingSecrets()

    with pytest.raises(Invalid) as caught:
        await build_adapter(config, secrets, http_session, verifier)

    assert caught.value.code == "itsm_url_not_allowed"
    assert secrets.reads == 0


async def test_build_adapter_accepts_an_instance_on_the_default_allow_list(http_session, verifier):
    config = IntegrationConfig(
        system=ItsmSystem.SERVICENOW, base_url="https://acme.service-now.com/", credentials_secret_id=SECRET_ID
    )

    adapter = await build_adapter(config, CountingSecrets(), http_session, verifier)

    assert adapter.system is ItsmSystem.SERVICENOW


async def test_a_webhook_needs_an_explicit_allow_list(http_session, verifier):
    config = IntegrationConfig(
        system=ItsmSystem.WEBHOOK, base_url="https://hooks.example.com/acso", credentials_secret_id=SECRET_ID
    )

    with pytest.raises(Invalid):
        await build_adapter(config, CountingSecrets(), http_session, verifier)
