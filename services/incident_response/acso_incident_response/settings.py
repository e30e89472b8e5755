"""Settings of the incident-response service."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from acso_shared.alerts.models import SeverityLabel
from acso_shared.settings import ServiceSettings

# Lists read from the environment as JSON lists or comma-separated text (not JSON-decoded first).
Names = Annotated[tuple[str, ...], NoDecode]
# The account moto and LocalStack answer as: the default under ACSO_ENV=local only.
EMULATOR_ACCOUNT_ID = "123456789012"
_DEFAULT_TRIAGE_S = {"critical": 15 * 60, "high": 60 * 60, "medium": 4 * 3600, "low": 24 * 3600}
_DEFAULT_CONTAIN_S = {"critical": 60 * 60, "high": 4 * 3600, "medium": 24 * 3600, "low": 72 * 3600}


class Settings(ServiceSettings):
    """Everything the incident-response service reads from the environment (`ACSO_` prefix)."""

    allowed_account_ids: Names = Field(
        default=(),
        description="Accounts actions may touch; anything else is blocked. Required outside ACSO_ENV=local, where"
        " the emulator's account is the default",
    )
    eks_endpoint_allowed_cidrs: Names = Field(
        default=(),
        description="Administration CIDRs an EKS cluster's public endpoint is restricted to during containment;"
        " empty: the public endpoint is turned off (private endpoint on)",
    )
    auto_resolve: bool = Field(
        default=True,
        description="An incident whose alerts are all resolved at the source, and whose response is"
        " done, closes itself",
    )
    benign_close_after_s: float = Field(
        default=24 * 3600.0, gt=0, description="Incidents with a benign verdict close after this long"
    )
    protected_tag_key: str = "acso:protected"
    protected_tag_value: str = "true"
    approval_ttl_s: float = Field(default=3600.0, gt=0, description="A pending approval is rejected after this")
    sweep_interval_s: float = Field(
        default=5.0, gt=0, description="How often expired approvals are rejected and the outbox is flushed"
    )
    blast_radius_max_actions: int = Field(default=10, ge=1, description="At most this many actions per incident")
    account_rate_limit_per_minute: int = Field(default=30, ge=1, description="Actions started per account per minute")
    rate_limit_retry_s: int = Field(default=15, ge=1, le=900, description="Delay before a rate-limited action retries")
    dry_run: bool = Field(default=False, description="Plan and describe every action, change nothing")
    sla_triage_s: dict[str, int] = Field(default_factory=lambda: dict(_DEFAULT_TRIAGE_S))
    sla_contain_s: dict[str, int] = Field(default_factory=lambda: dict(_DEFAULT_CONTAIN_S))
    waf_ip_set_name: str = Field(default="", description="Empty: `acso-{env}-blocklist`")
    waf_scope: str = Field(default="REGIONAL", pattern=r"^(REGIONAL|CLOUDFRONT)$")
    quarantine_sg_pattern: str = Field(
        default="acso-{env}-quarantine-{vpc_id}", description="Name of the no-traffic group, one per VPC"
    )
    deny_all_policy_name: str = "acso-quarantine-deny-all"
    delegated_action_timeout_s: float = Field(
        default=900.0,
        gt=0,
        description="A delegated action with no final result from its agent after this fails (operation_timeout)",
    )
    summary_debounce_s: float = Field(
        default=5.0, ge=0, description="An incident is summarised once its status has not changed for this long"
    )
    summary_lease_s: float = Field(
        default=300.0, gt=0, description="A summary being written is retried by another worker after this"
    )

    @field_validator("allowed_account_ids", "eks_endpoint_allowed_cidrs", mode="before")
    @classmethod
    def _split_accounts(cls, value: object) -> object:
        """A JSON list (as Terraform and the launcher write it) or comma-separated text."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return tuple(str(v) for v in json.loads(text))
            return tuple(a.strip() for a in text.split(",") if a.strip())
        return value

    @model_validator(mode="before")
    @classmethod
    def _accounts_known(cls, data: Any) -> Any:
        """Outside ACSO_ENV=local an allow-list is required: without one every action would be blocked."""
        if isinstance(data, dict) and not data.get("allowed_account_ids"):
            if data.get("env", "local") != "local":
                raise ValueError(
                    "ACSO_ALLOWED_ACCOUNT_IDS is not set: name the AWS accounts containment may act in "
                    "(comma-separated account ids); without it every action would be blocked"
                )
            return {**data, "allowed_account_ids": (EMULATOR_ACCOUNT_ID,)}
        return data

    @property
    def ip_set_name(self) -> str:
        return self.waf_ip_set_name or f"acso-{self.env}-blocklist"

    def sla_seconds(self, kind: str, severity: SeverityLabel | str) -> int | None:
        """The SLA target (`triage` or `contain`) for a severity; None when the severity has none."""
        table = self.sla_triage_s if kind == "triage" else self.sla_contain_s
        key = str(severity)
        if key in ("fatal",):
            key = "critical"
        return table.get(key)
