"""ServiceNow adapter: Table API on `incident` and `change_request`.

Endpoints (REST Table API, JSON, every response wrapped in `{"result": ...}`):
- `GET  /api/now/table/{table}?sysparm_query=correlation_id=<id>` finds the record an earlier
  attempt created, so a retried create never opens a second ticket;
- `POST /api/now/table/{table}` creates (201), `PATCH /api/now/table/{table}/{sys_id}` updates;
- comments are journal fields: writing `work_notes` (internal) or `comments` (customer-visible)
  appends one entry;
- resolving sets `state=6` with the mandatory `close_code` and `close_notes`.

Change requests (`change_request`, for operations; Jira and the generic webhook have none): the
state field takes the documented numeric values of the change state model (-5 New, -4 Assess,
-3 Authorize, -2 Scheduled, -1 Implement, 0 Review, 3 Closed, 4 Canceled); closing needs
`close_code` (successful, successful_issues, unsuccessful) and `close_notes` together, like
resolving an incident. Every write is an absolute value, so a retried write changes nothing.

Inbound: a business rule on `incident` (after update, when state or comments change, and
`sys_updated_by` is not the integration user) sends an outbound REST message to ACSO:
    {"table": "incident", "sys_id", "number", "state", "correlation_id",
     "comments": current.comments.getJournalEntry(1), "work_notes": ..., "sys_updated_by",
     "sys_updated_on": "YYYY-MM-DD hh:mm:ss" (UTC)}
signed with the ACSO webhook scheme (`X-ACSO-Signature`) using the secret's `inbound_secret`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from acso_service_orchestration.itsm.http import ItsmHttp
from acso_service_orchestration.itsm.models import (
    ChangeRequestSpec,
    IncidentSnapshot,
    IncidentStatus,
    IntegrationConfig,
    ItsmSystem,
    TicketRef,
    TicketUpdate,
)
from acso_service_orchestration.itsm.signing import verify_acso_signature
from acso_service_orchestration.itsm.status_map import (
    ServiceNowState,
    from_servicenow_state,
    servicenow_impact_urgency,
    to_servicenow_state,
)
from acso_service_orchestration.itsm.text import incident_description, truncate
from acso_shared.auth.webhooks import WebhookVerifier
from acso_shared.errors import Invalid, Upstream

INCIDENT_TABLE: Final = "incident"
CHANGE_TABLE: Final = "change_request"
_RETURN_FIELDS: Final = "sys_id,number,state,correlation_id"
_SHORT_DESCRIPTION_MAX: Final = 160
_CORRELATION_DISPLAY: Final = "ACSO"
_CHANGE_RISK: Final[dict[str, str]] = {"high": "2", "moderate": "3", "low": "4"}
ChangeCloseCode = Literal["successful", "successful_issues", "unsuccessful"]


class ChangeState(StrEnum):
    """change_request states; values are what the Table API reads and writes."""

    NEW = "-5"
    ASSESS = "-4"
    AUTHORIZE = "-3"
    SCHEDULED = "-2"
    IMPLEMENT = "-1"
    REVIEW = "0"
    CLOSED = "3"
    CANCELED = "4"


def _servicenow_datetime(value: datetime) -> str:
    """The Table API's date-time format (UTC, no zone suffix)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


# getJournalEntry(1) starts with "<timestamp> - <user> (Additional comments|Work notes)".
_JOURNAL_HEADER = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} - [^\n]*\((?:Additional comments|Work notes)\)\n")


class ServiceNowInbound(BaseModel):
    """The business rule's outbound REST message body."""

    model_config = ConfigDict(extra="ignore")

    table: str = INCIDENT_TABLE
    sys_id: str
    number: str | None = None
    state: str | int | None = None
    correlation_id: str | None = None
    comments: str | None = None
    work_notes: str | None = None
    sys_updated_by: str | None = None
    sys_updated_on: str | None = None


def _journal_text(entry: str | None) -> str | None:
    """The text of a journal entry without its "<when> - <who> (Additional comments)" header."""
    if not entry or not entry.strip():
        return None
    return _JOURNAL_HEADER.sub("", entry.replace("\r\n", "\n"), count=1).strip() or None


def _servicenow_time(value: str | None, now: Callable[[], datetime]) -> datetime:
    if value:
        try:
            return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError:
            pass
    return now()


