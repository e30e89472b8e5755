"""The threat-hunter service's app factory."""

from __future__ import annotations

from aiohttp import web

from acso_shared.db.registry import agent_migrations
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.app import build_service_app
from acso_threat_hunter import __version__
from acso_threat_hunter.components import Components
from acso_threat_hunter.keys import COMPONENTS
from acso_threat_hunter.routes import router
from acso_threat_hunter.settings import Settings


def create_app(settings: Settings) -> web.Application:
    """The app: intel, search, rules and hunts routes; triage, ingest and scheduled-hunt handlers."""
    runtime = AgentRuntime(settings, Agent.THREAT_HUNTER, __version__, migrations=agent_migrations(Agent.THREAT_HUNTER))
    components = Components(settings, runtime)
    runtime.add_handlers(components.handlers())
    runtime.on_start(components.start)
    runtime.on_stop(components.stop)
    app = build_service_app(runtime, [router])
    app[COMPONENTS] = components
    return app
