"""Inbound ticket changes: verify the ITSM's webhook, map it to the incident, forward it.

Authentication happens here, not in the shared middleware: the route is declared as an
HMAC-webhook route, so the adapter verifies the signature over the raw body (ACSO scheme with
replay protection, or Jira's `X-Hub-Signature`) before anything is parsed. Jira's own scheme
has no timestamp, so its deliveries are deduplicated on the delivery id instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping

from acso_service_orchestration.itsm.models import ItsmSystem
from acso_service_orchestration.tickets.integrations import IntegrationRegistry
from acso_service_orchestration.tickets.models import InboundAck
from acso_service_orchestration.tickets.store import TicketStore
from acso_shared.contracts import INCIDENT_EXTERNAL_UPDATE, IncidentExternalUpdate
from acso_shared.errors import AcsoError, NotFound, Unavailable
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope

log = get_logger("acso.orchestration.inbound")

SendUpdate = Callable[[Envelope], Awaitable[str]]
ClaimKey = Callable[[str], Awaitable[bool]]


class InboundService:
    """Turns authenticated ITSM webhooks into `incident.external_update` tasks."""

    def __init__(
        self, store: TicketStore, registry: IntegrationRegistry, send: SendUpdate, claim: ClaimKey, sender: str
    ) -> None:
        self._store = store
        self._registry = registry
        self._send = send
        self._claim = claim
        self._sender = sender

    async def receive(self, system_name: str, headers: Mapping[str, str], body: bytes) -> InboundAck:
        """Handle one delivery; raises Unauthorized (401) for a bad signature, Invalid (400) for a
        malformed body, NotFound (404) for an unconfigured system."""
        if not self._registry.is_configured(system_name):
            raise NotFound("itsm_not_configured", f"no {system_name} integration is configured")
        system = ItsmSystem(system_name)
        try:
            adapter = await self._registry.adapter(system)
        except AcsoError as err:
            # A missing or malformed secret is our configuration problem: the ITSM should retry later.
            log.error("itsm_adapter_unavailable", system=system.value, error=f"{err.code}: {err.message}")
            raise Unavailable("itsm_not_ready", f"the {system.value} integration is not usable now") from err
        update = await adapter.parse_inbound(headers, body)
        if update is None:
            return InboundAck(accepted=False, reason="no_change")
        if update.delivery_id is not None and not await self._claim(
            f"itsm-delivery:{system.value}:{update.delivery_id}"
        ):
            # Authentic but already handled (the ITSM retried after a timeout): acknowledge, do nothing.
            return InboundAck(accepted=False, reason="duplicate")
        if update.self_authored:
            return InboundAck(accepted=False, reason="self_authored")
        # The mapping table is the authority: a ticket ACSO did not open belongs to no incident.
        incident_id = await self._incident_of(system, update.incident_id, update.external_id)
        if incident_id is None:
            log.info("itsm_inbound_unknown_ticket", system=system.value, external_id=update.external_id)
            return InboundAck(accepted=False, reason="unknown_ticket")
        payload = IncidentExternalUpdate(
            incident_id=incident_id,
            system=system.value,
            external_id=update.external_id,
            status=update.new_status.value if update.new_status is not None else None,
            comment=update.comment,
            actor=update.actor,
            occurred_at=update.occurred_at,
        )
        digest = hashlib.sha256(body).hexdigest()[:32]
        envelope = Envelope.new(
            kind=INCIDENT_EXTERNAL_UPDATE,
            sender=self._sender,
            payload=payload.model_dump(mode="json"),
            # The same delivery forwarded twice is one update for the incident-response agent.
            idempotency_key=f"{INCIDENT_EXTERNAL_UPDATE}:{system.value}:{update.external_id}:{digest}",
        )
        await self._send(envelope)
        await self._store.record_inbound(incident_id, system, update.ticket_state, update.occurred_at)
        log.info("itsm_inbound_forwarded", system=system.value, incident_id=incident_id, status=payload.status)
        return InboundAck(accepted=True, reason="forwarded", incident_id=incident_id)

    async def _incident_of(self, system: ItsmSystem, claimed: str | None, external_id: str) -> str | None:
        """The incident of a ticket: the one the payload names if the mapping agrees, else the
        mapping's own answer for the external id."""
        if claimed:
            ref = await self._store.ticket(claimed, system)
            if ref is not None and ref.external_id == external_id:
                return claimed
        return await self._store.incident_of(system, external_id)
