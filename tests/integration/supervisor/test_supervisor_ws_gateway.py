"""The API Gateway WebSocket back end: API Gateway's calls register and forget connections in the
agent-state table, and the supervisor's events reach each connection through the real aiobotocore
`apigatewaymanagementapi` client, talking to a local server that speaks the @connections API."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from acso_shared.web.keys import RUNTIME
from acso_supervisor.app import create_app
from acso_supervisor.keys import HUB
from acso_supervisor.settings import Settings
from acso_supervisor.ws_gateway import STATE_PK
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

GATEWAY_SECRET = secrets.token_urlsafe(32)


@dataclass
class FakeConnections:
    """API Gateway's @connections API: records every post; `gone` connections answer 410."""

    posts: list[tuple[str, str]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def to(self, connection_id: str) -> list[str]:
        return [body for cid, body in self.posts if cid == connection_id]

    async def handle(self, request: web.Request) -> web.Response:
        connection_id = request.match_info["connection_id"]
        if connection_id in self.gone:
            return web.json_response({"message": "gone"}, status=410, headers={"x-amzn-ErrorType": "GoneException"})
        self.posts.append((connection_id, (await request.read()).decode()))
        return web.Response(status=200)


@pytest.fixture
async def connections() -> AsyncIterator[tuple[FakeConnections, str]]:
    fake = FakeConnections()
    app = web.Application()
    app.router.add_post("/v1/@connections/{connection_id}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        yield fake, str(server.make_url("/v1"))
    finally:
        await client.close()


def gateway_settings(stack: TestStack, endpoint: str | None) -> Settings:
    settings: Settings = stack.service_settings(
        Settings,
        ws_management_endpoint=endpoint,
        ws_gateway_secret=GATEWAY_SECRET,
        ws_refresh_interval_s=0.2,
    )
    return settings


def new_connection_id() -> str:
    return f"{secrets.token_urlsafe(9)}="


def gateway_headers(connection_id: str, *, groups: str = "analyst", secret: str = GATEWAY_SECRET) -> dict[str, str]:
    """What the api module's integration sends for a Cognito user of `groups`."""
    return {
        "X-ACSO-Gateway-Secret": secret,
        "X-Connection-Id": connection_id,
        "X-Principal-Id": f"sub-{connection_id}",
        "X-Principal-Kind": "user",
        "X-Principal-Groups": groups,
        "X-Principal-Username": "ws-user",
    }


async def test_an_event_reaches_a_connection_whose_caller_may_read_it_and_a_disallowed_one_does_not(
    stack: TestStack, connections: tuple[FakeConnections, str]
) -> None:
    fake, endpoint = connections
    app = create_app(gateway_settings(stack, endpoint))
    connection_id = new_connection_id()
    async with running(app) as client:
        connected = await client.post("/v1/ws/connect", headers=gateway_headers(connection_id))
        assert connected.status == 200

        # Analysts may not read the DLQ; published first, it would arrive first if it were sent.
        app[HUB].publish("dlq.message_dead_lettered", {"queue": "acso-test-x-tasks-dlq"})
        app[HUB].publish("incident.opened", {"incident_id": f"inc-{connection_id}"})
        await wait_until(lambda: fake.to(connection_id))

    delivered = fake.to(connection_id)
    assert len(delivered) == 1
    assert '"kind": "incident.opened"' in delivered[0]
    assert f"inc-{connection_id}" in delivered[0]


async def test_connect_stores_the_authorizer_context_with_a_ttl_and_disconnect_removes_it(
    stack: TestStack, connections: tuple[FakeConnections, str]
) -> None:
    fake, endpoint = connections
    app = create_app(gateway_settings(stack, endpoint))
    connection_id = new_connection_id()
    async with running(app) as client:
        await client.post("/v1/ws/connect", headers=gateway_headers(connection_id, groups="responder,unknown"))
        stored = await app[RUNTIME].state.get(STATE_PK, connection_id)
        message = await client.post(
            "/v1/ws/message", data=b'{"action": "ping"}', headers=gateway_headers(connection_id)
        )

        disconnected = await client.post("/v1/ws/disconnect", headers=gateway_headers(connection_id))
        app[HUB].publish("incident.updated", {"incident_id": "after-disconnect"})
        gone = await app[RUNTIME].state.get(STATE_PK, connection_id)

    assert stored is not None
    assert stored["subject"] == f"sub-{connection_id}"
    assert stored["groups"] == ["responder", "unknown"]
    assert message.status == 200
    assert disconnected.status == 200
    assert gone is None
    assert fake.to(connection_id) == []


async def test_a_connection_registered_by_another_instance_receives_this_instances_events(
    stack: TestStack, connections: tuple[FakeConnections, str]
) -> None:
    fake, endpoint = connections
    app = create_app(gateway_settings(stack, endpoint))
    connection_id = new_connection_id()
    async with running(app) as client:
        # Another supervisor task handled this $connect: only the table knows of it.
        other = create_app(gateway_settings(stack, None))
        async with running(other) as other_client:
            await other_client.post("/v1/ws/connect", headers=gateway_headers(connection_id, groups="executive"))

        async def delivered() -> list[str]:
            app[HUB].publish("cost.anomaly_detected", {"connection": connection_id})
            return fake.to(connection_id)

        await wait_until(delivered)
        await client.post("/v1/ws/disconnect", headers=gateway_headers(connection_id))

    assert '"kind": "cost.anomaly_detected"' in fake.to(connection_id)[0]


async def test_a_gone_connection_is_dropped(stack: TestStack, connections: tuple[FakeConnections, str]) -> None:
    fake, endpoint = connections
    app = create_app(gateway_settings(stack, endpoint))
    connection_id = new_connection_id()
    fake.gone.add(connection_id)
    async with running(app) as client:
        await client.post("/v1/ws/connect", headers=gateway_headers(connection_id))
        assert await app[RUNTIME].state.get(STATE_PK, connection_id) is not None
        subscribed = app[HUB].connections

        app[HUB].publish("incident.opened", {"incident_id": "to-nobody"})

        async def dropped() -> bool:
            return await app[RUNTIME].state.get(STATE_PK, connection_id) is None

        await wait_until(dropped)
        assert app[HUB].connections == subscribed - 1
    assert fake.to(connection_id) == []


@pytest.mark.parametrize(
    ("secret", "code"),
    [(None, "gateway_secret_missing"), ("not-the-secret", "gateway_secret_invalid")],
)
async def test_calls_without_the_gateway_secret_are_unauthorized(
    stack: TestStack, secret: str | None, code: str
) -> None:
    app = create_app(gateway_settings(stack, None))
    connection_id = new_connection_id()
    headers = gateway_headers(connection_id)
    if secret is None:
        del headers["X-ACSO-Gateway-Secret"]
    else:
        headers["X-ACSO-Gateway-Secret"] = secret
    async with running(app) as client:
        responses = [await client.post(f"/v1/ws/{route}", headers=headers) for route in ("connect", "message")]
        bodies = [await r.json() for r in responses]
        stored = await app[RUNTIME].state.get(STATE_PK, connection_id)

    assert [r.status for r in responses] == [401, 401]
    assert {b["error"]["code"] for b in bodies} == {code}
    assert stored is None


async def test_a_bearer_token_is_no_gateway_secret(stack: TestStack) -> None:
    app = create_app(gateway_settings(stack, None))
    async with running(app) as client:
        response = await client.post("/v1/ws/connect", headers={**stack.auth("admin"), "X-Connection-Id": "abc="})

    assert response.status == 401


async def test_malformed_context_headers_are_rejected(stack: TestStack) -> None:
    app = create_app(gateway_settings(stack, None))
    async with running(app) as client:
        bad_id = await client.post("/v1/ws/connect", headers=gateway_headers("not a connection id"))
        no_subject = gateway_headers(new_connection_id())
        del no_subject["X-Principal-Id"]
        missing_subject = await client.post("/v1/ws/connect", headers=no_subject)
        unknown = await client.post("/v1/ws/message", headers=gateway_headers(new_connection_id()))
        outcomes = [(r.status, (await r.json())["error"]["code"]) for r in (bad_id, missing_subject, unknown)]

    assert outcomes == [(400, "connection_id_invalid"), (400, "principal_invalid"), (404, "connection_unknown")]
