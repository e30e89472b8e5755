"""The service-orchestration service's app factory."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from acso_service_orchestration import __version__
from acso_service_orchestration.itsm.credentials import SecretsManagerReader
from acso_service_orchestration.itsm.http import RetryPolicy
from acso_service_orchestration.keys import CHANGE_SYNC, INBOUND, OPERATIONS, SYNC, TICKET_STORE
from acso_service_orchestration.operations.change_store import ChangeRequestStore
from acso_service_orchestration.operations.change_sync import ChangeRequestSync
from acso_service_orchestration.operations.service import OperationsService
from acso_service_orchestration.operations.ssm import SsmRunner
from acso_service_orchestration.operations.store import OperationStore
from acso_service_orchestration.reasoning import ChangeRequestWriter
from acso_service_orchestration.routes import router
from acso_service_orchestration.settings import Settings
from acso_service_orchestration.tickets.inbound import InboundService
from acso_service_orchestration.tickets.integrations import IntegrationRegistry
from acso_service_orchestration.tickets.store import TicketStore
from acso_service_orchestration.tickets.sync import TicketSyncService
from acso_shared.auth.webhooks import WebhookVerifier
from acso_shared.aws.compliance import ComplianceReader
from acso_shared.contracts import OPERATION_REQUEST, TICKET_SYNC
from acso_shared.db.registry import agent_migrations
from acso_shared.llm.records import publish_usage
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.app import build_service_app


class _LazySecrets:
    """Secrets Manager reads through the runtime's shared client, created on first use."""

    def __init__(self, runtime: AgentRuntime) -> None:
        self._runtime = runtime
        self._reader: SecretsManagerReader | None = None

    async def read(self, secret_id: str) -> str:
        if self._reader is None:
            self._reader = SecretsManagerReader(await self._runtime.clients.client("secretsmanager"))
        return await self._reader.read(secret_id)

    def forget(self, secret_id: str) -> None:
        if self._reader is not None:
            self._reader.forget(secret_id)


def create_app(settings: Settings) -> web.Application:
    runtime = AgentRuntime(
        settings, Agent.SERVICE_ORCHESTRATION, __version__, migrations=agent_migrations(Agent.SERVICE_ORCHESTRATION)
    )

    async def claim_replay(key: str, expires_at: int) -> bool:
        return await runtime.idempotency.claim_once(key)

    registry = IntegrationRegistry(
        settings.itsm_integrations,
        _LazySecrets(runtime),
        WebhookVerifier(claim_replay),
        RetryPolicy(
            max_attempts=settings.itsm_http_attempts,
            base_delay_s=settings.itsm_http_base_delay_s,
            max_delay_s=max(settings.itsm_http_base_delay_s * 8, 0.001),
            timeout_s=settings.itsm_http_timeout_s,
        ),
    )
    ticket_store = TicketStore(runtime.db)
    sync = TicketSyncService(
        ticket_store,
        registry,
        runtime.instance_id,
        lease_s=settings.itsm_lease_s,
        retry_base_s=settings.itsm_retry_base_s,
        retry_max_s=settings.itsm_retry_max_s,
    )

    async def to_incident_response(envelope: Envelope) -> str:
        return await runtime.send_task(Agent.INCIDENT_RESPONSE, envelope)

    inbound = InboundService(
        ticket_store, registry, to_incident_response, runtime.idempotency.claim_once, Agent.SERVICE_ORCHESTRATION.value
    )

    async def ec2() -> Any:
        return await runtime.clients.client("ec2")

    async def ssm() -> Any:
        return await runtime.clients.client("ssm")

    writer = ChangeRequestWriter(
        runtime.reasoning,
        lambda outcome: publish_usage(
            runtime.clients, f"acso-{settings.env}/reasoning", Agent.SERVICE_ORCHESTRATION.value, outcome
        ),
    )
    operation_store = OperationStore(runtime.db)
    change_sync = ChangeRequestSync(
        ChangeRequestStore(runtime.db),
        operation_store,
        registry,
        runtime.instance_id,
        windows=lambda: settings.operations_maintenance_windows,
        lease_s=settings.itsm_lease_s,
        retry_base_s=settings.itsm_retry_base_s,
        retry_max_s=settings.itsm_retry_max_s,
    )
    operations = OperationsService(
        settings,
        operation_store,
        ec2,
        SsmRunner(
            ssm,
            poll_interval_s=settings.operations_poll_interval_s,
            instance_timeout_s=settings.operations_instance_timeout_s,
        ),
        ComplianceReader.for_settings(runtime.clients, settings),
        to_incident_response,
        runtime.instance_id,
        write_change_request=writer.write,
        on_change=change_sync.changed,
    )
    runtime.add_handlers({TICKET_SYNC: sync.handle_ticket_sync, OPERATION_REQUEST: operations.handle_operation_request})

    async def start_loops(_: AgentRuntime) -> None:
        runtime.run_every("itsm-retry", settings.itsm_retry_poll_s, sync.retry_due)
        runtime.run_every("operations-scheduler", settings.operations_scheduler_interval_s, operations.schedule_once)
        if change_sync.enabled:
            runtime.run_every("itsm-change-retry", settings.itsm_retry_poll_s, change_sync.retry_due)

    async def stop_loops(_: AgentRuntime) -> None:
        await operations.stop()
        await change_sync.stop()
        await registry.aclose()

    runtime.on_start(start_loops)
    runtime.on_stop(stop_loops)
    app = build_service_app(runtime, [router])
    app[TICKET_STORE] = ticket_store
    app[SYNC] = sync
    app[INBOUND] = inbound
    app[OPERATIONS] = operations
    app[CHANGE_SYNC] = change_sync
    return app
