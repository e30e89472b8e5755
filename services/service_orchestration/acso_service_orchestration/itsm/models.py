"""Wire schemas of the ITSM integration: what flows out to a ticket and what flows back."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ItsmSystem(StrEnum):
    """The ticketing systems ACSO talks to."""

    SERVICENOW = "servicenow"
    JIRA = "jira"
    WEBHOOK = "webhook"


class IncidentStatus(StrEnum):
    """ACSO incident lifecycle (NIST SP 800-61 phases), in order."""

    NEW = "new"
    TRIAGED = "triaged"
    CONTAINED = "contained"
    ERADICATED = "eradicated"
    RECOVERED = "recovered"
    CLOSED = "closed"


class Severity(StrEnum):
    """ACSO severity, aligned with OCSF severity names."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class IncidentComment(BaseModel):
    """One comment on the incident timeline.

    `source` names where the comment was written: comments that came in from a ticket are not
    sent back to that same ticket, which would echo them forever.
    """

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1, max_length=128)
    author: str = Field(min_length=1, max_length=256)
    body: str = Field(min_length=1, max_length=32_000)
    created_at: datetime
    source: Literal["acso"] | ItsmSystem = "acso"


class IncidentSnapshot(BaseModel):
    """The fields of an ACSO incident that flow out to tickets."""

    model_config = ConfigDict(frozen=True)

    # The id ends up in JQL, ServiceNow encoded queries and Jira labels: keep it to a safe alphabet.
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    title: str = Field(min_length=1, max_length=1_000)
    status: IncidentStatus
    severity: Severity
    summary: str = Field(default="", max_length=32_000)
    comments: tuple[IncidentComment, ...] = ()
    assignee: str | None = None
    url: str | None = None


class TicketRef(BaseModel):
    """Where an incident lives in one ITSM: the row of the external-id mapping table."""

    model_config = ConfigDict(frozen=True)

    system: ItsmSystem
    external_id: str = Field(min_length=1, description="ServiceNow sys_id, Jira issue id, webhook subscription id")
    external_key: str | None = Field(default=None, description="Human key: ServiceNow number, Jira issue key")
    url: str | None = None


class TicketUpdate(BaseModel):
    """A change made on the ticket side, parsed from an authenticated inbound webhook."""

    model_config = ConfigDict(frozen=True)

    system: ItsmSystem
    external_id: str
    external_key: str | None = None
    incident_id: str | None = Field(default=None, description="The ACSO incident id when the payload carries it")
    ticket_state: str | None = Field(default=None, description="The ticket's own state name, for the timeline")
    new_status: IncidentStatus | None = Field(default=None, description="ticket_state mapped to an ACSO status")
    comment: str | None = None
    actor: str | None = None
    occurred_at: datetime
    delivery_id: str | None = Field(
        default=None, description="The ITSM's delivery id (Jira X-Atlassian-Webhook-Identifier), for deduplication"
    )
    self_authored: bool = Field(
        default=False, description="True when ACSO's own integration user made the change: an echo to ignore"
    )


class ServiceNowAuthMode(StrEnum):
    BASIC = "basic"
    OAUTH = "oauth"


class IntegrationConfig(BaseModel):
    """One configured ITSM integration. Secrets stay in Secrets Manager; only their id is here."""

    model_config = ConfigDict(frozen=True)

    system: ItsmSystem
    base_url: str = Field(description="Instance URL (ServiceNow, Jira) or the webhook target URL")
    credentials_secret_id: str = Field(min_length=1, description="Secrets Manager secret id or ARN")
    allowed_host_patterns: tuple[str, ...] = Field(
        default=(), description="Host allow-list, e.g. '*.service-now.com'; empty means the system's default"
    )
    allow_loopback_http: bool = Field(default=False, description="Tests only: allow http://127.0.0.1/localhost")
    allowed_ports: tuple[int, ...] = ()
    integration_user: str | None = Field(
        default=None, description="The ITSM account ACSO writes as; inbound changes by it are echoes"
    )
    # ServiceNow
    servicenow_comment_field: Literal["comments", "work_notes"] = "work_notes"
    servicenow_assignment_group: str | None = None
    servicenow_close_code: str = "Solution provided"
    # Jira
    jira_project_key: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{1,9}$")
    jira_issue_type: str = "Task"


class ChangeType(StrEnum):
    NORMAL = "normal"
    STANDARD = "standard"
    EMERGENCY = "emergency"


class ChangeRequestSpec(BaseModel):
    """A ServiceNow change request that operations opens before running a runbook."""

    model_config = ConfigDict(frozen=True)

    correlation_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    short_description: str = Field(min_length=1, max_length=160)
    description: str = ""
    type: ChangeType = ChangeType.NORMAL
    risk: Literal["high", "moderate", "low"] = "moderate"
    impact: Severity = Severity.MEDIUM
    implementation_plan: str = ""
    backout_plan: str = ""
    test_plan: str = ""
    start_date: datetime | None = None
    end_date: datetime | None = None
