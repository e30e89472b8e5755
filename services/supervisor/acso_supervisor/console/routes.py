"""The web console: its page and assets, its login endpoints and a same-origin proxy to the five APIs.

Every route here is public to the auth middleware, because a browser loads a page without a token;
the page then holds the user's Cognito tokens in memory and sends them with each API call. The
proxy forwards only calls that carry a bearer token, and the service behind it verifies and
authorizes the token as it does for any caller: the console adds no rights of its own.

Why a proxy and not CORS: in AWS only the supervisor is reachable from outside (API Gateway and its
VPC link lead to the supervisor's ALB listener); the other agents' listeners are internal. Going
through `/console/api/<agent>/...` works the same locally and there, and the page's CSP can stay
`connect-src 'self'`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import aiohttp
from aiohttp import web
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

from acso_shared.aws.clients import error_code
from acso_shared.errors import Forbidden, NotFound, Unauthorized, Upstream
from acso_shared.resources import Agent
from acso_shared.web.api import ApiRouter, json_response, parse_body
from acso_shared.web.keys import ENDPOINTS, RUNTIME
from acso_shared.web.middlewares import REQUEST_ID_KEY
from acso_supervisor.console.settings import ConsoleSettings, upstream_ports

STATIC_DIR: Final = Path(__file__).parent / "static"
ASSET_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9_-]*\.(js|css|svg)$")
CONTENT_TYPES: Final = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
PROXY_PREFIX: Final = "/console/api"
PROXY_DEPTH: Final = 4  # /v1/incidents/{id}/actions/{action_id}/revert is the deepest API path
FORWARDED_REQUEST_HEADERS: Final = ("Authorization", "Content-Type", "Accept", "If-Match")
FORWARDED_RESPONSE_HEADERS: Final = ("Content-Type", "Retry-After", "X-Request-Id")
# A page asks for something that may not exist yet (an incident's cost impact, the cost report before
# any import) with this header: a 404 then comes back as 200 {"absent": true, "error": ...}, so the
# browser does not log an expected absence as a failed load.
ABSENT_OK_HEADER: Final = "X-ACSO-Absent-Ok"

CONSOLE_SETTINGS = web.AppKey("console_settings", ConsoleSettings)
UPSTREAM = web.AppKey("console_upstream", aiohttp.ClientSession)
AGENTS_BY_SLUG: Final = {agent.kebab: agent for agent in Agent}

router = ApiRouter("console")


class ConsoleConfig(BaseModel):
    """What the page needs before login: how to log in and where the APIs and the stream are."""

    login: str
    region: str
    client_id: str
    hosted_ui_domain: str
    redirect_uri: str
    stream_url: str
    # Relative, as every URL of the page and its scripts: in AWS the console sits under the REST
    # API's stage path (`https://<id>.execute-api.<region>.amazonaws.com/<stage>/`).
    api_prefix: str = PROXY_PREFIX.lstrip("/")
    services: list[str]


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=8192)


class TokenSet(BaseModel):
    access_token: str
    id_token: str | None = None
    refresh_token: str | None = None
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 (the OAuth token type, not a secret)


def content_security_policy(request: web.Request, settings: ConsoleSettings) -> str:
    """Scripts, styles and images from this origin only (no inline code); API calls to this origin
    and its WebSocket; the Hosted UI's token endpoint when that is how users log in."""
    scheme = "wss" if request.secure else "ws"
    connect = ["'self'", f"{scheme}://{request.host}"]
    if settings.stream_url:
        connect.append(str(URL(settings.stream_url).origin()))
    if settings.login == "hosted_ui" and settings.hosted_ui_domain:
        connect.append(settings.hosted_ui_domain.rstrip("/"))
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {' '.join(connect)}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def _settings(request: web.Request) -> ConsoleSettings:
    settings = request.app[CONSOLE_SETTINGS]
    if not settings.enabled:
        raise NotFound("console_disabled", "the console is turned off (ACSO_CONSOLE_ENABLED=false)")
    return settings


