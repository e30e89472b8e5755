"""Settings of the supervisor service."""

from __future__ import annotations

from pydantic import Field

from acso_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    ping_interval_s: float = Field(
        default=30.0, gt=0, description="How often the message path to every agent is probed"
    )
    ping_timeout_s: float = Field(default=10.0, gt=0)
    dlq_replay_max: int = Field(default=100, ge=1, le=1000)
