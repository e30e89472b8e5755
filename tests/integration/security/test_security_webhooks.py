"""Signed webhooks through the shared middleware, with the integration's secret in Secrets Manager
and replay claims in the idempotency table: a valid delivery is accepted exactly once; a replayed,
stale or tampered one is refused with 401."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from acso_shared.auth.webhooks import SIGNATURE_HEADER, sign
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.web.api import ApiRouter, json_response
from acso_shared.web.auth import authenticate_webhook, load_webhook_secrets
from acso_shared.web.keys import RUNTIME
from tests.integration.security.support_security import bare_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Client = TestClient[Any, Any]

SECRET = "whsec-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
async def secret_id(stack: TestStack) -> str:
    name = f"acso-test/integrations/webhook-spec-{uuid.uuid4().hex[:8]}"
    clients = AwsClientFactory(stack.aws_settings())
    try:
        secretsmanager = await clients.client("secretsmanager")
        await secretsmanager.create_secret(Name=name, SecretString=json.dumps({"signing_secret": SECRET}))
    finally:
        await clients.aclose()
    return name


def _webhook_router(secret_id: str, accepted: list[bytes]) -> ApiRouter:
    router = ApiRouter("webhooks")

    @router.route("POST", "/v1/webhooks/itsm/{system}", summary="Inbound ITSM event", status=202)
    async def inbound(request: web.Request) -> web.Response:
        secrets = await load_webhook_secrets(request.app[RUNTIME], secret_id)
        principal = await authenticate_webhook(request, request.match_info["system"], secrets)
        accepted.append(await request.read())
        return json_response({"accepted_from": principal.client_id}, status=202)

    return router


@pytest.fixture
async def webhook(stack: TestStack, secret_id: str) -> AsyncIterator[tuple[Client, list[bytes]]]:
    accepted: list[bytes] = []
    async with running(bare_app(stack, _webhook_router(secret_id, accepted))) as client:
        yield client, accepted


def _body() -> bytes:
    return json.dumps({"ticket": f"INC-{uuid.uuid4().hex[:6]}", "state": "resolved"}).encode()


async def test_a_valid_delivery_is_accepted_exactly_once(webhook: tuple[Client, list[bytes]]) -> None:
    client, accepted = webhook
    body = _body()
    headers = {SIGNATURE_HEADER: sign(body, SECRET), "Content-Type": "application/json"}
    first = await client.post("/v1/webhooks/itsm/jira", data=body, headers=headers)
    replay = await client.post("/v1/webhooks/itsm/jira", data=body, headers=headers)
    assert first.status == 202
    assert (await first.json())["accepted_from"] == "jira"
    assert replay.status == 401
    assert (await replay.json())["error"]["code"] == "signature_replayed"
    assert accepted == [body]


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("body_changed_after_signing", "signature_invalid"),
        ("signed_with_another_secret", "signature_invalid"),
        ("older_than_five_minutes", "signature_expired"),
        ("no_signature", "signature_missing"),
        ("a_bearer_token_instead", "signature_missing"),
    ],
)
async def test_a_tampered_stale_or_unsigned_delivery_is_refused(
    webhook: tuple[Client, list[bytes]],
    stack: TestStack,
    case: str,
    code: str,
) -> None:
    client, accepted = webhook
    body = _body()
    headers = {
        "body_changed_after_signing": {SIGNATURE_HEADER: sign(body, SECRET)},
        "signed_with_another_secret": {SIGNATURE_HEADER: sign(body, "not-the-secret")},
        "older_than_five_minutes": {SIGNATURE_HEADER: sign(body, SECRET, timestamp=int(time.time()) - 301)},
        "no_signature": {},
        "a_bearer_token_instead": stack.auth("admin"),
    }[case]
    sent = body.replace(b"resolved", b"reopened") if case == "body_changed_after_signing" else body
    response = await client.post("/v1/webhooks/itsm/jira", data=sent, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == code
    assert accepted == []


async def test_a_secret_being_rotated_out_still_verifies(stack: TestStack) -> None:
    name = f"acso-test/integrations/rotating-{uuid.uuid4().hex[:8]}"
    clients = AwsClientFactory(stack.aws_settings())
    try:
        secretsmanager = await clients.client("secretsmanager")
        document = {"signing_secret": "new-secret", "previous_signing_secret": "old-secret"}
        await secretsmanager.create_secret(Name=name, SecretString=json.dumps(document))
    finally:
        await clients.aclose()
    accepted: list[bytes] = []
    async with running(bare_app(stack, _webhook_router(name, accepted))) as client:
        body = _body()
        response = await client.post(
            "/v1/webhooks/itsm/servicenow", data=body, headers={SIGNATURE_HEADER: sign(body, "old-secret")}
        )
        assert response.status == 202


async def test_an_integration_without_a_secret_is_unavailable_not_open(stack: TestStack) -> None:
    accepted: list[bytes] = []
    async with running(bare_app(stack, _webhook_router("acso-test/integrations/missing", accepted))) as client:
        body = _body()
        response = await client.post(
            "/v1/webhooks/itsm/jira", data=body, headers={SIGNATURE_HEADER: sign(body, SECRET)}
        )
    assert response.status == 503
    assert accepted == []
