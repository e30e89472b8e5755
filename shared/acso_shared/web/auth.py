"""The one authentication, authorization, rate-limit and audit middleware, and `GET /v1/me`.

Every request except the public health/OpenAPI endpoints must carry a Cognito bearer token
verified against the pool's JWKS (users, and integrations holding client-credentials tokens);
the route's template is then checked against the permission matrix
(`acso_shared.auth.permissions`). Unknown routes are denied before they can 404, so route
existence is not revealed to unauthenticated callers; an authenticated caller using a method a
route does not have gets 405 with `Allow`.

Signed webhook routes carry no bearer token: their handler calls `authenticate_webhook`, which
checks the HMAC signature over the raw body and then authorizes the integration's principal.

WebSocket clients (`GET /v1/stream`) cannot set an Authorization header from a browser. They
send the access token either as a subprotocol pair, `new WebSocket(url, ["bearer", token])`
(the header `Sec-WebSocket-Protocol: bearer, <token>`; the server selects `bearer`, see
`STREAM_SUBPROTOCOL`), or as the `access_token` query parameter. The access log records the path
without the query string, so neither form reaches the logs.

Rate limits: a request that fails authentication still spends a token of its source address
(that throttles credential stuffing); an authenticated one spends one of its principal and one of
its source. Audit: each call of a mutating route by an authenticated caller is appended to the
audit log after the handler ran, with the outcome (`denied` for 401/403, `failure` for other
errors). Unauthenticated attempts are not audited (anyone could fill the log with them); they are
in the access log and throttled.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp
from aiohttp import web
from pydantic import BaseModel, Field

from acso_shared.audit.chain import ActorKind, AuditEntry, AuditResult
from acso_shared.audit.repository import AuditLog
from acso_shared.auth.models import AuthMethod, Principal, PrincipalKind
from acso_shared.auth.permissions import Rule, authorize, is_public, permissions_for, rule_for
from acso_shared.auth.ratelimit import RateLimiter
from acso_shared.auth.tokens import TokenPolicy, TokenVerifier, bearer_token
from acso_shared.auth.webhooks import SIGNATURE_HEADER, WebhookVerifier
from acso_shared.aws.clients import translate_aws_error
from acso_shared.errors import AcsoError, Forbidden, Unauthorized, Unavailable
from acso_shared.logging import get_logger
from acso_shared.runtime import AgentRuntime
from acso_shared.settings import ServiceSettings
from acso_shared.web.api import ApiRouter, Endpoint, json_response
from acso_shared.web.keys import RUNTIME
from acso_shared.web.middlewares import method_not_allowed
from acso_shared.web.security import build_rate_limiter, source_of

PRINCIPAL_KEY: Final = "acso_principal"
PRINCIPAL_NAME_KEY: Final = "acso_principal_name"
STREAM_PATH: Final = "/v1/stream"
# The subprotocol a WebSocket client offers before its token; the stream handler must select it
# (`web.WebSocketResponse(protocols=[STREAM_SUBPROTOCOL])`) or browsers close the connection.
STREAM_SUBPROTOCOL: Final = "bearer"
ACCESS_TOKEN_PARAM: Final = "access_token"  # noqa: S105 - a parameter name, not a secret

log = get_logger("acso.auth")


def issuer_for(settings: ServiceSettings) -> str:
    """The `iss` tokens must carry: configured, or the Cognito pool's URL."""
    if settings.jwt_issuer:
        return settings.jwt_issuer
    return f"https://cognito-idp.{settings.aws_region}.amazonaws.com/{settings.cognito_user_pool_id}"


def jwks_url_for(settings: ServiceSettings) -> str:
    """Where the signing keys are fetched: configured, or under the issuer."""
    return settings.jwks_url or f"{issuer_for(settings)}/.well-known/jwks.json"


def build_token_verifier(settings: ServiceSettings) -> TokenVerifier:
    """A verifier for the user app client's and the machine client's access tokens."""
    client_ids = frozenset(c for c in (settings.cognito_app_client_id, settings.cognito_machine_client_id) if c)
    if not settings.cognito_user_pool_id and not settings.jwt_issuer:
        raise ValueError("ACSO_COGNITO_USER_POOL_ID or ACSO_JWT_ISSUER must be set")
    if not client_ids:
        raise ValueError("ACSO_COGNITO_APP_CLIENT_ID must be set")
    url = jwks_url_for(settings)

    async def fetch_jwks() -> Mapping[str, Any]:
        timeout = aiohttp.ClientTimeout(total=5)
        for attempt in range(3):
            try:
                async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
                    response.raise_for_status()
                    document: Mapping[str, Any] = await response.json(content_type=None)
                    return document
            except (aiohttp.ClientError, TimeoutError):
                if attempt == 2:
                    raise
                await asyncio.sleep(0.3 * (attempt + 1))
        raise AssertionError("unreachable")

    return TokenVerifier(TokenPolicy(issuer=issuer_for(settings), client_ids=client_ids), fetch_jwks)


