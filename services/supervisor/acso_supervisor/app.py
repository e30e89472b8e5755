"""The supervisor's app factory."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from acso_shared.contracts import CONTAINMENT_RESULT, INCIDENT_STATUS, RESPONSE_RESULT, TRIAGE_RESULT
from acso_shared.db.registry import agent_migrations
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import PING_RESULT, AgentRuntime
from acso_shared.web.app import build_service_app
from acso_supervisor import __version__
from acso_supervisor.agents import AgentDirectory
from acso_supervisor.alert_routes import router as alert_router
from acso_supervisor.console import attach_console, console_router
from acso_supervisor.dlq import DlqConsole
from acso_supervisor.ingest import AlertIngestor
from acso_supervisor.keys import DIRECTORY, DLQ, ENGINE, HUB, INGESTOR
from acso_supervisor.routes import router
from acso_supervisor.settings import Settings
from acso_supervisor.stream import EventHub
from acso_supervisor.workflows import WorkflowEngine
from acso_supervisor.ws_gateway import attach_ws_gateway, ws_router

ALERT_INGEST = "alert.ingest"


def create_app(settings: Settings) -> web.Application:
    runtime = AgentRuntime(settings, Agent.SUPERVISOR, __version__, migrations=agent_migrations(Agent.SUPERVISOR))
    hub = EventHub()
    directory = AgentDirectory(runtime, ping_timeout_s=settings.ping_timeout_s)
    engine = WorkflowEngine(
        runtime, hub, step_timeout=timedelta(seconds=settings.step_timeout_s), max_attempts=settings.step_max_attempts
    )
    ingestor = AlertIngestor(
        runtime.db,
        engine,
        hub,
        window=timedelta(seconds=settings.dedup_window_s),
        max_batch=settings.alert_batch_max,
        send_task=runtime.send_task,
        cross_account=settings.correlate_across_accounts,
    )

    async def ingest_task(envelope: Envelope) -> dict[str, Any]:
        """Alerts raised by other agents and Lambdas (hunt hits, cost anomalies) enter the same flow.

        The payload is `{"alerts": [...], "evidence": {source alert id: [records]}}`; evidence is
        optional and stays with the stored alert.
        """
        payload = dict(envelope.payload)
        evidence = payload.pop("evidence", None) or {}
        results = await ingestor.ingest(ingestor.normalize(payload), evidence=evidence)
        return {"accepted": len(results)}

    runtime.add_handlers({ALERT_INGEST: ingest_task})
    # GuardDuty and Security Hub findings arrive through EventBridge rules, wrapped as alert.ingest.
    runtime.consume(runtime.manifest.findings_queue.name, {ALERT_INGEST: ingest_task})
    runtime.consume(
        runtime.manifest.results_queue.name,
        {
            PING_RESULT: directory.handle_ping_result,
            TRIAGE_RESULT: engine.handle_triage_result,
            RESPONSE_RESULT: engine.handle_response_result,
            CONTAINMENT_RESULT: engine.handle_containment_result,
            INCIDENT_STATUS: engine.handle_incident_status,
        },
    )

    async def start_background(_: AgentRuntime) -> None:
        runtime.run_every("ping-probe", settings.ping_interval_s, directory.probe)
        runtime.run_every("workflow-sweeper", settings.sweep_interval_s, engine.sweep)

    runtime.on_start(start_background)
    app = build_service_app(runtime, [router, alert_router, ws_router, console_router])
    attach_console(app)
    attach_ws_gateway(app, runtime, hub, settings)
    app[DIRECTORY] = directory
    app[DLQ] = DlqConsole(runtime)
    app[HUB] = hub
    app[ENGINE] = engine
    app[INGESTOR] = ingestor
    return app
