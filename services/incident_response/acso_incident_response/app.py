"""The incident-response service's app factory."""

from __future__ import annotations

from aiohttp import web

from acso_incident_response import __version__, outbox
from acso_incident_response.actions.network import ensure_ip_set
from acso_incident_response.approvals import Approvals
from acso_incident_response.delegation import Delegations
from acso_incident_response.executor import Executor
from acso_incident_response.incidents import Incidents
from acso_incident_response.keys import APPROVALS, EXECUTOR, INCIDENTS, REASONER
from acso_incident_response.planning import ACTION_EXECUTE, Planner
from acso_incident_response.playbook import load_playbooks
from acso_incident_response.reasoning import IncidentReasoner
from acso_incident_response.routes import router
from acso_incident_response.settings import Settings
from acso_shared.aws.compliance import ComplianceReader
from acso_shared.contracts import (
    INCIDENT_ALERT_RESOLVED,
    INCIDENT_ALERTS_UPDATED,
    INCIDENT_EXTERNAL_UPDATE,
    OPERATION_RESULT,
    RESPONSE_REQUEST,
)
from acso_shared.db.registry import agent_migrations
from acso_shared.llm.records import publish_usage
from acso_shared.logging import get_logger
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.app import build_service_app

log = get_logger("acso.incident_response")


def create_app(settings: Settings) -> web.Application:
    """The service: REST API, the task-queue handlers, the outbox pump and the sweepers (approval expiry,
    delegated-action timeouts)."""
    runtime = AgentRuntime(
        settings, Agent.INCIDENT_RESPONSE, __version__, migrations=agent_migrations(Agent.INCIDENT_RESPONSE)
    )
    # Filled at start: the WAF block list is provisioned then (it needs the AWS clients).
    waf_set: list[str] = []
    pump = outbox.OutboxPump(runtime, settings.sweep_interval_s)
    planner = Planner(runtime, settings, load_playbooks(), waf_set, pump)
    reasoner = IncidentReasoner(
        runtime.reasoning,
        runtime.db,
        planner,
        lambda outcome: publish_usage(
            runtime.clients, f"acso-{settings.env}/reasoning", Agent.INCIDENT_RESPONSE.value, outcome
        ),
        planner.context,
    )
    planner.after_planning = reasoner.plan
    executor = Executor(runtime, settings, planner, pump)

    compliance = ComplianceReader.for_settings(runtime.clients, settings)
    incidents = Incidents(runtime, settings, pump, compliance)
    approvals = Approvals(runtime, pump)
    delegations = Delegations(runtime, settings, executor, pump)
    runtime.add_handlers(
        {
            RESPONSE_REQUEST: planner.handle,
            ACTION_EXECUTE: executor.handle,
            INCIDENT_ALERTS_UPDATED: incidents.handle_alerts_updated,
            INCIDENT_ALERT_RESOLVED: incidents.handle_alert_resolved,
            INCIDENT_EXTERNAL_UPDATE: incidents.handle_external_update,
            OPERATION_RESULT: delegations.handle_result,
        }
    )

    async def summarise_due() -> None:
        await reasoner.summarise_due(debounce_s=settings.summary_debounce_s, lease_s=settings.summary_lease_s)

    async def start(_: AgentRuntime) -> None:
        waf_set.append(await ensure_ip_set(runtime.clients, settings.ip_set_name, settings.waf_scope))
        await executor.start()
        pump.start()
        runtime.run_every("approval-sweeper", settings.sweep_interval_s, approvals.expire_overdue)
        runtime.run_every("delegated-action-timeouts", settings.sweep_interval_s, delegations.expire_overdue)
        runtime.run_every("benign-closer", max(settings.sweep_interval_s, 60.0), incidents.close_benign)
        # Its own loop: a slow model must not hold up approval expiry.
        runtime.run_every("incident-summaries", settings.sweep_interval_s, summarise_due)

    async def stop(_: AgentRuntime) -> None:
        await pump.stop()
        await executor.stop()

    runtime.on_start(start)
    runtime.on_stop(stop)
    app = build_service_app(runtime, [router])
    app[INCIDENTS] = incidents
    app[EXECUTOR] = executor
    app[APPROVALS] = approvals
    app[REASONER] = reasoner
    return app
