"""Settings of the service-orchestration service."""

from __future__ import annotations

from acso_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything the service-orchestration service reads from the environment (`ACSO_` prefix)."""
