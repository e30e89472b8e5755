"""Settings of the threat-hunter service."""

from __future__ import annotations

from acso_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything the threat-hunter service reads from the environment (`ACSO_` prefix)."""
