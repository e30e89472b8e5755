"""Helpers shared by the security specs: service apps with test settings, JWT pieces."""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any

from aiohttp import web

from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.settings import ServiceSettings
from acso_shared.web.api import ApiRouter
from acso_shared.web.app import build_service_app
from tests.support.stack import TestStack

# Tests fire many requests from one address; the limits themselves have their own spec.
UNLIMITED = {
    "rate_limit_principal_burst": 100_000,
    "rate_limit_principal_per_s": 10_000.0,
    "rate_limit_source_burst": 100_000,
    "rate_limit_source_per_s": 10_000.0,
}


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified (to copy a real token's claims into a forged one)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def service_app(stack: TestStack, agent: Agent, **overrides: Any) -> web.Application:
    """`agent`'s real app, built by its own factory with test settings."""
    factory = importlib.import_module(f"acso_{agent.value}.app").create_app
    settings_cls = importlib.import_module(f"acso_{agent.value}.settings").Settings
    values = {**UNLIMITED, **overrides}
    if agent is Agent.SUPERVISOR:
        values.setdefault("ping_interval_s", 3600)
        values.setdefault("ping_timeout_s", 0.5)
    app: web.Application = factory(stack.service_settings(settings_cls, **values))
    return app


def bare_app(stack: TestStack, router: ApiRouter, **overrides: Any) -> web.Application:
    """A service app carrying only `router` (plus health and /v1/me), through the shared factory,
    for routes the matrix declares whose real handlers other services own."""
    settings = stack.service_settings(ServiceSettings, **{**UNLIMITED, **overrides})
    runtime = AgentRuntime(settings, Agent.SERVICE_ORCHESTRATION, "0.0.0-test")
    return build_service_app(runtime, [router])
