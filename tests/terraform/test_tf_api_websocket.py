"""Specs: the WebSocket API calls the supervisor's /v1/ws/* routes the way acso_supervisor.ws_gateway expects."""

from __future__ import annotations

import pytest

from acso_supervisor.ws_gateway import CONNECTION_HEADER, SECRET_HEADER
from devtools.terraform_check.hcl import Config, load_config, unquote
from devtools.terraform_check.schema import REPO_ROOT

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="module")
def api() -> Config:
    return load_config(REPO_ROOT / "terraform/modules/api")


def _header_mappings(api: Config) -> dict[str, str]:
    integration = api.resources[("aws_apigatewayv2_integration", "ws")]
    prefix = "integration.request.header."
    return {
        unquote(k).removeprefix(prefix): unquote(str(v))
        for k, v in integration["request_parameters"].items()
        if unquote(k).startswith(prefix)
    }


def test_the_three_routes_go_to_the_supervisor_gateway_paths(api: Config) -> None:
    integration = api.resources[("aws_apigatewayv2_integration", "ws")]

    assert {unquote(k): unquote(v) for k, v in integration["for_each"].items() if not k.startswith("__")} == {
        "$connect": "/v1/ws/connect",
        "$disconnect": "/v1/ws/disconnect",
        "$default": "/v1/ws/message",
    }


def test_every_integration_request_carries_the_gateway_secret_as_a_static_header(api: Config) -> None:
    headers = _header_mappings(api)

    assert headers[SECRET_HEADER] == "'${random_password.ws_gateway.result}'"
    secret = api.resources[("aws_secretsmanager_secret_version", "ws_gateway")]
    assert secret["secret_string"] == "${random_password.ws_gateway.result}"
    assert api.resources[("random_password", "ws_gateway")]["special"] is False


def test_the_connection_and_the_authorizer_context_reach_the_service(api: Config) -> None:
    headers = _header_mappings(api)

    assert headers[CONNECTION_HEADER] == "context.connectionId"
    assert headers["X-Principal-Id"] == "context.authorizer.principalId"
    # The auth Lambda's context keys (acso_lambda_auth.service._context).
    for header, key in (
        ("X-Principal-Kind", "kind"),
        ("X-Principal-Groups", "groups"),
        ("X-Principal-Scopes", "scopes"),
        ("X-Principal-Client-Id", "client_id"),
        ("X-Principal-Username", "username"),
    ):
        assert headers[header] == f"context.authorizer.{key}"


def test_the_supervisor_settings_it_needs_are_outputs(api: Config) -> None:
    assert {"websocket_management_endpoint", "websocket_manage_connections_arn", "ws_gateway_secret_arn"} <= set(
        api.outputs
    )
