"""The auth Lambda against the emulator's Cognito: real tokens, the pool's JWKS, real event shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from acso_lambda_auth import handler as auth_handler
from acso_lambda_auth.handler import build_authorizer
from acso_lambda_auth.models import parse_event
from acso_lambda_auth.settings import AuthSettings
from tests.support.stack import TestStack

pytestmark = pytest.mark.integration

API = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5"


def token_event(token: str | None, method: str, path: str) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "TOKEN", "methodArn": f"{API}/prod/{method}{path}"}
    if token is not None:
        event["authorizationToken"] = f"Bearer {token}"
    return event


def request_event(token: str, method: str, path: str, resource: str) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": f"{API}/prod/{method}{path}",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"authorization": f"Bearer {token}", "Host": "api.example.com"},
        "multiValueHeaders": {"authorization": [f"Bearer {token}"]},
        "queryStringParameters": {},
        "pathParameters": {"id": path.rsplit("/", 2)[-2]},
        "stageVariables": {},
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8"},
        },
    }


def connect_event(token: str | None) -> dict[str, Any]:
    return {
        "type": "REQUEST",
        "methodArn": f"{API}/prod/$connect",
        "headers": {"Host": "ws.example.com", "Sec-WebSocket-Version": "13"},
        "multiValueHeaders": {},
        "queryStringParameters": {"token": token} if token else {},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "abc=",
            "requestTime": "01/Nov/2026:10:00:00 +0000",
            "messageDirection": "IN",
            "stage": "prod",
            "connectedAt": 1793527200000,
            "requestTimeEpoch": 1793527200000,
            "identity": {"sourceIp": "203.0.113.10"},
            "requestId": "abc=",
            "domainName": "ws.example.com",
            "connectionId": "Aa1bC2dE3fG=",
            "apiId": "a1b2c3d4e5",
        },
    }


def settings_for(stack: TestStack, **overrides: Any) -> AuthSettings:
    pool = stack.provisioned.user_pool_id
    values: dict[str, Any] = {
        "env": "test",
        "cognito_user_pool_id": pool,
        "cognito_app_client_id": stack.provisioned.app_client_id,
        "jwt_issuer": f"https://cognito-idp.us-east-1.amazonaws.com/{pool}",
        "jwks_url": f"{stack.emulator_url}/{pool}/.well-known/jwks.json",
    }
    values.update(overrides)
    return AuthSettings(**values)


def effects(response: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(s["Effect"], s["Resource"]) for s in response["policyDocument"]["Statement"]]


def allowed_resources(response: dict[str, Any]) -> set[str]:
    return {r for effect, resources in effects(response) if effect == "Allow" for r in resources}


def assert_denied(response: dict[str, Any]) -> None:
    assert response["principalId"] == "anonymous"
    assert [e for e, _ in effects(response)] == ["Deny"]
    # The reason is logged, never returned: no context, nothing a caller could probe with.
    assert "context" not in response


def test_an_analyst_token_is_allowed_to_read_with_groups_in_the_context(stack: TestStack) -> None:
    decision = build_authorizer(settings_for(stack)).decide(
        parse_event(token_event(stack.tokens["analyst"], "GET", "/v1/incidents/42"))
    )

    assert decision.allowed
    response = decision.response
    assert allowed_resources(response) == {f"{API}/prod/*/*"}
    assert response["context"]["groups"] == "analyst"
    assert response["context"]["kind"] == "user"
    assert response["principalId"] == decision.principal.subject if decision.principal else False


def test_the_cached_policy_allows_the_whole_stage_so_one_route_never_locks_the_token_out(stack: TestStack) -> None:
    # API Gateway reuses the policy for every route the token calls until the TTL ends.
    response = (
        build_authorizer(settings_for(stack))
        .decide(parse_event(token_event(stack.tokens["analyst"], "GET", "/v1/me")))
        .response
    )

    assert allowed_resources(response) == {f"{API}/prod/*/*"}
    assert [e for e, _ in effects(response)] == ["Allow"]


def test_a_verified_token_on_a_route_its_roles_forbid_passes_for_the_service_to_answer_403(stack: TestStack) -> None:
    # Given an analyst token on a responder-only route, and one on an undeclared path
    authorizer = build_authorizer(settings_for(stack))
    forbidden = authorizer.decide(parse_event(token_event(stack.tokens["analyst"], "POST", "/v1/incidents/42/close")))
    unknown = authorizer.decide(parse_event(token_event(stack.tokens["analyst"], "GET", "/v1/nowhere")))

    # Then both pass with the roles in the context: the service checks the matrix and answers 403/404
    for decision in (forbidden, unknown):
        assert decision.allowed
        assert decision.response["context"]["groups"] == "analyst"
        assert allowed_resources(decision.response) == {f"{API}/prod/*/*"}


def test_a_request_authorizer_event_allows_a_responder_to_close_an_incident(stack: TestStack) -> None:
    event = request_event(stack.tokens["responder"], "POST", "/v1/incidents/42/close", "/v1/incidents/{id}/close")

    decision = build_authorizer(settings_for(stack)).decide(parse_event(event))

    assert decision.allowed
    assert allowed_resources(decision.response) == {f"{API}/prod/*/*"}


def test_a_websocket_connect_with_the_token_in_the_query_is_allowed(stack: TestStack) -> None:
    decision = build_authorizer(settings_for(stack)).decide(parse_event(connect_event(stack.tokens["executive"])))

    assert decision.allowed
    assert allowed_resources(decision.response) == {f"{API}/prod/$connect"}
    assert decision.response["context"]["groups"] == "executive"


def test_a_websocket_connect_without_a_token_is_denied(stack: TestStack) -> None:
    decision = build_authorizer(settings_for(stack)).decide(parse_event(connect_event(None)))

    assert decision.reason == "token_missing"
    assert_denied(decision.response)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"jwt_issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"}, "token_wrong_issuer"),
        ({"cognito_app_client_id": "some-other-client"}, "token_wrong_audience"),
    ],
)
def test_a_token_for_another_issuer_or_client_is_denied(
    stack: TestStack, overrides: dict[str, Any], reason: str
) -> None:
    decision = build_authorizer(settings_for(stack, **overrides)).decide(
        parse_event(token_event(stack.tokens["admin"], "GET", "/v1/me"))
    )

    assert decision.reason == reason
    assert_denied(decision.response)


def test_a_tampered_token_is_denied(stack: TestStack) -> None:
    header, payload, signature = stack.tokens["analyst"].split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"

    decision = build_authorizer(settings_for(stack)).decide(parse_event(token_event(forged, "GET", "/v1/me")))

    assert decision.reason == "token_invalid"
    assert_denied(decision.response)


def test_an_unreachable_jwks_denies_instead_of_failing(stack: TestStack) -> None:
    settings = settings_for(stack, jwks_url="http://127.0.0.1:9/jwks.json", jwks_timeout_s=0.5)

    decision = build_authorizer(settings).decide(parse_event(token_event(stack.tokens["admin"], "GET", "/v1/me")))

    assert decision.reason == "jwks_unavailable"
    assert_denied(decision.response)


def test_the_handler_reads_its_settings_from_the_environment_and_logs_the_reason(
    stack: TestStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, lambda_context: Any
) -> None:
    settings = settings_for(stack)
    monkeypatch.setenv("ACSO_ENV", "test")
    monkeypatch.setenv("ACSO_COGNITO_USER_POOL_ID", settings.cognito_user_pool_id)
    monkeypatch.setenv("ACSO_COGNITO_APP_CLIENT_ID", f"unused-client, {stack.provisioned.app_client_id}")
    monkeypatch.setenv("ACSO_JWT_ISSUER", settings.issuer)
    monkeypatch.setenv("ACSO_JWKS_URL", settings.jwks)
    auth_handler.authorizer.cache_clear()
    try:
        allowed = auth_handler.handler(token_event(stack.tokens["it_operator"], "GET", "/v1/dlq"), lambda_context)
        denied = auth_handler.handler(
            token_event(stack.tokens["it_operator"][:-4] + "AAAA", "POST", "/v1/dlq/x/replay"), lambda_context
        )
    finally:
        auth_handler.authorizer.cache_clear()

    assert allowed_resources(allowed) == {f"{API}/prod/*/*"}
    assert_denied(denied)
    logs = [r for r in caplog.records if r.name == "acso-auth"]
    assert [(r.getMessage(), getattr(r, "reason", None)) for r in logs] == [
        ("authorization allowed", "allowed"),
        ("authorization denied", "token_invalid"),
    ]
    assert not any(stack.tokens["it_operator"] in json.dumps(r.__dict__, default=str) for r in logs)


def test_a_malformed_event_is_denied(lambda_context: Any) -> None:
    response = auth_handler.handler({"type": "TOKEN", "authorizationToken": "Bearer x"}, lambda_context)

    assert_denied(response)