def principal_of(request: web.Request) -> Principal:
    """The authenticated caller; only called by handlers of non-public routes."""
    principal = request.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        raise Unauthorized("token_missing", "authentication required")
    return principal


def route_template(request: web.Request) -> str | None:
    """The matched route's template (`/v1/incidents/{id}`), or None when nothing matched."""
    route = request.match_info.route
    resource = route.resource
    if resource is None or request.match_info.http_exception is not None:
        return None
    return resource.canonical


def request_token(method: str, template: str | None, headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """The bearer token of a request: the Authorization header, or for `GET /v1/stream` only, the
    `bearer, <token>` subprotocol pair or the `access_token` query parameter.
    """
    authorization = headers.get("Authorization")
    if authorization or method != "GET" or template != STREAM_PATH:
        return bearer_token(authorization)
    offered = [p.strip() for p in headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if STREAM_SUBPROTOCOL in offered:
        position = offered.index(STREAM_SUBPROTOCOL)
        if position + 1 < len(offered):
            return offered[position + 1]
    token = query.get(ACCESS_TOKEN_PARAM, "").strip()
    if token:
        return token
    raise Unauthorized("token_missing", "a bearer token is required (header, subprotocol or access_token)")


def audit_result(status: int) -> AuditResult:
    """How an HTTP status reads in the audit log."""
    if status in (401, 403):
        return AuditResult.DENIED
    return AuditResult.SUCCESS if status < 400 else AuditResult.FAILURE


def request_entry(request: web.Request, principal: Principal, rule: Rule, source: str, status: int) -> AuditEntry:
    """The audit entry of one call of a mutating route: who, what, on what, from where, outcome."""
    return AuditEntry(
        occurred_at=datetime.now(UTC),
        actor=principal.display_name,
        actor_kind=ActorKind.USER if principal.kind is PrincipalKind.USER else ActorKind.MACHINE,
        action=f"{rule.method.value} {rule.path}",
        target=request.path,
        source_ip=source,
        request_id=request.get("acso_request_id"),
        result=audit_result(status),
        details={
            "permission": rule.permission,
            "status": status,
            "subject": principal.subject,
            "auth_method": principal.auth_method.value,
            "params": dict(request.match_info),
        },
    )


class _Gate:
    """The state the middleware shares across requests of one app."""

    def __init__(self, runtime: AgentRuntime, limiter: RateLimiter, verifier: TokenVerifier) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.verifier = verifier
        self.limiter = limiter
        self.audit = AuditLog(runtime.db)

    async def record(self, request: web.Request, rule: Rule, source: str, status: int) -> None:
        principal = request.get(PRINCIPAL_KEY)
        if not isinstance(principal, Principal):
            return
        try:
            await self.audit.append(request_entry(request, principal, rule, source, status))
        except Exception as err:
            # The action already happened; failing the response now would invite a retry that
            # repeats it. The gap is loud instead: an error line, and the chain stays intact.
            log.error("audit_append_failed", action=f"{rule.method.value} {rule.path}", error=type(err).__name__)

    async def run_audited(self, request: web.Request, handler: Any, rule: Rule, source: str) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except AcsoError as err:
            await self.record(request, rule, source, err.status)
            raise
        except web.HTTPException as exc:
            await self.record(request, rule, source, exc.status)
            raise
        except Exception:
            await self.record(request, rule, source, 500)
            raise
        await self.record(request, rule, source, response.status)
        return response


def build_auth_middleware(
    runtime: AgentRuntime, endpoints: list[Endpoint], verifier: TokenVerifier | None = None
) -> Any:
    """Authenticate, rate-limit, authorize and audit every non-public request."""
    gate = _Gate(runtime, build_rate_limiter(runtime.settings), verifier or build_token_verifier(runtime.settings))
    public = {(e.method, e.path) for e in endpoints if e.public}

    @web.middleware
    async def auth_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        template = route_template(request)
        if (request.method, template) in public or is_public(request.method, request.path):
            response: web.StreamResponse = await handler(request)
            return response
        rule = rule_for(request.method, template) if template else None
        source = source_of(request, gate.settings)
        if rule is not None and rule.auth is AuthMethod.WEBHOOK_HMAC:
            gate.limiter.check(None, source)
            return await gate.run_audited(request, handler, rule, source)
        try:
            principal = await gate.verifier.verify(
                request_token(request.method, template, request.headers, request.query)
            )
        except Unauthorized:
            gate.limiter.check(None, source)
            raise
        gate.limiter.check(principal.subject, source)
        request[PRINCIPAL_KEY] = principal
        request[PRINCIPAL_NAME_KEY] = principal.display_name
        wrong_method = request.match_info.http_exception
        if isinstance(wrong_method, web.HTTPMethodNotAllowed):
            # The caller is authenticated: telling them the route exists with other methods is fine.
            raise method_not_allowed(request.method, wrong_method.allowed_methods)
        try:
            authorize(principal, request.method, template or request.path)
        except Forbidden:
            if rule is not None and rule.mutating:
                await gate.record(request, rule, source, Forbidden.status)
            raise
        if rule is not None and rule.mutating:
            return await gate.run_audited(request, handler, rule, source)
        response = await handler(request)
        return response

    return auth_middleware


async def load_webhook_secrets(runtime: AgentRuntime, secret_id: str) -> list[str]:
    """An integration's signing secrets from Secrets Manager: the JSON keys `signing_secret` and,
    while rotating, `previous_signing_secret`. A missing or empty secret is a configuration error.
    """
    client = await runtime.clients.client("secretsmanager")
    try:
        value = await client.get_secret_value(SecretId=secret_id)
    except Exception as err:
        translated = translate_aws_error(err, "secretsmanager:GetSecretValue")
        # The caller must not learn which secrets exist: every failure reads the same.
        raise Unavailable("webhook_not_configured", "the integration's signing secret is unavailable") from translated
    try:
        document = json.loads(value.get("SecretString") or "{}")
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    return [s for s in (document.get("signing_secret"), document.get("previous_signing_secret")) if s]


async def authenticate_webhook(request: web.Request, integration: str, secrets: Sequence[str | bytes]) -> Principal:
    """Verify a signed webhook (`X-ACSO-Signature`, see `acso_shared.auth.webhooks`) exactly once,
    authorize the integration for this route, and return its principal.

    The handler of a webhook route calls this before it parses the body; the replay key is claimed
    in the shared idempotency table, so a delivery is accepted once across every instance.
    """
    runtime = request.app[RUNTIME]
    verifier = WebhookVerifier(lambda key, _expires_at: runtime.idempotency.claim_once(key))
    body = await request.read()
    principal = await verifier.verify(integration, request.headers.get(SIGNATURE_HEADER), body, secrets)
    request[PRINCIPAL_KEY] = principal
    request[PRINCIPAL_NAME_KEY] = principal.display_name
    authorize(principal, request.method, route_template(request) or request.path)
    return principal


class Identity(BaseModel):
    """`GET /v1/me`: who the caller is, as the API sees them."""

    subject: str
    username: str | None = None
    kind: PrincipalKind
    auth_method: AuthMethod
    roles: list[str] = Field(description="Cognito groups that name an ACSO role")
    scopes: list[str] = Field(description="OAuth scopes (machine clients)")
    client_id: str | None = None
    expires_at: int | None = Field(default=None, description="token expiry, seconds since the epoch")
    permissions: list[str] = Field(description="every permission of the matrix the caller holds")


def me_router() -> ApiRouter:
    """The `GET /v1/me` route every service serves."""
    router = ApiRouter("identity")

    @router.route("GET", "/v1/me", summary="The caller's identity and permissions", response=Identity)
    async def me(request: web.Request) -> web.Response:
        principal = principal_of(request)
        return json_response(
            Identity(
                subject=principal.subject,
                username=principal.username,
                kind=principal.kind,
                auth_method=principal.auth_method,
                roles=sorted(r.value for r in principal.roles),
                scopes=sorted(principal.scopes),
                client_id=principal.client_id,
                expires_at=principal.expires_at,
                permissions=permissions_for(principal),
            )
        )

    return router
