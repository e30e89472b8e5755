"""The authorization decision: verify the token, check the permission matrix, build the IAM policy.

API Gateway caches a REST authorizer's policy per token and reuses it for every route the token
calls until the TTL ends. So a verified token gets an Allow of the whole stage, with its roles as
context, and the route-level decision stays with the services (they check the same token against
the same permission matrix and answer 403 or 404 with a reason): a forbidden or unknown route must
not become a cached Deny that locks the caller out of every route. Only a token that cannot be
verified is refused here, with a Deny whose reason goes to the log only. WebSocket `$connect`
still checks the route, since its policy covers that one connection.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerResponse,
    APIGatewayAuthorizerResponseWebSocket,
)

from acso_lambda_auth.models import AuthRequest, EventKind
from acso_shared.auth.models import Principal
from acso_shared.auth.permissions import authorize, resolve_template
from acso_shared.auth.tokens import SyncTokenVerifier, bearer_token
from acso_shared.errors import AcsoError, Forbidden, Invalid, Upstream

ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Decision:
    """The response for API Gateway, and why (for the log, never for the caller)."""

    response: dict[str, Any]
    allowed: bool
    reason: str
    principal: Principal | None = None


class JwksClient:
    """Fetches the pool's JWKS document over HTTPS (plain HTTP only for the local emulator)."""

    def __init__(self, url: str, timeout_s: float) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("the JWKS URL must be an http(s) URL")
        self._url = url
        self._timeout_s = timeout_s

    def __call__(self) -> Mapping[str, Any]:
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})  # noqa: S310 (scheme checked above)
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as response:  # noqa: S310
                document = json.loads(response.read(1_048_576))
        except (OSError, ValueError) as err:
            raise Upstream("jwks_unavailable", f"could not fetch the JWKS: {type(err).__name__}") from err
        if not isinstance(document, dict):
            raise Upstream("jwks_invalid", "the JWKS document is not a JSON object")
        return document


def _context(principal: Principal) -> dict[str, str]:
    # API Gateway context values must be strings, numbers or booleans; no nulls, no lists.
    return {
        "sub": principal.subject,
        "username": principal.username or "",
        "kind": principal.kind.value,
        "client_id": principal.client_id or "",
        "groups": ",".join(sorted(role.value for role in principal.roles)),
        "scopes": " ".join(sorted(principal.scopes)),
    }


def deny_response(request: AuthRequest | None) -> dict[str, Any]:
    """A Deny of the whole API stage (or of everything when the event named no usable ARN)."""
    resource = "*"
    if request is not None:
        try:
            arn = request.route_arn
        except Invalid:
            pass
        else:
            resource = f"arn:{arn.partition}:execute-api:{arn.region}:{arn.aws_account_id}:{arn.api_id}/{arn.stage}/*"
    return {
        "principalId": ANONYMOUS,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": [resource]}],
        },
    }


def _rest_policy(request: AuthRequest, principal: Principal) -> dict[str, Any]:
    arn = request.route_arn
    policy = APIGatewayAuthorizerResponse(
        principal_id=principal.subject,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=_context(principal),
        partition=arn.partition,
    )
    policy.allow_all_routes()
    return policy.asdict()


def _websocket_policy(request: AuthRequest, principal: Principal) -> dict[str, Any]:
    arn = request.route_arn
    policy = APIGatewayAuthorizerResponseWebSocket(
        principal_id=principal.subject,
        region=arn.region,
        aws_account_id=arn.aws_account_id,
        api_id=arn.api_id,
        stage=arn.stage,
        context=_context(principal),
        partition=arn.partition,
    )
    policy.allow_route(resource=arn.resource)
    return policy.asdict()


class Authorizer:
    """Decides one authorizer event; fails closed on every error, including unexpected ones."""

    def __init__(self, verifier: SyncTokenVerifier) -> None:
        self._verifier = verifier

    def decide(self, request: AuthRequest) -> Decision:
        """Allow (with the caller's groups as context) or deny `request`."""
        try:
            principal = self._verifier.verify(bearer_token(request.authorization))
            if request.kind is EventKind.WEBSOCKET:
                template = resolve_template(request.method, request.path)
                if template is None:
                    raise Forbidden("route_unknown", f"{request.method} {request.path} is not a declared route")
                authorize(principal, request.method, template)
                response = _websocket_policy(request, principal)
            else:
                response = _rest_policy(request, principal)
        except AcsoError as err:
            return Decision(deny_response(request), allowed=False, reason=err.code)
        except Exception as err:  # an authorizer bug must deny, never allow or 500
            return Decision(deny_response(request), allowed=False, reason=f"internal_error:{type(err).__name__}")
        return Decision(response, allowed=True, reason="allowed", principal=principal)
