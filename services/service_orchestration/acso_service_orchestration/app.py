"""The service-orchestration service's app factory."""

from __future__ import annotations

from aiohttp import web

from acso_service_orchestration import __version__
from acso_service_orchestration.settings import Settings
from acso_shared.db.registry import agent_migrations
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.app import build_service_app


def create_app(settings: Settings) -> web.Application:
    runtime = AgentRuntime(
        settings, Agent.SERVICE_ORCHESTRATION, __version__, migrations=agent_migrations(Agent.SERVICE_ORCHESTRATION)
    )
    return build_service_app(runtime, [])
