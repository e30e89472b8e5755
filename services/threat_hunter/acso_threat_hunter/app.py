"""The threat-hunter service's app factory."""

from __future__ import annotations

from aiohttp import web

from acso_shared.db.registry import agent_migrations
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.app import build_service_app
from acso_threat_hunter import __version__
from acso_threat_hunter.settings import Settings


def create_app(settings: Settings) -> web.Application:
    runtime = AgentRuntime(settings, Agent.THREAT_HUNTER, __version__, migrations=agent_migrations(Agent.THREAT_HUNTER))
    return build_service_app(runtime, [])
