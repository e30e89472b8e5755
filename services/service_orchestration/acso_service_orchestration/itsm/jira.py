"""Jira Cloud adapter: REST API v3, rich text in Atlassian Document Format.

Endpoints:
- `POST /rest/api/3/search/jql` (the enhanced search that replaced `/rest/api/3/search`) finds
  the issue labelled `acso-<incident id>`, so a retried create never opens a second issue;
- `POST /rest/api/3/issue` creates (201 `{"id", "key", "self"}`), `PUT /rest/api/3/issue/{key}`
  edits (204), `POST /rest/api/3/issue/{key}/comment` comments (201);
- `GET/POST /rest/api/3/issue/{key}/transitions` moves the issue (204): workflows differ per
  project, so the target is chosen by status category (see status_map), not by name.

Inbound: a Jira admin webhook (events `jira:issue_updated`, `comment_created`) registered with a
secret signs the raw body as `X-Hub-Signature: sha256=<hex HMAC-SHA256>`; a relay may use the
ACSO scheme (`X-ACSO-Signature`) instead. The ACSO incident id is read back from the label.

Search is eventually consistent in Jira Cloud, so the external-id mapping table stays the
primary guard against duplicates; the label search covers a crash between create and save.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import SecretStr

from acso_service_orchestration.itsm import adf
from acso_service_orchestration.itsm.http import ItsmHttp
from acso_service_orchestration.itsm.models import (
    IncidentSnapshot,
    IncidentStatus,
    IntegrationConfig,
    ItsmSystem,
    TicketRef,
    TicketUpdate,
)
from acso_service_orchestration.itsm.signing import SIGNATURE_HEADER, header_value, verify_acso_signature
from acso_service_orchestration.itsm.status_map import (
    JiraStatusCategory,
    from_jira_category,
    jira_priority,
    to_jira_category,
)
from acso_service_orchestration.itsm.text import truncate
from acso_shared.auth.webhooks import WebhookVerifier
from acso_shared.errors import Invalid, Unauthorized, Upstream

LABEL_PREFIX: Final = "acso-"
HUB_SIGNATURE_HEADER: Final = "X-Hub-Signature"
DELIVERY_HEADER: Final = "X-Atlassian-Webhook-Identifier"
_SUMMARY_MAX: Final = 255


def incident_label(incident_id: str) -> str:
    """The Jira label that ties an issue to an ACSO incident (labels cannot contain spaces)."""
    return f"{LABEL_PREFIX}{incident_id}"


def describe(incident: IncidentSnapshot) -> adf.Node:
    """The issue description as an ADF document."""
    facts: list[str | adf.Node] = [
        adf.paragraph(adf.text("ACSO incident: ", adf.Mark.STRONG), adf.text(incident.id, adf.Mark.CODE)),
        adf.paragraph(adf.text("Severity: ", adf.Mark.STRONG), str(incident.severity)),
        adf.paragraph(adf.text("Status: ", adf.Mark.STRONG), str(incident.status)),
    ]
    if incident.assignee:
        facts.append(adf.paragraph(adf.text("ACSO assignee: ", adf.Mark.STRONG), incident.assignee))
    if incident.url:
        facts.append(adf.paragraph(adf.text("Details: ", adf.Mark.STRONG), adf.text(incident.url, href=incident.url)))
    summary = incident.summary.strip() or incident.title
    return adf.doc(*adf.from_plain_text(summary)["content"], adf.heading(3, "Incident"), adf.bullet_list(*facts))


def verify_hub_signature(headers: Mapping[str, str], body: bytes, secret: SecretStr) -> bool:
    """Whether `X-Hub-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body. False if absent."""
    value = header_value(headers, HUB_SIGNATURE_HEADER)
    if value is None:
        return False
    method, _, digest = value.strip().partition("=")
    if method.lower() != "sha256" or not digest:
        raise Unauthorized("itsm_bad_signature", "X-Hub-Signature must be sha256=<hex>")
    expected = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, digest.lower()):
        raise Unauthorized("itsm_bad_signature", "X-Hub-Signature does not match the body")
    return True


class JiraAdapter:
    """Tickets as Jira Cloud issues in one project."""

    system = ItsmSystem.JIRA

    def __init__(
        self,
        http: ItsmHttp,
        config: IntegrationConfig,
        webhook_secret: SecretStr,
        verifier: WebhookVerifier,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not config.jira_project_key:
            raise Invalid("itsm_config_invalid", "a Jira integration needs jira_project_key")
        self._http = http
        self._config = config
        self._project = config.jira_project_key
        self._webhook_secret = webhook_secret
        self._verifier = verifier
        self._now = now

    def _ref(self, issue: Mapping[str, Any]) -> TicketRef:
        key = str(issue["key"])
        return TicketRef(
            system=self.system,
            external_id=str(issue["id"]),
            external_key=key,
            url=str(self._http.url(f"/browse/{key}")),
        )

    async def find(self, incident_id: str) -> TicketRef | None:
        """The issue carrying the incident's label in the configured project, if any."""
        result = await self._http.request(
            "POST",
            "/rest/api/3/search/jql",
            json_body={
                "jql": f'project = "{self._project}" AND labels = "{incident_label(incident_id)}" ORDER BY created ASC',
                "fields": ["status"],
                "maxResults": 1,
            },
        )
        issues = result.json_object().get("issues")
        if not isinstance(issues, list):
            raise Upstream("itsm_bad_response", "Jira search returned no issues list")
        return self._ref(issues[0]) if issues else None

    async def create(self, incident: IncidentSnapshot) -> TicketRef:
        """Open (or find by label) the issue for an incident, then move it to the incident's status."""
        ref = await self.find(incident.id)
        if ref is None:
            result = await self._http.request(
                "POST",
                "/rest/api/3/issue",
                json_body={
                    "fields": {
                        "project": {"key": self._project},
                        "issuetype": {"name": self._config.jira_issue_type},
                        "summary": truncate(incident.title, _SUMMARY_MAX),
                        "description": describe(incident),
                        "priority": {"name": jira_priority(incident.severity)},
                        "labels": ["acso", incident_label(incident.id)],
                    }
                },
            )
            body = result.json_object()
            if "id" not in body or "key" not in body:
                raise Upstream("itsm_bad_response", "Jira create returned no issue id/key")
            ref = self._ref(body)
            if incident.status is IncidentStatus.NEW:
                # A new issue starts in its workflow's initial status, which is in the new category.
                return ref
        await self._transition_to(ref, to_jira_category(incident.status))
        return ref

    async def update(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Edit summary, description and priority, then transition to the status category."""
        await self._http.request(
            "PUT",
            f"/rest/api/3/issue/{self._key(ref)}",
            json_body={
                "fields": {
                    "summary": truncate(incident.title, _SUMMARY_MAX),
                    "description": describe(incident),
                    "priority": {"name": jira_priority(incident.severity)},
                }
            },
        )
        await self._transition_to(ref, to_jira_category(incident.status))

    async def comment(self, ref: TicketRef, text: str) -> None:
        """Add a comment with an ADF body."""
        if not text.strip():
            raise Invalid("itsm_empty_comment", "a ticket comment needs text")
        await self._http.request(
            "POST", f"/rest/api/3/issue/{self._key(ref)}/comment", json_body={"body": adf.from_plain_text(text)}
        )

    async def resolve(self, ref: TicketRef, incident: IncidentSnapshot) -> None:
        """Comment the resolution and move the issue into the done category."""
        if incident.status is not IncidentStatus.CLOSED:
            raise Invalid("itsm_not_closed", f"incident {incident.id} is {incident.status}, not closed")
        current = await self._category(ref)
        if current is JiraStatusCategory.DONE:
            return
        notes = incident.summary.strip() or "The incident was closed."
        await self.comment(ref, f"Resolved in ACSO (incident {incident.id}).\n\n{notes}")
        await self._transition_to(ref, JiraStatusCategory.DONE, current=current)

    def _key(self, ref: TicketRef) -> str:
        return ref.external_key or ref.external_id

    async def _category(self, ref: TicketRef) -> JiraStatusCategory | None:
        result = await self._http.request("GET", f"/rest/api/3/issue/{self._key(ref)}", params={"fields": "status"})
        key = _status_category(result.json_object().get("fields", {}).get("status"))
        try:
            return JiraStatusCategory(key) if key else None
        except ValueError:
            return None

    async def _transition_to(
        self, ref: TicketRef, target: JiraStatusCategory, current: JiraStatusCategory | None = None
    ) -> None:
        """Apply the first available transition into `target`, unless the issue is already there."""
        if current is None:
            current = await self._category(ref)
        if current is target:
            return
        result = await self._http.request("GET", f"/rest/api/3/issue/{self._key(ref)}/transitions")
        transitions = result.json_object().get("transitions", [])
        for transition in transitions:
            if _status_category(transition.get("to")) == target.value:
                await self._http.request(
                    "POST",
                    f"/rest/api/3/issue/{self._key(ref)}/transitions",
                    json_body={"transition": {"id": str(transition["id"])}},
                )
                return
        raise Upstream(
            "itsm_no_transition",
            f"Jira issue {self._key(ref)} has no transition into a '{target}' status",
            details={"available": [t.get("name") for t in transitions]},
        )

    async def parse_inbound(self, headers: Mapping[str, str], body: bytes) -> TicketUpdate | None:
        """Verify (X-Hub-Signature or X-ACSO-Signature) and parse a Jira webhook."""
        if header_value(headers, HUB_SIGNATURE_HEADER) is not None:
            verify_hub_signature(headers, body, self._webhook_secret)
        elif header_value(headers, SIGNATURE_HEADER) is not None:
            await verify_acso_signature(self._verifier, self.system, headers, body, (self._webhook_secret,))
        else:
            raise Unauthorized("itsm_missing_signature", "Jira webhook carries no signature")
        try:
            event = json.loads(body)
        except ValueError as err:
            raise Invalid("itsm_inbound_malformed", "Jira webhook body is not JSON") from err
        if not isinstance(event, dict) or not isinstance(event.get("issue"), dict):
            return None
        kind = event.get("webhookEvent")
        issue: dict[str, Any] = event["issue"]
        fields = issue.get("fields") or {}
        user = event.get("user") or {}
        occurred_at = _epoch_ms(event.get("timestamp")) or self._now()
        delivery_id = header_value(headers, DELIVERY_HEADER)
        if kind == "jira:issue_updated":
            items = (event.get("changelog") or {}).get("items") or []
            status_item = next((i for i in items if i.get("fieldId", i.get("field")) == "status"), None)
            if status_item is None:
                return None
            category = _status_category(fields.get("status"))
            return self._update(
                issue,
                fields,
                occurred_at=occurred_at,
                ticket_state=status_item.get("toString"),
                new_status=from_jira_category(category) if category else None,
                actor=user,
                delivery_id=delivery_id,
            )
        if kind == "comment_created":
            comment = event.get("comment") or {}
            text = adf.to_plain_text(comment.get("body"))
            if not text:
                return None
            return self._update(
                issue,
                fields,
                occurred_at=occurred_at,
                comment=text,
                actor=comment.get("author") or user,
                delivery_id=delivery_id,
            )
        return None

    def _update(
        self,
        issue: Mapping[str, Any],
        fields: Mapping[str, Any],
        *,
        occurred_at: datetime,
        actor: Mapping[str, Any],
        ticket_state: str | None = None,
        new_status: IncidentStatus | None = None,
        comment: str | None = None,
        delivery_id: str | None = None,
    ) -> TicketUpdate:
        labels = fields.get("labels") or []
        incident_id = next(
            (lbl[len(LABEL_PREFIX) :] for lbl in labels if isinstance(lbl, str) and lbl.startswith(LABEL_PREFIX)),
            None,
        )
        account = actor.get("accountId")
        return TicketUpdate(
            system=self.system,
            external_id=str(issue.get("id")),
            external_key=issue.get("key"),
            incident_id=incident_id,
            ticket_state=ticket_state,
            new_status=new_status,
            comment=comment,
            actor=actor.get("displayName") or account,
            occurred_at=occurred_at,
            delivery_id=delivery_id,
            self_authored=bool(self._config.integration_user) and account == self._config.integration_user,
        )


def _status_category(status: Any) -> str | None:
    if isinstance(status, Mapping):
        category = status.get("statusCategory")
        if isinstance(category, Mapping) and isinstance(category.get("key"), str):
            return str(category["key"])
    return None


def _epoch_ms(value: Any) -> datetime | None:
    if isinstance(value, int | float) and value > 0:
        return datetime.fromtimestamp(value / 1000, UTC)
    return None
