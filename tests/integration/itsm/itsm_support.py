"""Helpers for the ITSM integration tests: fakes' companions and ACSO's inbound endpoint."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from acso_service_orchestration.itsm.base import TicketAdapter
from acso_service_orchestration.itsm.models import (
    IncidentSnapshot,
    IncidentStatus,
    IntegrationConfig,
    ItsmSystem,
    Severity,
    TicketUpdate,
)
from acso_shared.errors import AcsoError, NotFound
from tests.fakes.jira import FakeJira
from tests.fakes.servicenow import FakeServiceNow

SN_INBOUND_SECRET = "sn-inbound-secret"


class DictSecrets:
    """Secrets Manager stand-in keyed by secret id (the real reader is tested against moto)."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    async def read(self, secret_id: str) -> str:
        if secret_id not in self._values:
            raise NotFound("itsm_secret_not_found", secret_id)
        return self._values[secret_id]

    def forget(self, secret_id: str) -> None:
        """Nothing is cached here: every read sees the current value."""


class MemoryClaims:
    """The replay store of the webhook verifier (DynamoDB in the service)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    async def __call__(self, key: str, expires_at: int) -> bool:
        if key in self.keys:
            return False
        self.keys.add(key)
        return True


@dataclass
class RecordingSleep:
    """Records backoff delays instead of sleeping, so retry tests are fast and exact."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def incident(
    incident_id: str = "INC-2026-0001",
    status: IncidentStatus = IncidentStatus.NEW,
    severity: Severity = Severity.HIGH,
    summary: str = "Credential exfiltration from i-0abc123 to 203.0.113.7.",
) -> IncidentSnapshot:
    return IncidentSnapshot(
        id=incident_id,
        title="Suspicious IAM access key use from a new ASN",
        status=status,
        severity=severity,
        summary=summary,
        assignee="alice",
        url="https://acso.example.com/incidents/" + incident_id,
    )


def servicenow_config(fake: FakeServiceNow) -> IntegrationConfig:
    return IntegrationConfig(
        system=ItsmSystem.SERVICENOW,
        base_url=fake.base_url,
        credentials_secret_id="acso-local/integrations/servicenow",
        allow_loopback_http=True,
        integration_user=fake.username,
    )


def servicenow_secret(fake: FakeServiceNow, mode: str = "basic") -> str:
    if mode == "oauth":
        creds = {"auth": "oauth", "client_id": fake.client_id, "client_secret": fake.client_secret}
    else:
        creds = {"auth": "basic", "username": fake.username, "password": fake.password}
    return json.dumps({**creds, "inbound_secret": SN_INBOUND_SECRET})


def jira_config(fake: FakeJira) -> IntegrationConfig:
    return IntegrationConfig(
        system=ItsmSystem.JIRA,
        base_url=fake.base_url,
        credentials_secret_id="acso-local/integrations/jira",
        allow_loopback_http=True,
        integration_user=fake.account_id,
        jira_project_key="SEC",
    )


def jira_secret(fake: FakeJira) -> str:
    return json.dumps({"email": fake.email, "api_token": fake.api_token, "webhook_secret": fake.webhook_secret})


@dataclass
class Inbound:
    """ACSO's inbound ITSM endpoint as the service will expose it: verify, parse, record."""

    url: str = ""
    updates: list[TicketUpdate] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@asynccontextmanager
async def start_inbound(adapters: Mapping[str, TicketAdapter]) -> AsyncIterator[Inbound]:
    inbound = Inbound()

    async def receive(request: web.Request) -> web.Response:
        adapter = adapters[request.match_info["system"]]
        try:
            update = await adapter.parse_inbound(request.headers, await request.read())
        except AcsoError as err:
            inbound.refused.append(err.code)
            return web.json_response({"error": {"code": err.code}}, status=err.status)
        if update is not None:
            inbound.updates.append(update)
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/v1/itsm/{system}/events", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    inbound.url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/itsm"
    try:
        yield inbound
    finally:
        await runner.cleanup()
