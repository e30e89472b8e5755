"""Who may get in: forged, stale and misdirected tokens are refused by a live service with 401;
genuine user and machine tokens are accepted and `GET /v1/me` shows what they may do."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from joserfc.jwk import RSAKey

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.resources import Agent
from tests.integration.security.support_security import b64url, claims_of, service_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

Mint = Callable[[RSAKey, dict[str, Any]], str]


def _hs256_with_public_key(stack: TestStack, claims: dict[str, Any], public_pem: bytes) -> str:
    """The classic key-confusion forgery: HMAC-sign with the RSA public key as the secret."""
    header = b64url(json.dumps({"alg": "HS256", "kid": "dummy", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def _alg_none(claims: dict[str, Any]) -> str:
    header = b64url(json.dumps({"alg": "none", "kid": "dummy", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}."


async def _id_token(stack: TestStack) -> str:
    clients = AwsClientFactory(stack.aws_settings())
    try:
        idp = await clients.client("cognito-idp")
        username = stack.aws_settings().manifest.demo_users["admin"]
        response = await idp.admin_initiate_auth(
            UserPoolId=stack.provisioned.user_pool_id,
            ClientId=stack.provisioned.app_client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": stack.provisioned.demo_passwords["admin"]},
        )
        return str(response["AuthenticationResult"]["IdToken"])
    finally:
        await clients.aclose()


FORGERIES = [
    "alg_none",
    "hs256_with_public_key",
    "signed_with_another_key",
    "expired",
    "wrong_audience",
    "wrong_issuer",
    "id_token_for_access",
    "groups_added_to_a_genuine_token",
]


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_or_misdirected_token_is_refused_with_401(
    stack: TestStack, emulator_key: RSAKey, mint: Mint, forgery: str
) -> None:
    genuine = stack.tokens["analyst"]
    claims = {**claims_of(genuine), "cognito:groups": ["admin"]}
    now = int(time.time())
    public_pem = emulator_key.as_pem(private=False)
    tokens: dict[str, Callable[[], Any]] = {
        "alg_none": lambda: _alg_none(claims),
        "hs256_with_public_key": lambda: _hs256_with_public_key(stack, claims, public_pem),
        "signed_with_another_key": lambda: mint(
            RSAKey.generate_key(2048, parameters={"kid": "dummy"}, private=True), claims
        ),
        "expired": lambda: mint(emulator_key, {**claims, "iat": now - 7200, "exp": now - 3600}),
        "wrong_audience": lambda: mint(emulator_key, {**claims, "client_id": "someone-elses-client"}),
        "wrong_issuer": lambda: mint(emulator_key, {**claims, "iss": "https://cognito-idp.us-east-1.amazonaws.com/x"}),
        "id_token_for_access": lambda: _id_token(stack),
        # Re-encoding the payload of a real token with more groups keeps the old signature.
        "groups_added_to_a_genuine_token": lambda: ".".join(
            [genuine.split(".")[0], b64url(json.dumps(claims).encode()), genuine.split(".")[2]]
        ),
    }
    token = tokens[forgery]()
    if not isinstance(token, str):
        token = await token
    async with running(service_app(stack, Agent.INCIDENT_RESPONSE)) as client:
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 401
        body = await response.json()
        assert body["error"]["code"].startswith("token_")
        assert token not in await response.text()


async def test_the_emulator_key_with_the_genuine_claims_is_accepted(
    stack: TestStack, emulator_key: RSAKey, mint: Mint
) -> None:
    """The control for the forgeries above: only the changed claim made them fail."""
    token = mint(emulator_key, claims_of(stack.tokens["responder"]))
    async with running(service_app(stack, Agent.INCIDENT_RESPONSE)) as client:
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200


async def test_me_shows_the_callers_identity_and_permissions(stack: TestStack) -> None:
    async with running(service_app(stack, Agent.SUPERVISOR)) as client:
        executive = await (await client.get("/v1/me", headers=stack.auth("executive"))).json()
        analyst = await (await client.get("/v1/me", headers=stack.auth("analyst"))).json()
    assert executive["kind"] == "user"
    assert executive["roles"] == ["executive"]
    assert executive["username"] == stack.aws_settings().manifest.demo_users["executive"]
    assert "reports.read" in executive["permissions"]
    assert "approvals.decide" not in executive["permissions"]
    assert "operations.run" not in analyst["permissions"]
    assert "incidents.comment" in analyst["permissions"]


@contextlib.asynccontextmanager
async def _jwks_server(key: RSAKey) -> AsyncIterator[str]:
    """A tiny identity provider: serves `key`'s JWKS, standing in for Cognito's token endpoint."""
    app = web.Application()

    async def jwks(_: web.Request) -> web.Response:
        return web.json_response({"keys": [key.as_dict(private=False, alg="RS256", use="sig")]})

    app.router.add_get("/pool/.well-known/jwks.json", jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/pool"))
    finally:
        await server.close()


async def test_a_client_credentials_token_acts_by_its_scopes_only(stack: TestStack, mint: Mint) -> None:
    """moto serves no `/oauth2/token` endpoint, so the machine token is minted here, as Cognito
    would issue it for the client-credentials grant (no username, scopes, the machine client id),
    and its key is served from a local JWKS the service is configured with."""
    key = RSAKey.generate_key(2048, parameters={"kid": "machine-key"}, private=True)
    async with _jwks_server(key) as issuer:
        now = int(time.time())
        claims = {
            "sub": stack.provisioned.machine_client_id,
            "iss": issuer,
            "token_use": "access",
            "client_id": stack.provisioned.machine_client_id,
            "scope": "acso/read",
            "iat": now,
            "exp": now + 3600,
            "jti": "machine-jti",
            # Groups on a machine token grant nothing: only scopes speak for integrations.
            "cognito:groups": ["admin"],
        }
        token = mint(key, claims)
        app = service_app(stack, Agent.SUPERVISOR, jwt_issuer=issuer, jwks_url=f"{issuer}/.well-known/jwks.json")
        async with running(app) as client:
            headers = {"Authorization": f"Bearer {token}"}
            me = await client.get("/v1/me", headers=headers)
            assert me.status == 200
            identity = await me.json()
            assert identity["kind"] == "machine"
            assert identity["roles"] == []
            assert "alerts.read" in identity["permissions"]
            assert (await client.get("/v1/alerts", headers=headers)).status not in (401, 403)
            assert (await client.get("/v1/dlq", headers=headers)).status == 403
            writing = await client.post("/v1/alerts", json={}, headers=headers)
            assert writing.status == 403
            # The emulator's user tokens name another issuer: this deployment refuses them.
            assert (await client.get("/v1/me", headers=stack.auth("admin"))).status == 401