class ServiceNowAdapter:
    """Tickets as ServiceNow incidents; change requests for planned operations."""

    system = ItsmSystem.SERVICENOW

    def __init__(
        self,
        http: ItsmHttp,
        config: IntegrationConfig,
        inbound_secret: SecretStr,
        verifier: WebhookVerifier,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._http = http
        self._config = config
        self._inbound_secret = inbound_secret
        self._verifier = verifier
        self._now = now

    def _ref(self, table: str, record: Mapping[str, Any]) -> TicketRef:
        sys_id = str(record["sys_id"])
        return TicketRef(
            system=self.system,
            external_id=sys_id,
            external_key=str(record.get("number") or "") or None,
            url=str(self._http.url(f"/{table}.do").with_query(sys_id=sys_id)),
        )

    async def _find(self, table: str, correlation_id: str) -> dict[str, Any] | None:
        result = await self._http.request(
            "GET",
            f"/api/now/table/{table}",
            params={
                # correlation_id is pattern-checked by the models, so it cannot inject `^OR` clauses.
                "sysparm_query": f"correlation_id={correlation_id}^ORDERBYsys_created_on",
                "sysparm_fields": _RETURN_FIELDS,
                "sysparm_limit": "1",
                "sysparm_exclude_reference_link": "true",
            },
        )
        records = result.json_object().get("result")
        if not isinstance(records, list):
            raise Upstream("itsm_bad_response", "ServiceNow query did not return a result list")
        return records[0] if records else None

    async def _insert(self, table: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        result = await self._http.request(
            "POST",
            f"/api/now/table/{table}",
            json_body=fields,
            params={"sysparm_fields": _RETURN_FIELDS, "sysparm_exclude_reference_link": "true"},
        )
        return _record(result.json_object())

    async def _patch(self, table: str, sys_id: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        result = await self._http.request(
            "PATCH",
            f"/api/now/table/{table}/{sys_id}",
            json_body=fields,
            params={"sysparm_fields": _RETURN_FIELDS, "sysparm_exclude_reference_link": "true"},
        )
        return _record(result.json_object())

    def _incident_fields(self, incident: IncidentSnapshot) -> dict[str, str]:
        impact, urgency = servicenow_impact_urgency(incident.severity)
        return {
            "short_description": truncate(incident.title, _SHORT_DESCRIPTION_MAX),
            "description": incident_description(incident),
            "impact": str(impact),
            "urgency": str(urgency),
        }

    async def create(self, incident: IncidentSnapshot) -> TicketRef:
        """Open (or find) the ServiceNow incident whose correlation_id is the ACSO incident id."""
        existing = await self._find(INCIDENT_TABLE, incident.id)
        if existing is not None:
            return self._ref(INCIDENT_TABLE, existing)
        fields: dict[str, str] = {
            **self._incident_fields(incident),
            "correlation_id": incident.id,
            "correlation_display": _CORRELATION_DISPLAY,
            "contact_type": "integration",
        }
        if incident.status is not IncidentStatus.CLOSED:
            fields["state"] = to_servicenow_state(incident.status).value
        if self._config.servicenow_assignment_group:
            fields["assignment_group"] = self._config.servicenow_assignment_group
        record = await self._insert(INCIDENT_TABLE, fields)
        ref = self._ref(INCIDENT_TABLE, record)
        if incident.status is IncidentStatus.CLOSED:
            await self.resolve(ref, incident)
        return ref

    async def update(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Write title, description, impact/urgency and state; a closed incident resolves instead."""
        if incident.status is IncidentStatus.CLOSED:
            await self.resolve(ref, incident)
            return
        fields = {**self._incident_fields(incident), "state": to_servicenow_state(incident.status).value}
        await self._patch(INCIDENT_TABLE, ref.external_id, fields)

    async def comment(self, ref: TicketRef, text: str) -> None:
        """Append a journal entry (work notes by default, customer comments if configured)."""
        if not text.strip():
            raise Invalid("itsm_empty_comment", "a ticket comment needs text")
        await self._patch(INCIDENT_TABLE, ref.external_id, {self._config.servicenow_comment_field: text})

    async def resolve(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Set state Resolved (6) with close code and notes, which ServiceNow requires together."""
        notes = incident.summary.strip() or f"Closed in ACSO as incident {incident.id}."
        await self._patch(
            INCIDENT_TABLE,
            ref.external_id,
            {
                **self._incident_fields(incident),
                "state": ServiceNowState.RESOLVED.value,
                "close_code": self._config.servicenow_close_code,
                "close_notes": notes,
            },
        )

    async def create_change_request(self, change: ChangeRequestSpec) -> TicketRef:
        """Open (or find, by correlation_id) a change request for a planned operation."""
        existing = await self._find(CHANGE_TABLE, change.correlation_id)
        if existing is not None:
            return self._ref(CHANGE_TABLE, existing)
        impact, _ = servicenow_impact_urgency(change.impact)
        fields: dict[str, str] = {
            "short_description": change.short_description,
            "description": change.description,
            "type": change.type.value,
            "risk": _CHANGE_RISK[change.risk],
            "impact": str(impact),
            "implementation_plan": change.implementation_plan,
            "backout_plan": change.backout_plan,
            "test_plan": change.test_plan,
            "correlation_id": change.correlation_id,
            "correlation_display": _CORRELATION_DISPLAY,
        }
        if change.start_date is not None:
            fields["start_date"] = _servicenow_datetime(change.start_date)
        if change.end_date is not None:
            fields["end_date"] = _servicenow_datetime(change.end_date)
        if self._config.servicenow_assignment_group:
            fields["assignment_group"] = self._config.servicenow_assignment_group
        return self._ref(CHANGE_TABLE, await self._insert(CHANGE_TABLE, fields))

    async def set_change_state(
        self, ref: TicketRef, state: ChangeState, *, work_start: datetime | None = None
    ) -> ChangeState:
        """Move a change request to `state` (not Closed or Canceled: those carry notes); `work_start`
        is the actual start of the work. Returns the state the record is in afterwards."""
        if state in (ChangeState.CLOSED, ChangeState.CANCELED):
            raise Invalid("itsm_change_state_invalid", f"use close/cancel for state {state.name}")
        fields = {"state": state.value}
        if work_start is not None:
            fields["work_start"] = _servicenow_datetime(work_start)
        return _change_state(await self._patch(CHANGE_TABLE, ref.external_id, fields))

    async def close_change_request(
        self, ref: TicketRef, close_code: ChangeCloseCode, close_notes: str, *, work_end: datetime | None = None
    ) -> ChangeState:
        """Review, then Closed with the close code and notes (which ServiceNow requires together)."""
        if not close_notes.strip():
            raise Invalid("itsm_empty_close_notes", "closing a change request needs close notes")
        review: dict[str, str] = {"state": ChangeState.REVIEW.value}
        if work_end is not None:
            review["work_end"] = _servicenow_datetime(work_end)
        await self._patch(CHANGE_TABLE, ref.external_id, review)
        closed = {"state": ChangeState.CLOSED.value, "close_code": close_code, "close_notes": close_notes}
        return _change_state(await self._patch(CHANGE_TABLE, ref.external_id, closed))

    async def cancel_change_request(self, ref: TicketRef, close_notes: str) -> ChangeState:
        """Canceled, with why in the close notes (a field, not a journal entry: a retry appends nothing)."""
        fields = {"state": ChangeState.CANCELED.value, "close_notes": close_notes}
        return _change_state(await self._patch(CHANGE_TABLE, ref.external_id, fields))

    async def parse_inbound(self, headers: Mapping[str, str], body: bytes) -> TicketUpdate | None:
        """Verify and parse the business rule's message; None when neither state nor comment is set."""
        await verify_acso_signature(self._verifier, self.system, headers, body, (self._inbound_secret,))
        try:
            message = ServiceNowInbound.model_validate(json.loads(body))
        except (ValueError, ValidationError) as err:
            raise Invalid("itsm_inbound_malformed", "ServiceNow message is not the documented JSON") from err
        if message.table != INCIDENT_TABLE:
            return None
        state = str(message.state).strip() if message.state is not None else None
        comment = _journal_text(message.comments) or _journal_text(message.work_notes)
        if not state and comment is None:
            return None
        state_name = None
        if state:
            try:
                state_name = ServiceNowState(state).name.replace("_", " ").title()
            except ValueError:
                state_name = state
        return TicketUpdate(
            system=self.system,
            external_id=message.sys_id,
            external_key=message.number,
            incident_id=message.correlation_id or None,
            ticket_state=state_name,
            new_status=from_servicenow_state(state) if state else None,
            comment=comment,
            actor=message.sys_updated_by,
            occurred_at=_servicenow_time(message.sys_updated_on, self._now),
            self_authored=bool(self._config.integration_user)
            and message.sys_updated_by == self._config.integration_user,
        )


def _record(body: Mapping[str, Any]) -> dict[str, Any]:
    record = body.get("result")
    if not isinstance(record, dict) or "sys_id" not in record:
        raise Upstream("itsm_bad_response", "ServiceNow returned no record")
    return record


def _change_state(record: Mapping[str, Any]) -> ChangeState:
    try:
        return ChangeState(str(record.get("state")))
    except ValueError as err:
        raise Upstream("itsm_bad_response", "ServiceNow returned an unknown change_request state") from err
