"""The service app factory: middlewares, health, OpenAPI and the runtime's lifecycle in one place."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from acso_shared.runtime import AgentRuntime
from acso_shared.tracing import trace_middleware
from acso_shared.web.api import ApiRouter, Endpoint, json_response
from acso_shared.web.keys import AGENT_NAME, ENDPOINTS, RUNTIME, SERVICE_VERSION, TOKEN_VERIFIER
from acso_shared.web.middlewares import (
    body_limit_middleware,
    error_middleware,
    request_context_middleware,
    security_headers_middleware,
    text_middleware,
)
from acso_shared.web.openapi import build_openapi
from acso_shared.web.protocol import install_json_protocol_errors

Middleware = Callable[..., Any]


class Health(BaseModel):
    status: str
    agent: str
    version: str


class AwsCalls(BaseModel):
    agent: str
    instance_id: str
    total: int
    calls: dict[str, int]
    errors: dict[str, int]


class Readiness(BaseModel):
    status: str
    agent: str
    checks: dict[str, bool]


def _health_router() -> ApiRouter:
    router = ApiRouter("health")

    @router.route("GET", "/healthz", summary="Liveness: the process answers", response=Health, public=True)
    async def healthz(request: web.Request) -> web.Response:
        runtime = request.app[RUNTIME]
        return json_response(Health(status="alive", agent=runtime.agent.value, version=runtime.version))

    @router.route(
        "GET", "/readyz", summary="Readiness: dependencies reachable", response=Readiness, errors=(503,), public=True
    )
    async def readyz(request: web.Request) -> web.Response:
        runtime = request.app[RUNTIME]
        if runtime.status != "ready":
            checks = {"accepting": False}
        else:
            # Ready means a request could be served: that needs the token signing keys too.
            checks, keys = await asyncio.gather(runtime.readiness(), request.app[TOKEN_VERIFIER].ensure_keys())
            checks["signing_keys"] = keys
        ready = all(checks.values())
        body = Readiness(status="ready" if ready else "not_ready", agent=runtime.agent.value, checks=checks)
        return json_response(body, status=200 if ready else 503)

    @router.route(
        "GET", "/v1/aws-calls", summary="This process's AWS calls so far, by service and operation", response=AwsCalls
    )
    async def aws_calls(request: web.Request) -> web.Response:
        runtime = request.app[RUNTIME]
        counter = runtime.clients.calls
        body = AwsCalls(
            agent=runtime.agent.value,
            instance_id=runtime.instance_id,
            total=counter.total,
            calls=counter.snapshot(),
            errors=counter.errors(),
        )
        return json_response(body)

    @router.route("GET", "/openapi.json", summary="This service's OpenAPI document", public=True)
    async def openapi(request: web.Request) -> web.Response:
        app = request.app
        return json_response(build_openapi(f"ACSO {app[AGENT_NAME]}", app[SERVICE_VERSION], app[ENDPOINTS]))

    return router


def build_service_app(
    runtime: AgentRuntime,
    routers: Iterable[ApiRouter],
    *,
    extra_middlewares: Iterable[Middleware] = (),
) -> web.Application:
    """An aiohttp app for `runtime`'s agent: the shared middlewares, `/healthz`, `/readyz`, `/openapi.json`."""
    from acso_shared.web.auth import build_auth_middleware, build_token_verifier, me_router
    from acso_shared.web.security import build_cors_middleware

    settings = runtime.settings
    verifier = build_token_verifier(settings)
    endpoints: list[Endpoint] = []
    all_routers = [_health_router(), me_router(), *routers]
    for router in all_routers:
        endpoints.extend(router.endpoints)
    middlewares: list[Middleware] = [
        request_context_middleware,
        trace_middleware,
        build_cors_middleware(settings),
        error_middleware,
        security_headers_middleware,
        body_limit_middleware,
        text_middleware,
        build_auth_middleware(runtime, endpoints, verifier),
        *extra_middlewares,
    ]
    app = web.Application(middlewares=middlewares, client_max_size=settings.max_body_bytes)
    install_json_protocol_errors(app)
    app[RUNTIME] = runtime
    app[AGENT_NAME] = runtime.agent.value
    app[SERVICE_VERSION] = runtime.version
    app[ENDPOINTS] = endpoints
    app[TOKEN_VERIFIER] = verifier
    for router in all_routers:
        router.register(app)

    async def runtime_context(app: web.Application) -> AsyncIterator[None]:
        await runtime.start()
        # Fetch the signing keys now, so the first requests find them (they would wait for it).
        prefetch = asyncio.create_task(verifier.ensure_keys(), name="jwks-prefetch")
        yield
        prefetch.cancel()
        await runtime.stop()

    async def on_shutdown(app: web.Application) -> None:
        await runtime.begin_shutdown()

    app.cleanup_ctx.append(runtime_context)
    app.on_shutdown.append(on_shutdown)
    return app
