"""Settings of the service-orchestration service."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from acso_service_orchestration.itsm.models import IntegrationConfig, ItsmSystem
from acso_shared.resources import build_manifest
from acso_shared.settings import ServiceSettings

_SECRET_OF_SYSTEM = {
    ItsmSystem.SERVICENOW: "servicenow",
    ItsmSystem.JIRA: "jira",
    ItsmSystem.WEBHOOK: "webhook_signing",
}


class MaintenanceWindow(BaseModel):
    """A weekly window in UTC, e.g. `{"days": ["sat", "sun"], "start": "22:00", "end": "04:00"}`.

    `end` before `start` means the window runs past midnight into the next day.
    """

    model_config = ConfigDict(frozen=True)

    days: tuple[str, ...] = Field(min_length=1)
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        days = tuple(d.strip().lower()[:3] for d in value)
        unknown = [d for d in days if d not in WEEKDAYS]
        if unknown:
            raise ValueError(f"unknown weekdays {unknown}; use mon..sun")
        return days


WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RunbookSpec(BaseModel):
    """A named runbook: an SSM Command document with fixed parameters, its risk and rollback."""

    model_config = ConfigDict(frozen=True)

    document: str = Field(pattern=r"^[A-Za-z0-9_.:/-]{3,128}$")
    parameters: dict[str, list[str]] = Field(default_factory=dict)
    risk: str = Field(default="medium", pattern=r"^(low|medium|high)$")
    description: str = ""
    rollback: str | None = None


DEFAULT_RUNBOOKS: dict[str, RunbookSpec] = {
    "disk-cleanup": RunbookSpec(
        document="AWS-RunShellScript",
        parameters={"commands": ["journalctl --vacuum-time=7d", "find /tmp -xdev -type f -mtime +7 -delete", "df -h"]},
        risk="low",
        description="Vacuum the journal and delete week-old files from /tmp",
    ),
    "restart-ssm-agent": RunbookSpec(
        document="AWS-RunShellScript",
        parameters={"commands": ["systemctl restart amazon-ssm-agent", "systemctl is-active amazon-ssm-agent"]},
        risk="medium",
        description="Restart the SSM agent",
    ),
}


class Settings(ServiceSettings):
    """Everything the service-orchestration service reads from the environment (`ACSO_` prefix)."""

    # ITSM: a JSON list of IntegrationConfig. `credentials_secret_id` may be left out: it then
    # defaults to the manifest's secret of that system (acso-{env}/integrations/<system>).
    itsm_integrations: tuple[IntegrationConfig, ...] = ()
    itsm_http_attempts: int = Field(default=4, ge=1, le=10)
    itsm_http_base_delay_s: float = Field(default=0.5, ge=0)
    itsm_http_timeout_s: float = Field(default=15.0, gt=0)
    itsm_retry_base_s: float = Field(default=30.0, ge=0, description="Sync retry backoff: base * 2^(attempts-1)")
    itsm_retry_max_s: float = Field(default=1800.0, ge=0)
    itsm_retry_poll_s: float = Field(default=5.0, gt=0, description="How often the retry loop looks for due work")
    itsm_lease_s: int = Field(default=300, ge=5, description="How long one sync attempt may hold its row")
    # Operations
    operations_approval_instance_threshold: int = Field(
        default=2, ge=0, description="Patch/restart on more instances than this needs an approval"
    )
    operations_production_tag: str = "Environment"
    operations_production_values: tuple[str, ...] = ("production", "prod")
    operations_max_instances: int = Field(default=50, ge=1, le=1000)
    operations_maintenance_windows: tuple[MaintenanceWindow, ...] = ()
    operations_default_max_concurrency: str = Field(default="50%", pattern=r"^([1-9]\d{0,3}|[1-9]\d?%|100%)$")
    operations_default_max_errors: str = Field(default="0", pattern=r"^(\d{1,4}|\d{1,2}%|100%)$")
    operations_poll_interval_s: float = Field(default=2.0, gt=0)
    operations_instance_timeout_s: float = Field(default=3600.0, gt=0)
    operations_scheduler_interval_s: float = Field(default=30.0, gt=0)
    operations_runbooks: dict[str, RunbookSpec] = Field(default_factory=lambda: dict(DEFAULT_RUNBOOKS))

    @field_validator("operations_production_values", mode="before")
    @classmethod
    def _split_values(cls, value: object) -> object:
        if isinstance(value, str) and not value.lstrip().startswith("["):
            return tuple(v.strip() for v in value.split(",") if v.strip())
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_secret_ids(cls, data: Any) -> Any:
        """Fill each integration's `credentials_secret_id` from the manifest when it is left out."""
        if not isinstance(data, dict):
            return data
        raw = data.get("itsm_integrations")
        if isinstance(raw, str):
            raw = json.loads(raw) if raw.strip() else []
        if not isinstance(raw, list | tuple):
            return data
        manifest = build_manifest(str(data.get("env") or "local"))
        filled: list[Any] = []
        for entry in raw:
            if isinstance(entry, dict) and not entry.get("credentials_secret_id") and "system" in entry:
                logical = _SECRET_OF_SYSTEM.get(ItsmSystem(entry["system"]))
                if logical is not None:
                    entry = {**entry, "credentials_secret_id": manifest.secrets[logical]}
            filled.append(entry)
        return {**data, "itsm_integrations": filled}

    @field_validator("itsm_integrations")
    @classmethod
    def _one_per_system(cls, value: tuple[IntegrationConfig, ...]) -> tuple[IntegrationConfig, ...]:
        systems = [c.system for c in value]
        if len(set(systems)) != len(systems):
            raise ValueError("at most one integration per ITSM system")
        return value
