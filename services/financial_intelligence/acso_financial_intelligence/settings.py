"""Settings of the financial-intelligence service."""

from __future__ import annotations

from acso_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    """Everything the financial-intelligence service reads from the environment (`ACSO_` prefix)."""
