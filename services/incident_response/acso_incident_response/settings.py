"""Settings of the incident-response service."""

from __future__ import annotations

from acso_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything the incident-response service reads from the environment (`ACSO_` prefix)."""
