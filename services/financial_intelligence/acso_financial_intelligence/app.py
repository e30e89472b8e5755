"""The financial-intelligence service's app factory."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from acso_financial_intelligence import __version__
from acso_financial_intelligence.imports import ImportService
from acso_financial_intelligence.keys import FINANCE, IMPORTS
from acso_financial_intelligence.routes import router
from acso_financial_intelligence.service import FinanceService
from acso_financial_intelligence.settings import Settings
from acso_financial_intelligence.tasks import task_handlers
from acso_shared.db.registry import agent_migrations
from acso_shared.logging import get_logger
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.app import build_service_app

log = get_logger("acso.finance")


def create_app(settings: Settings) -> web.Application:
    """The service: cost routes, the task handlers, a start-up refresh when the cache is stale."""
    # The import route is the only one with a body and streams it under its own bound
    # (cost_import_max_bytes); the app-wide limit must not refuse the upload first.
    app_settings = settings.model_copy(
        update={"max_body_bytes": max(settings.max_body_bytes, settings.cost_import_max_bytes)}
    )
    runtime = AgentRuntime(
        app_settings,
        Agent.FINANCIAL_INTELLIGENCE,
        __version__,
        migrations=agent_migrations(Agent.FINANCIAL_INTELLIGENCE),
    )
    service = FinanceService(runtime, settings)

    async def analyze() -> object:
        return await service.analyze(datetime.now(UTC))

    imports = ImportService(
        service.store, max_bytes=settings.cost_import_max_bytes, spool_dir=settings.cost_import_dir, analyze=analyze
    )
    runtime.add_handlers(task_handlers(service))

    async def refresh_in_background() -> None:
        try:
            await service.refresh_if_stale(datetime.now(UTC))
        except Exception:
            # Cost Explorer being unreachable must not keep the service from serving cached data.
            log.exception("startup_refresh_failed")

    async def on_start(_: AgentRuntime) -> None:
        interrupted = await service.store.fail_interrupted_imports()
        if interrupted:
            log.warning("cost_imports_interrupted", count=interrupted)
        if settings.cost_refresh_on_start:
            runtime.run_in_background("cost-refresh-on-start", refresh_in_background())

    async def on_stop(_: AgentRuntime) -> None:
        await imports.close()

    runtime.on_start(on_start)
    runtime.on_stop(on_stop)
    app = build_service_app(runtime, [router])
    app[FINANCE] = service
    app[IMPORTS] = imports
    return app
