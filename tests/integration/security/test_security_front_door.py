"""The front door of every service: WebSocket authentication on connect, rate limits per principal
and per source, the CORS allow-list, and no secret in logs or responses."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from acso_shared.auth.webhooks import SIGNATURE_HEADER, sign
from acso_shared.web.api import ApiRouter
from acso_shared.web.auth import STREAM_SUBPROTOCOL, principal_of
from tests.integration.security.support_security import bare_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    """Serve `app` as `acso_shared.web.serve` does: without aiohttp's access log, which would
    print query strings (the stream's `access_token`); ACSO's own access line logs the path only."""
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1", access_log=None))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


def _stream_router() -> ApiRouter:
    router = ApiRouter("stream")

    @router.route("GET", "/v1/stream", summary="Events")
    async def stream(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(protocols=[STREAM_SUBPROTOCOL])
        await socket.prepare(request)
        await socket.send_json({"username": principal_of(request).username})
        await socket.close()
        return socket

    return router


async def test_a_websocket_authenticates_on_connect_by_subprotocol_or_query_parameter(stack: TestStack) -> None:
    token = stack.tokens["executive"]
    executive = stack.aws_settings().manifest.demo_users["executive"]
    async with running(bare_app(stack, _stream_router())) as client:
        by_protocol = await client.ws_connect("/v1/stream", protocols=(STREAM_SUBPROTOCOL, token))
        assert by_protocol.protocol == STREAM_SUBPROTOCOL
        assert (await by_protocol.receive_json())["username"] == executive
        await by_protocol.close()
        by_query = await client.ws_connect(f"/v1/stream?access_token={token}")
        assert (await by_query.receive_json())["username"] == executive
        await by_query.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/v1/stream", protocols=(STREAM_SUBPROTOCOL, token[:-4] + "AAAA"))
        assert refused.value.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as anonymous:
            await client.ws_connect("/v1/stream")
        assert anonymous.value.status == 401


async def test_the_query_parameter_token_is_accepted_only_for_the_stream(stack: TestStack) -> None:
    async with running(bare_app(stack, _stream_router())) as client:
        response = await client.get(f"/v1/me?access_token={stack.tokens['admin']}")
        assert response.status == 401


async def test_a_principal_over_its_limit_gets_429_with_retry_after_while_others_pass(stack: TestStack) -> None:
    app = bare_app(stack, ApiRouter("none"), rate_limit_principal_burst=3, rate_limit_principal_per_s=0.01)
    async with running(app) as client:
        statuses = [(await client.get("/v1/me", headers=stack.auth("analyst"))).status for _ in range(4)]
        limited = await client.get("/v1/me", headers=stack.auth("analyst"))
        limited_body = await limited.json()
        other = await client.get("/v1/me", headers=stack.auth("responder"))
    assert statuses == [200, 200, 200, 429]
    assert limited.status == 429
    assert limited_body["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert other.status == 200


async def test_failed_logins_from_one_source_are_throttled(stack: TestStack) -> None:
    app = bare_app(stack, ApiRouter("none"), rate_limit_source_burst=3, rate_limit_source_per_s=0.01)
    async with running(app) as client:
        statuses = [
            (await client.get("/v1/me", headers={"Authorization": f"Bearer guess-{n}"})).status for n in range(4)
        ]
    assert statuses == [401, 401, 401, 429]


async def test_only_allow_listed_origins_may_call_from_a_browser(stack: TestStack) -> None:
    console = "https://console.acso.example"
    app = bare_app(stack, ApiRouter("none"), cors_allow_origins=console)
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    async with running(app) as client:
        allowed = await client.options("/v1/me", headers={"Origin": console, **preflight})
        evil = await client.options("/v1/me", headers={"Origin": "https://evil.example", **preflight})
        evil_body = await evil.json()
        unauthenticated = await client.get("/v1/me", headers={"Origin": console})
        foreign = await client.get("/v1/me", headers={"Origin": "https://evil.example", **stack.auth("admin")})
    assert allowed.status == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == console
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert evil.status == 403
    assert evil_body["error"]["code"] == "cors_origin_denied"
    # A browser page must be able to read why its call failed.
    assert unauthenticated.status == 401
    assert unauthenticated.headers["Access-Control-Allow-Origin"] == console
    assert foreign.status == 200
    assert "Access-Control-Allow-Origin" not in foreign.headers


async def test_no_token_signature_or_secret_reaches_the_logs_or_a_response(
    stack: TestStack, caplog: pytest.LogCaptureFixture
) -> None:
    token = stack.tokens["admin"]
    secret = "whsec-" + uuid.uuid4().hex
    signature = sign(b"{}", secret)
    bodies: list[str] = []
    # Levels as a service runs them (`configure_logging`): ACSO's loggers verbose, libraries at WARNING.
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="acso")
    with capture_logs() as events:
        async with serving(bare_app(stack, _stream_router())) as client:
            for headers, path in [
                (stack.auth("admin"), "/v1/me"),
                ({"Authorization": f"Bearer {token[:-3]}xyz"}, "/v1/me"),
                ({"Authorization": f"Basic {token}"}, "/v1/me"),
                ({SIGNATURE_HEADER: signature}, "/v1/webhooks/itsm/jira"),
                ({}, f"/v1/stream?access_token={token}"),
                (stack.auth("analyst"), "/v1/nowhere"),
            ]:
                response = await client.post(path, data=b"{}", headers=headers)
                bodies.append(await response.text())
                response = await client.get(path, headers=headers)
                bodies.append(await response.text())
    captured = [repr(event) for event in events] + [r.getMessage() for r in caplog.records]
    assert any("request" in line for line in captured), "the access log was not captured"
    for text in captured + bodies:
        for secret_value in (token, token[:-3], stack.tokens["analyst"], signature, secret):
            assert secret_value not in text
