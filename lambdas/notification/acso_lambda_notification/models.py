"""Wire schemas: the incident notification on the topic, and the channel configuration secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from acso_shared.alerts.models import SeverityLabel

SEVERITY_ORDER: tuple[SeverityLabel, ...] = (
    SeverityLabel.UNKNOWN,
    SeverityLabel.INFORMATIONAL,
    SeverityLabel.LOW,
    SeverityLabel.MEDIUM,
    SeverityLabel.HIGH,
    SeverityLabel.CRITICAL,
    SeverityLabel.FATAL,
)


class IncidentNotification(BaseModel):
    """One incident event to announce.

    Incident response publishes the incident's detail to the topic when it opens high or critical
    (or is raised there). An EventBridge event (`Incident Opened`/`Incident Updated`) routed to the
    topic by a rule of the user's is accepted too: its envelope is unwrapped and its `detail-type`
    becomes `event`.
    """

    model_config = ConfigDict(extra="ignore")

    incident_id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=1024)
    severity: SeverityLabel
    status: str = Field(default="new", max_length=64)
    event: str = Field(default="Incident Updated", max_length=128)
    summary: str = Field(default="", max_length=4000)
    workflow_id: str | None = Field(default=None, max_length=256)
    occurred_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _unwrap_eventbridge(cls, value: Any) -> Any:
        if isinstance(value, dict) and isinstance(value.get("detail"), dict) and "detail-type" in value:
            return {**value["detail"], "event": value["detail-type"], "occurred_at": value.get("time")}
        return value


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    min_severity: SeverityLabel = SeverityLabel.HIGH

    def wants(self, severity: SeverityLabel) -> bool:
        """Whether this channel announces incidents of `severity`."""
        return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(self.min_severity)


class SlackChannel(_Channel):
    webhook_url: HttpUrl


class EmailChannel(_Channel):
    sender: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    recipients: list[str] = Field(min_length=1, max_length=50)


class WebhookChannel(_Channel):
    url: HttpUrl
    secret: str = Field(min_length=16, repr=False)


class ChannelConfig(BaseModel):
    """The channel secret's JSON: `{"slack": [...], "email": [...], "webhooks": [...]}`."""

    model_config = ConfigDict(extra="forbid")

    slack: list[SlackChannel] = Field(default_factory=list)
    email: list[EmailChannel] = Field(default_factory=list)
    webhooks: list[WebhookChannel] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> ChannelConfig:
        names = [c.name for c in (*self.slack, *self.email, *self.webhooks)]
        if len(names) != len(set(names)):
            raise ValueError("channel names must be unique")
        return self


class ChannelOutcome(BaseModel):
    """What happened on one channel for one message."""

    channel: str
    delivered: bool
    attempts: int
    skipped: bool = Field(default=False, description="Already delivered by an earlier invocation")
    error: str | None = None


class DeliveryReport(BaseModel):
    """Per message: which channels got it and which did not."""

    message_id: str
    incident_id: str | None
    outcomes: list[ChannelOutcome]

    @property
    def failed(self) -> list[str]:
        """Names of the channels that did not get the message."""
        return [o.channel for o in self.outcomes if not o.delivered]