@router.route("GET", "/", summary="The web console", public=True)
async def index(request: web.Request) -> web.StreamResponse:
    settings = _settings(request)
    response = web.Response(body=(STATIC_DIR / "index.html").read_bytes(), content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = content_security_policy(request, settings)
    return response


@router.route("GET", "/console/{asset}", summary="A script, style sheet or image of the console", public=True)
async def asset(request: web.Request) -> web.StreamResponse:
    settings = _settings(request)
    name = request.match_info["asset"]
    path = STATIC_DIR / name
    if not ASSET_NAME.match(name) or not path.is_file():
        raise NotFound("console_asset_not_found", f"no console asset {name!r}")
    response = web.Response(body=path.read_bytes(), content_type=CONTENT_TYPES[name.rsplit(".", 1)[1]])
    response.headers["Content-Security-Policy"] = content_security_policy(request, settings)
    return response


@router.route("GET", "/console/session/config", summary="How the console logs in", response=ConsoleConfig, public=True)
async def config(request: web.Request) -> web.Response:
    settings = _settings(request)
    runtime = request.app[RUNTIME]
    return json_response(
        ConsoleConfig(
            login=settings.login,
            region=runtime.settings.aws_region,
            client_id=runtime.settings.cognito_app_client_id,
            hosted_ui_domain=settings.hosted_ui_domain.rstrip("/"),
            redirect_uri=settings.redirect_uri,
            stream_url=settings.stream_url,
            services=[agent.kebab for agent in Agent],
        )
    )


async def _initiate_auth(request: web.Request, flow: str, parameters: dict[str, str]) -> TokenSet:
    runtime = request.app[RUNTIME]
    idp = await runtime.clients.client("cognito-idp")
    try:
        answer = await idp.initiate_auth(
            ClientId=runtime.settings.cognito_app_client_id, AuthFlow=flow, AuthParameters=parameters
        )
    except ClientError as err:
        if error_code(err) in ("NotAuthorizedException", "UserNotFoundException", "PasswordResetRequiredException"):
            raise Unauthorized("login_failed", "the username or password is wrong, or the session expired") from err
        raise Upstream("login_unavailable", f"Cognito refused the login: {error_code(err)}") from err
    result = answer.get("AuthenticationResult")
    if not result:
        # A challenge (new password, MFA) is answered in the Hosted UI, not in this form.
        raise Unauthorized("login_challenge", f"Cognito asks for {answer.get('ChallengeName', 'a challenge')}")
    return TokenSet(
        access_token=result["AccessToken"],
        id_token=result.get("IdToken"),
        refresh_token=result.get("RefreshToken") or parameters.get("REFRESH_TOKEN"),
        expires_in=int(result.get("ExpiresIn", 3600)),
    )


@router.route(
    "POST",
    "/console/session/login",
    summary="Log in with a username and password (Cognito USER_PASSWORD_AUTH; local demo users)",
    request=LoginRequest,
    response=TokenSet,
    errors=(400, 401, 403),
    public=True,
)
async def login(request: web.Request) -> web.Response:
    if _settings(request).login != "password":
        raise Forbidden("password_login_disabled", "this deployment logs in through the Cognito Hosted UI")
    body = await parse_body(request, LoginRequest)
    tokens = await _initiate_auth(request, "USER_PASSWORD_AUTH", {"USERNAME": body.username, "PASSWORD": body.password})
    return json_response(tokens)


@router.route(
    "POST",
    "/console/session/refresh",
    summary="New access token from a refresh token (Cognito REFRESH_TOKEN_AUTH)",
    request=RefreshRequest,
    response=TokenSet,
    errors=(400, 401),
    public=True,
)
async def refresh(request: web.Request) -> web.Response:
    _settings(request)
    body = await parse_body(request, RefreshRequest)
    return json_response(await _initiate_auth(request, "REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": body.refresh_token}))


async def proxy(request: web.Request) -> web.StreamResponse:
    """Forward an API call to the agent named in the path, with the caller's own token."""
    settings = _settings(request)
    agent = AGENTS_BY_SLUG.get(request.match_info["service"])
    if agent is None:
        raise NotFound("console_service_unknown", f"no agent {request.match_info['service']!r}")
    if not request.headers.get("Authorization"):
        raise Unauthorized("token_missing", "a bearer token is required")
    runtime = request.app[RUNTIME]
    port = (
        settings.upstream_ports.get(agent.kebab) or upstream_ports(runtime.settings.port_for(Agent.SUPERVISOR))[agent]
    )
    tail = request.rel_url.raw_path[len(f"{PROXY_PREFIX}/{agent.kebab}") :]
    query = f"?{request.rel_url.raw_query_string}" if request.rel_url.raw_query_string else ""
    url = URL(f"{settings.upstream_scheme}://{settings.upstream_host}:{port}{tail}{query}", encoded=True)
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
    headers["X-Request-Id"] = str(request.get(REQUEST_ID_KEY, ""))
    if request.remote:
        headers["X-Forwarded-For"] = request.remote
    body = await request.read()
    try:
        async with request.app[UPSTREAM].request(request.method, url, data=body or None, headers=headers) as upstream:
            payload = await upstream.read()
            forwarded = {n: upstream.headers[n] for n in FORWARDED_RESPONSE_HEADERS if n in upstream.headers}
            if upstream.status == 404 and request.headers.get(ABSENT_OK_HEADER) == "1":
                try:
                    error = json.loads(payload).get("error")
                except (ValueError, AttributeError):
                    error = None
                return json_response({"absent": True, "error": error})
            return web.Response(body=payload, status=upstream.status, headers=forwarded)
    except (aiohttp.ClientError, TimeoutError) as err:
        raise Upstream("console_upstream_unreachable", f"the {agent.value} API did not answer") from err


def _proxy_routes() -> None:
    for depth in range(1, PROXY_DEPTH + 1):
        path = PROXY_PREFIX + "/{service}/v1/" + "/".join(f"{{p{i}}}" for i in range(depth))
        for method in ("GET", "POST", "PATCH"):
            router.route(method, path, summary="The console's same-origin proxy to an agent's API", public=True)(proxy)


_proxy_routes()


def attach_console(app: web.Application, settings: ConsoleSettings | None = None) -> None:
    """The console's settings and its one HTTP client for the proxy (routes come with `router`)."""
    console = settings or ConsoleSettings()
    app[CONSOLE_SETTINGS] = console
    # The console is a page and its plumbing, not part of the API contract: the auth middleware has
    # taken its public routes already; the OpenAPI document (and its fuzzers) need not list them.
    app[ENDPOINTS][:] = [e for e in app[ENDPOINTS] if e.tag != router.tag]

    async def upstream_session(app: web.Application) -> AsyncIterator[None]:
        timeout = aiohttp.ClientTimeout(total=console.upstream_timeout_s)
        app[UPSTREAM] = aiohttp.ClientSession(timeout=timeout)
        yield
        await app[UPSTREAM].close()

    app.cleanup_ctx.append(upstream_session)


__all__: list[Any] = ["attach_console", "router"]
