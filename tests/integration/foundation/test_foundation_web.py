"""The shared web layer on a real service: health, auth, errors, limits, OpenAPI."""

from __future__ import annotations

import pytest

from acso_incident_response.app import create_app
from acso_incident_response.settings import Settings
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


async def test_health_readiness_and_openapi_are_public(stack: TestStack) -> None:
    async with running(create_app(stack.service_settings(Settings))) as client:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 200
        checks = (await ready.json())["checks"]
        assert checks == {"database": True, "task_queue": True, "consumers": True, "signing_keys": True}
        document = await (await client.get("/openapi.json")).json()
        assert document["openapi"].startswith("3.")


async def test_every_other_route_needs_a_valid_token(stack: TestStack) -> None:
    async with running(create_app(stack.service_settings(Settings))) as client:
        missing = await client.get("/v1/incidents")
        assert missing.status == 401
        body = await missing.json()
        assert body["error"]["code"] == "token_missing"
        assert body["error"]["request_id"] == missing.headers["X-Request-Id"]
        forged = await client.get("/v1/incidents", headers={"Authorization": "Bearer not.a.jwt"})
        assert forged.status == 401


async def test_unknown_routes_are_denied_then_not_found(stack: TestStack) -> None:
    async with running(create_app(stack.service_settings(Settings))) as client:
        assert (await client.get("/v1/nothing-here")).status == 401
        response = await client.get("/v1/nothing-here", headers=stack.auth("admin"))
        assert response.status in (403, 404)


async def test_an_oversized_body_is_rejected_with_413_before_it_is_read(stack: TestStack) -> None:
    settings = stack.service_settings(Settings, max_body_bytes=2048)
    async with running(create_app(settings)) as client:
        response = await client.post(
            "/v1/incidents/x/comments",
            data=b"{" + b" " * 4096 + b"}",
            headers={**stack.auth("responder"), "Content-Type": "application/json"},
        )
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_security_headers_and_request_ids_are_set(stack: TestStack) -> None:
    async with running(create_app(stack.service_settings(Settings))) as client:
        response = await client.get("/healthz", headers={"X-Request-Id": "req-12345678"})
        assert response.headers["X-Request-Id"] == "req-12345678"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
