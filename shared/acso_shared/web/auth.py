"""The one authentication and authorization middleware.

Every request except the public health/OpenAPI endpoints must carry a Cognito bearer token
verified against the pool's JWKS; the route's template is then checked against the permission
matrix (`acso_shared.auth.permissions`). Unknown routes are denied before they can 404, so route
existence is not revealed to unauthenticated callers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from acso_shared.auth.models import AuthMethod, Principal
from acso_shared.auth.permissions import authorize, is_public, rule_for
from acso_shared.auth.tokens import TokenPolicy, TokenVerifier, bearer_token
from acso_shared.errors import Unauthorized
from acso_shared.runtime import AgentRuntime
from acso_shared.settings import ServiceSettings
from acso_shared.web.api import Endpoint

PRINCIPAL_KEY = "acso_principal"


def issuer_for(settings: ServiceSettings) -> str:
    if settings.jwt_issuer:
        return settings.jwt_issuer
    return f"https://cognito-idp.{settings.aws_region}.amazonaws.com/{settings.cognito_user_pool_id}"


def jwks_url_for(settings: ServiceSettings) -> str:
    return settings.jwks_url or f"{issuer_for(settings)}/.well-known/jwks.json"


def build_token_verifier(settings: ServiceSettings) -> TokenVerifier:
    client_ids = frozenset(c for c in (settings.cognito_app_client_id, settings.cognito_machine_client_id) if c)
    if not settings.cognito_user_pool_id and not settings.jwt_issuer:
        raise ValueError("ACSO_COGNITO_USER_POOL_ID or ACSO_JWT_ISSUER must be set")
    if not client_ids:
        raise ValueError("ACSO_COGNITO_APP_CLIENT_ID must be set")
    url = jwks_url_for(settings)

    async def fetch_jwks() -> Mapping[str, Any]:
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            response.raise_for_status()
            document: Mapping[str, Any] = await response.json(content_type=None)
            return document

    return TokenVerifier(TokenPolicy(issuer=issuer_for(settings), client_ids=client_ids), fetch_jwks)


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller; only called by handlers of non-public routes."""
    principal = request.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise Unauthorized("token_missing", "authentication required")
    return principal


def route_template(request: web.Request) -> str | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None or request.match_info.http_exception is not None:
        return None
    return resource.canonical


def build_auth_middleware(runtime: AgentRuntime, endpoints: list[Endpoint]) -> Any:
    verifier = build_token_verifier(runtime.settings)
    public = {(e.method, e.path) for e in endpoints if e.public}

    @web.middleware
    async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        template = route_template(request)
        if (request.method, template) in public or is_public(request.method, request.path):
            response: web.StreamResponse = await handler(request)
            return response
        rule = rule_for(request.method, template) if template else None
        if rule is not None and rule.auth is AuthMethod.WEBHOOK_HMAC:
            # Signed webhooks carry no bearer token: the route verifies the signature over the raw
            # body (it needs the body and the integration's secret), then authorizes that principal.
            response = await handler(request)
            return response
        principal = await verifier.verify(bearer_token(request.headers.get("Authorization")))
        request[PRINCIPAL_KEY] = principal
        request["acso_principal_name"] = principal.display_name
        authorize(principal, request.method, template or request.path)
        response = await handler(request)
        return response

    return auth_middleware
