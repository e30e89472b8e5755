"""Running a service process: `python -m acso_<agent>` calls `serve`."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from acso_shared.logging import configure_logging
from acso_shared.resources import Agent
from acso_shared.settings import ServiceSettings
from acso_shared.tracing import configure_tracing


def serve(agent: Agent, settings: ServiceSettings, create_app: Callable[[ServiceSettings], web.Application]) -> None:
    """Serve until SIGTERM/SIGINT, then drain: readiness 503, consumers finish or return messages."""
    configure_logging(settings, agent=agent.value)
    configure_tracing(settings, f"acso-{agent.kebab}")
    app = create_app(settings)
    web.run_app(
        app,
        host=settings.service_host,
        port=settings.port_for(agent),
        access_log=None,
        print=None,
        shutdown_timeout=settings.shutdown_grace_s,
        handle_signals=True,
    )
