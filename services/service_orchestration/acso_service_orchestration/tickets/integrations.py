"""The configured ITSM integrations, each built into an adapter on first use.

Adapters are built lazily, not at start: a missing or malformed secret must not keep the service
(and the rest of the incident workflow) from starting; it shows up as a failing sync instead,
and a fixed secret is picked up on the next attempt (a failed build drops the cached secret).
An adapter whose credentials the ITSM refuses (401/403) is dropped too, so rotated credentials
take effect without a restart.
"""

from __future__ import annotations

import asyncio

import aiohttp

from acso_service_orchestration.itsm.base import TicketAdapter
from acso_service_orchestration.itsm.credentials import SecretReader
from acso_service_orchestration.itsm.factory import build_adapter
from acso_service_orchestration.itsm.http import RetryPolicy
from acso_service_orchestration.itsm.models import IntegrationConfig, ItsmSystem
from acso_shared.auth.webhooks import WebhookVerifier
from acso_shared.errors import NotFound, Upstream


class IntegrationRegistry:
    """One adapter per configured system, sharing one HTTP session."""

    def __init__(
        self,
        configs: tuple[IntegrationConfig, ...],
        secrets: SecretReader,
        verifier: WebhookVerifier,
        retry: RetryPolicy,
    ) -> None:
        self._configs = {c.system: c for c in configs}
        self._secrets = secrets
        self._verifier = verifier
        self._retry = retry
        self._adapters: dict[ItsmSystem, TicketAdapter] = {}
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    @property
    def systems(self) -> tuple[ItsmSystem, ...]:
        """The configured systems, in configuration order."""
        return tuple(self._configs)

    def is_configured(self, system: str) -> bool:
        """Whether `system` names a configured integration."""
        return system in {s.value for s in self._configs}

    async def adapter(self, system: ItsmSystem) -> TicketAdapter:
        """The adapter of `system`; raises NotFound when it is not configured, and whatever
        building it raises (Invalid for a disallowed URL or malformed secret, NotFound for a
        missing secret, Upstream/Unavailable when Secrets Manager fails)."""
        existing = self._adapters.get(system)
        if existing is not None:
            return existing
        config = self._configs.get(system)
        if config is None:
            raise NotFound("itsm_not_configured", f"no {system} integration is configured")
        async with self._lock:
            existing = self._adapters.get(system)
            if existing is not None:
                return existing
            if self._session is None:
                self._session = aiohttp.ClientSession()
            try:
                adapter = await build_adapter(config, self._secrets, self._session, self._verifier, retry=self._retry)
            except Exception:
                self._secrets.forget(config.credentials_secret_id)
                raise
            self._adapters[system] = adapter
            return adapter

    def failed(self, system: ItsmSystem, err: Exception) -> None:
        """Note a failed call: credentials the ITSM refused are read afresh for the next attempt."""
        if isinstance(err, Upstream) and err.details.get("status") in (401, 403):
            self._adapters.pop(system, None)
            config = self._configs.get(system)
            if config is not None:
                self._secrets.forget(config.credentials_secret_id)

    async def aclose(self) -> None:
        """Close the shared HTTP session."""
        self._adapters.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None
