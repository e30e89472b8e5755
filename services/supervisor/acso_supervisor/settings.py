"""Settings of the supervisor service."""

from __future__ import annotations

from pydantic import Field, SecretStr

from acso_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    ping_interval_s: float = Field(
        default=30.0, gt=0, description="How often the message path to every agent is probed"
    )
    ping_timeout_s: float = Field(default=10.0, gt=0)
    dlq_replay_max: int = Field(default=100, ge=1, le=1000)
    dedup_window_s: int = Field(
        default=3600, ge=1, description="Repeats and correlated alerts fold into an incident this recent"
    )
    correlate_across_accounts: bool = Field(
        default=False,
        description="Group alerts of different accounts sharing a pivot into one incident (responses stay per alert)",
    )
    alert_batch_max: int = Field(default=500, ge=1, le=5000)
    step_timeout_s: float = Field(
        default=120.0, gt=0, description="A workflow step without a result is resent after this"
    )
    step_max_attempts: int = Field(default=3, ge=1, le=20)
    sweep_interval_s: float = Field(default=5.0, gt=0)
    # API Gateway WebSocket (acso_supervisor.ws_gateway). Unset endpoint (local): no publisher, the
    # in-process /v1/stream serves clients. The secret is the header API Gateway's integration sends.
    ws_management_endpoint: str | None = Field(
        default=None, description="https://<api-id>.execute-api.<region>.amazonaws.com/<stage>"
    )
    ws_gateway_secret: SecretStr | None = None
    ws_connection_ttl_s: int = Field(default=7500, ge=60, description="API Gateway closes connections after 2 h")
    ws_refresh_interval_s: float = Field(
        default=5.0, gt=0, description="How often connections of other instances are read"
    )
