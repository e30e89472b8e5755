"""ServiceNow and Jira fakes for the whole running system, configured the way an operator would.

The integrations are given to the system in `ACSO_ITSM_INTEGRATIONS` without secret ids, so the
service falls back to the manifest's secrets (`acso-{env}/integrations/<system>`); `connect`
then writes the credentials into those provisioned secrets, as an operator replaces them after
`make run`, and points the fakes' outbound webhooks at the running service.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import boto3

from acso_shared.auth.webhooks import SIGNATURE_HEADER, sign
from acso_shared.resources import Agent
from acso_shared.settings import AcsoSettings
from tests.fakes.jira import FakeJira, start_jira
from tests.fakes.servicenow import FakeServiceNow, start_servicenow
from tests.support.background import BackgroundLoop
from tests.support.stack import RunningSystem

SN_INBOUND_SECRET = secrets.token_urlsafe(24)


@dataclass
class ItsmFakes:
    """Running ServiceNow and Jira fakes, served from a background loop."""

    background: BackgroundLoop
    servicenow: FakeServiceNow
    jira: FakeJira

    @classmethod
    def start(cls, background: BackgroundLoop) -> ItsmFakes:
        servicenow = background.enter(
            start_servicenow(
                FakeServiceNow(webhook_signer=lambda raw: {SIGNATURE_HEADER: sign(raw, SN_INBOUND_SECRET)})
            )
        )
        jira = background.enter(start_jira(FakeJira()))
        return cls(background, servicenow, jira)

    def service_env(self) -> dict[str, str]:
        """What the services get (through the launcher's ACSO_SERVICE_ENV): quick retries for tests."""
        integrations = [
            {
                "system": "servicenow",
                "base_url": self.servicenow.base_url,
                "allow_loopback_http": True,
                "integration_user": self.servicenow.username,
            },
            {
                "system": "jira",
                "base_url": self.jira.base_url,
                "allow_loopback_http": True,
                "integration_user": self.jira.account_id,
                "jira_project_key": "SEC",
            },
        ]
        return {
            "ACSO_ITSM_INTEGRATIONS": json.dumps(integrations),
            "ACSO_ITSM_HTTP_ATTEMPTS": "2",
            "ACSO_ITSM_HTTP_BASE_DELAY_S": "0.05",
            "ACSO_ITSM_RETRY_BASE_S": "0.5",
            "ACSO_ITSM_RETRY_MAX_S": "2",
            "ACSO_ITSM_RETRY_POLL_S": "0.25",
        }

    def connect(self, system: RunningSystem) -> None:
        """Store the credentials in the provisioned secrets and aim the fakes' webhooks at ACSO."""
        manifest = AcsoSettings(aws_endpoint_url=system.emulator_url).manifest
        client = boto3.client("secretsmanager", endpoint_url=system.emulator_url, region_name=manifest.region)
        values = {
            "servicenow": {
                "auth": "basic",
                "username": self.servicenow.username,
                "password": self.servicenow.password,
                "inbound_secret": SN_INBOUND_SECRET,
            },
            "jira": {
                "email": self.jira.email,
                "api_token": self.jira.api_token,
                "webhook_secret": self.jira.webhook_secret,
            },
        }
        for system_name, value in values.items():
            client.put_secret_value(SecretId=manifest.secrets[system_name], SecretString=json.dumps(value))
        webhooks = f"{system.url(Agent.SERVICE_ORCHESTRATION)}/v1/webhooks/itsm"
        self.servicenow.webhook_url = f"{webhooks}/servicenow"
        self.jira.webhook_url = f"{webhooks}/jira"
