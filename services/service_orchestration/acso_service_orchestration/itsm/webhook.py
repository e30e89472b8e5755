"""Generic signed webhook: for ITSMs without a dedicated adapter (or an integration bus).

Outbound: `POST <url>` with a JSON event, signed `X-ACSO-Signature: t=<unix>,v1=<hex>` (the
scheme of `acso_shared.auth.webhooks`, re-signed on each retry so the timestamp stays fresh):
    {"id": <event id>, "type": "incident.opened" | "incident.updated" | "incident.commented" |
     "incident.resolved", "occurred_at": <ISO 8601>, "incident": {id, title, status, severity,
     summary, assignee, url}}; `incident.commented` carries "ticket": <TicketRef> and "comment".
`X-ACSO-Event-Id` repeats the event id so receivers can deduplicate retries. A receiver that
keeps its own ticket may answer `{"external_id": ..., "external_key": ..., "url": ...}`;
otherwise the ticket reference is the incident id.

Inbound: the receiver posts changes back, signed with the same scheme:
    {"external_id", "incident_id", "status": <ACSO status>, "state": <its own state name>,
     "comment", "actor", "occurred_at": <ISO 8601>}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, SecretStr, ValidationError

from acso_service_orchestration.itsm.http import ItsmHttp
from acso_service_orchestration.itsm.models import IncidentSnapshot, IncidentStatus, ItsmSystem, TicketRef, TicketUpdate
from acso_service_orchestration.itsm.signing import verify_acso_signature
from acso_shared.auth.webhooks import SIGNATURE_HEADER, WebhookVerifier, sign
from acso_shared.errors import Invalid

EVENT_ID_HEADER = "X-ACSO-Event-Id"


class WebhookEventType(StrEnum):
    OPENED = "incident.opened"
    UPDATED = "incident.updated"
    COMMENTED = "incident.commented"
    RESOLVED = "incident.resolved"


class WebhookInbound(BaseModel):
    """What a webhook receiver posts back to ACSO."""

    model_config = ConfigDict(extra="ignore")

    external_id: str
    incident_id: str | None = None
    status: IncidentStatus | None = None
    state: str | None = None
    comment: str | None = None
    actor: str | None = None
    occurred_at: AwareDatetime | None = None


def event_id(kind: WebhookEventType, subject: Mapping[str, Any], extra: str = "") -> str:
    """A deterministic event id: the same change retried is the same event for the receiver."""
    basis = json.dumps([kind.value, subject, extra], sort_keys=True)
    return "evt_" + hashlib.sha256(basis.encode()).hexdigest()[:32]


class WebhookAdapter:
    """Posts incident events to one signed webhook URL."""

    system = ItsmSystem.WEBHOOK

    def __init__(
        self,
        http: ItsmHttp,
        signing_secret: SecretStr,
        verifier: WebhookVerifier,
        inbound_secret: SecretStr | None = None,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self._signing_secret = signing_secret
        self._inbound_secret = inbound_secret or signing_secret
        self._verifier = verifier
        self._now = now

    def _sign(self, body: bytes) -> dict[str, str]:
        return {SIGNATURE_HEADER: sign(body, self._signing_secret.get_secret_value())}

    async def _send(self, kind: WebhookEventType, subject_name: str, subject: dict[str, Any], extra: str = "") -> Any:
        eid = event_id(kind, subject, extra)
        event: dict[str, Any] = {
            "id": eid,
            "type": kind.value,
            "occurred_at": self._now().isoformat(),
            subject_name: subject,
        }
        if kind is WebhookEventType.COMMENTED:
            event["comment"] = extra
        result = await self._http.request(
            "POST", "", json_body=event, headers={EVENT_ID_HEADER: eid}, body_signer=self._sign
        )
        return result.body

    async def create(self, incident: IncidentSnapshot) -> TicketRef:
        """Send `incident.opened`; the receiver's answer may name its own ticket."""
        answer = await self._send(WebhookEventType.OPENED, "incident", _incident_body(incident))
        if isinstance(answer, dict) and isinstance(answer.get("external_id"), str) and answer["external_id"]:
            return TicketRef(
                system=self.system,
                external_id=answer["external_id"],
                external_key=answer.get("external_key") if isinstance(answer.get("external_key"), str) else None,
                url=answer.get("url") if isinstance(answer.get("url"), str) else None,
            )
        return TicketRef(system=self.system, external_id=incident.id)

    async def update(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Send `incident.updated` (or `incident.resolved` for a closed incident)."""
        kind = WebhookEventType.RESOLVED if incident.status is IncidentStatus.CLOSED else WebhookEventType.UPDATED
        await self._send(kind, "incident", _incident_body(incident))

    async def comment(self, ref: TicketRef, text: str) -> None:
        """Send `incident.commented` for the ticket's incident."""
        if not text.strip():
            raise Invalid("itsm_empty_comment", "a ticket comment needs text")
        await self._send(WebhookEventType.COMMENTED, "ticket", ref.model_dump(mode="json"), text)

    async def resolve(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Send `incident.resolved`."""
        await self._send(WebhookEventType.RESOLVED, "incident", _incident_body(incident))

    async def parse_inbound(self, headers: Mapping[str, str], body: bytes) -> TicketUpdate | None:
        """Verify the ACSO signature and parse a receiver's change; None when it carries nothing."""
        await verify_acso_signature(self._verifier, self.system, headers, body, (self._inbound_secret,))
        try:
            message = WebhookInbound.model_validate(json.loads(body))
        except (ValueError, ValidationError) as err:
            raise Invalid("itsm_inbound_malformed", "webhook body is not the documented JSON") from err
        if message.status is None and not (message.comment and message.comment.strip()):
            return None
        return TicketUpdate(
            system=self.system,
            external_id=message.external_id,
            incident_id=message.incident_id,
            ticket_state=message.state or (message.status.value if message.status else None),
            new_status=message.status,
            comment=message.comment.strip() if message.comment and message.comment.strip() else None,
            actor=message.actor,
            occurred_at=message.occurred_at or self._now(),
        )


def _incident_body(incident: IncidentSnapshot) -> dict[str, Any]:
    return incident.model_dump(mode="json", exclude={"comments"})
