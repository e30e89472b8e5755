"""Wire schemas of rules (`/v1/rules`) and hunts (`/v1/hunts`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from acso_shared.hunting.lint import LintFinding
from acso_shared.hunting.models import Level, RuleError, RuleKind

MAX_KEYS = 1000


class RuleSource(StrEnum):
    BUILTIN = "builtin"
    USER = "user"
    IMPORTED = "imported"


class RuleCreate(BaseModel):
    """`POST /v1/rules`: one Sigma rule (or one correlation rule with the rules it references)."""

    model_config = ConfigDict(extra="forbid")

    yaml: str = Field(min_length=1, max_length=256 * 1024, description="The Sigma rule as YAML text")
    enabled: bool = True


class RulePatch(BaseModel):
    """`PATCH /v1/rules/{id}`."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool


class RuleOut(BaseModel):
    id: str
    title: str
    level: Level | None = Field(default=None, description="None when the stored rule no longer compiles")
    kind: RuleKind | None = None
    techniques: list[str] = Field(default_factory=list)
    enabled: bool
    source: RuleSource
    created_by: str | None = None
    created_at: datetime
    updated_at: datetime
    errors: list[RuleError] = Field(default_factory=list, description="Compile errors and the last hunt's failures")
    lint: list[LintFinding] = Field(
        default_factory=list, description="What lint found: fields CloudTrail lacks, conditions that never hold"
    )
    pack: str | None = Field(default=None, description="The community pack an imported rule came from")
    pack_version: str | None = None
    file: str | None = Field(default=None, description="The rule's file inside its pack")


class RuleList(BaseModel):
    items: list[RuleOut]
    total: int


class RuleListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: RuleSource | None = None
    enabled: bool | None = None
    pack: str | None = Field(default=None, min_length=1, max_length=200)


class RuleImportQuery(BaseModel):
    """`POST /v1/rules/imports` query: the pack is the body (a zip or tar of Sigma rules)."""

    model_config = ConfigDict(extra="forbid")

    pack: str = Field(default="sigmahq", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._-]+$")
    version: str | None = Field(default=None, min_length=1, max_length=100, description="Default: version.txt")
    enabled: bool = True


class S3Source(BaseModel):
    """CloudTrail delivery files (gzipped `{"Records": [...]}`) or NDJSON objects in S3."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["s3"]
    bucket: str | None = Field(default=None, min_length=3, max_length=63, description="Default: the artifacts bucket")
    keys: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(default_factory=list, max_length=MAX_KEYS)
    prefix: str | None = Field(default=None, min_length=1, max_length=1024)
    # With a prefix: which trail files to read, by CloudTrail's key layout
    # (AWSLogs/[o-orgid/]<account>/CloudTrail/<region>/YYYY/MM/DD/...); digest files never.
    accounts: list[Annotated[str, Field(pattern=r"^\d{12}$")]] = Field(default_factory=list, max_length=1000)
    regions: list[Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")]] = Field(
        default_factory=list, max_length=100
    )
    since: date | None = Field(default=None, description="Only files of this day or later")
    until: date | None = Field(default=None, description="Only files of this day or earlier")

    @model_validator(mode="after")
    def _keys_or_prefix(self) -> S3Source:
        if bool(self.keys) == bool(self.prefix):
            raise ValueError("give either keys or prefix")
        if self.keys and (self.accounts or self.regions or self.since or self.until):
            raise ValueError("accounts, regions, since and until select files under a prefix, not given keys")
        if self.since and self.until and self.since > self.until:
            raise ValueError("since must not be after until")
        return self


class WindowSource(BaseModel):
    """A time window: the stored events (and cloudtrail:LookupEvents when enabled)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["window"]
    start: datetime
    end: datetime

    @model_validator(mode="after")
    def _ordered(self) -> WindowSource:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must carry a time zone")
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class DeliverySource(BaseModel):
    """Every stored event no scheduled hunt has seen yet, whenever CloudTrail delivered it.

    Scheduled hunts use this: each event is hunted exactly once (claimed by eventID, in delivery
    order), and already-hunted events of the correlations' timespan around them are read again
    as correlation context, so late events and bursts split across runs are caught.
    """

    model_config = ConfigDict(extra="forbid")

    type: Literal["delivery"]


class HuntRequest(BaseModel):
    """`POST /v1/hunts` as JSON. Uploaded NDJSON is the request body instead (see the route)."""

    model_config = ConfigDict(extra="forbid")

    rule_ids: list[str] | None = Field(default=None, max_length=1000, description="Default: every enabled rule")
    source: S3Source | WindowSource | DeliverySource = Field(discriminator="type")
    send_alerts: bool = Field(default=True, description="Send hits to the supervisor as alerts")


class HuntUploadQuery(BaseModel):
    """Query parameters of a hunt over an uploaded NDJSON (or gzipped) body."""

    model_config = ConfigDict(extra="forbid")

    rules: str | None = Field(default=None, description="Comma-separated rule ids; default every enabled rule")
    send_alerts: bool = True

    @property
    def rule_ids(self) -> list[str] | None:
        return [r.strip() for r in self.rules.split(",") if r.strip()] if self.rules else None


class HuntStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class HuntTrigger(StrEnum):
    API = "api"
    SCHEDULE = "schedule"


class HitSummary(BaseModel):
    """One rule hit of a hunt; the alert carries the matching events."""

    rule_id: str
    title: str
    level: Level
    techniques: list[str] = Field(default_factory=list)
    alert_id: str = Field(description="The generic alert's id: `<rule id>:<event id>` (deduplicated downstream)")
    event_ids: list[str] = Field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class HuntFailure(BaseModel):
    code: str
    message: str


class HuntJob(BaseModel):
    """`GET /v1/hunts/{id}`."""

    id: UUID
    status: HuntStatus
    trigger: HuntTrigger
    requested_by: str | None = None
    source: str = Field(description="What the hunt read: s3, upload or window")
    rule_ids: list[str] = Field(default_factory=list)
    submitted_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    events_read: int = 0
    hits: list[HitSummary] = Field(default_factory=list)
    rule_errors: list[RuleError] = Field(default_factory=list)
    alerts_sent: int = 0
    error: HuntFailure | None = None
