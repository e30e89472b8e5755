"""Wire schemas of the operations endpoints and the change record."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from acso_shared.aws.compliance import ResourceCompliance

OperationType = Literal["restart_service", "patch", "collect_forensics", "rotate_credential", "run_runbook"]
Risk = Literal["low", "medium", "high"]
OperationStatus = Literal[
    "pending_approval", "approved", "rejected", "running", "succeeded", "failed", "partially_failed"
]
InstanceStatus = Literal["pending", "in_progress", "succeeded", "failed", "timed_out", "cancelled"]

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{8,17}$")
_TAG_PART = re.compile(r"^[\w .:/=+\-@]{1,128}$")
LIMIT_PATTERN = r"^([1-9]\d{0,3}|[1-9]\d?%|100%)$"
ERRORS_PATTERN = r"^(\d{1,4}|\d{1,2}%|100%)$"


class OperationCreate(BaseModel):
    """`POST /v1/operations`: what to run, on which instances (by id or by tags), and why."""

    model_config = ConfigDict(extra="forbid")

    operation: OperationType
    instance_ids: list[str] = Field(default_factory=list, max_length=1000)
    tag_filter: dict[str, str] = Field(default_factory=dict, max_length=10)
    parameters: dict[str, Any] = Field(default_factory=dict)
    reason: str = Field(default="", max_length=2000)
    incident_id: str | None = Field(default=None, max_length=64)
    max_concurrency: str | None = Field(default=None, pattern=LIMIT_PATTERN, description="Like SSM: 10 or 25%")
    max_errors: str | None = Field(default=None, pattern=ERRORS_PATTERN, description="Like SSM: 0, 2 or 10%")
    emergency: bool = Field(default=False, description="Skip the maintenance window; always needs an approval")
    dry_run: bool = Field(default=False, description="Return the preview without creating the change record")

    @field_validator("instance_ids")
    @classmethod
    def _instance_ids(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not INSTANCE_ID.match(v)]
        if bad:
            raise ValueError(f"not EC2 instance ids: {bad[:3]}")
        return list(dict.fromkeys(value))

    @field_validator("tag_filter")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if any(not _TAG_PART.match(k) or not _TAG_PART.match(v) for k, v in value.items()):
            raise ValueError("tag keys and values are 1-128 characters of letters, digits and _ .:/=+-@")
        return value

    @model_validator(mode="after")
    def _one_selector(self) -> OperationCreate:
        if bool(self.instance_ids) == bool(self.tag_filter):
            raise ValueError("select instances by instance_ids or by tag_filter (exactly one)")
        return self


class WindowCheck(BaseModel):
    applies: bool = Field(description="Whether this operation must run inside a maintenance window")
    in_window: bool
    windows: list[str] = Field(default_factory=list)
    next_opens_at: datetime | None = None


class TargetInstance(BaseModel):
    instance_id: str
    tags: dict[str, str] = Field(default_factory=dict)


class OperationPlan(BaseModel):
    """The preview of an operation: what would run where, its risk, approval and window."""

    operation: OperationType
    risk: Risk
    approval_required: bool
    approval_reasons: list[str]
    document: str
    parameters: dict[str, list[str]]
    targets: list[TargetInstance]
    tag_filter: dict[str, str] = Field(default_factory=dict)
    max_concurrency: str
    max_errors: str
    emergency: bool
    window: WindowCheck
    rollback_plan: str | None
    compliance: list[ResourceCompliance]


class InstanceResult(BaseModel):
    instance_id: str
    status: InstanceStatus
    command_id: str | None = None
    response_code: int | None = None
    stdout: str | None = None
    stderr: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ChangeRequestOut(BaseModel):
    """The change-request write-up and how it was written (`reasoning`: llm or deterministic)."""

    reasoning: Literal["llm", "deterministic"]
    title: str
    description: str
    justification: str
    risk_assessment: str
    implementation_steps: list[str]
    backout_plan: str
    confidence: float
    provider: str
    model_id: str | None = None
    degraded_reason: str | None = None
    injection_findings: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)


class ItsmChangeSync(BaseModel):
    """How pushing the change request to the ITSM goes; `failing` never holds up the operation."""

    status: Literal["pending", "synced", "failing"]
    attempts: int = Field(description="Consecutive failed attempts (0 after a success)")
    last_error: str | None = None
    next_attempt_at: datetime | None = None


class ItsmChange(BaseModel):
    """The operation's change request in the ITSM (ServiceNow change_request)."""

    system: Literal["servicenow"]
    number: str | None = Field(default=None, description="CHG number, once the record exists")
    url: str | None = None
    state: str | None = Field(default=None, description="new, scheduled, implement, review, closed, canceled...")
    sync: ItsmChangeSync


class Operation(OperationPlan):
    """The change record."""

    id: str
    status: OperationStatus
    requested_by: str
    requested_by_name: str
    requested_via: Literal["api", "agent"]
    approved_by: str | None = None
    approved_at: datetime | None = None
    rejected_by: str | None = None
    rejected_at: datetime | None = None
    rejection_comment: str | None = None
    incident_id: str | None = None
    reason: str = ""
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: dict[str, int] = Field(default_factory=dict)
    instances: list[InstanceResult] = Field(default_factory=list)
    change_request: ChangeRequestOut | None = None
    itsm_change: ItsmChange | None = None


class OperationReject(BaseModel):
    """`POST /v1/operations/{id}/reject`: why the pending operation is refused (optional)."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(default="", max_length=4000)


class OperationList(BaseModel):
    operations: list[Operation]


class OperationsQuery(BaseModel):
    status: OperationStatus | None = None
    incident_id: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=200)
