"""The contract every ITSM adapter fulfils. The sync service talks only to this protocol."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from acso_service_orchestration.itsm.models import IncidentSnapshot, ItsmSystem, TicketRef, TicketUpdate


@runtime_checkable
class TicketAdapter(Protocol):
    """One ITSM, as seen by ACSO.

    Every outbound method is idempotent under retry: `create` finds the ticket an earlier,
    half-finished attempt opened before opening one; `update` and `resolve` write absolute
    values. Failures raise `acso_shared.errors.Upstream` (`itsm_unavailable`, `itsm_rejected`).
    """

    system: ItsmSystem

    async def create(self, incident: IncidentSnapshot) -> TicketRef:
        """Open the ticket for an incident, or return the one that already exists."""
        ...

    async def update(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Push title, severity, status and summary to the ticket."""
        ...

    async def comment(self, ref: TicketRef, text: str) -> None:
        """Add one comment to the ticket."""
        ...

    async def resolve(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Resolve the ticket of a closed incident, with the incident summary as resolution notes."""
        ...

    async def parse_inbound(self, headers: Mapping[str, str], body: bytes) -> TicketUpdate | None:
        """Authenticate and parse a webhook from the ITSM (async: the replay check claims a key).

        Raises `Unauthorized` when the signature is missing or wrong and `Invalid` when the body
        is malformed. Returns None for an authentic event that carries nothing ACSO syncs
        (the route should still answer 2xx so the ITSM does not redeliver it).
        """
        ...
