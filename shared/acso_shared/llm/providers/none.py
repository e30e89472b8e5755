"""The `none` provider: the deterministic core only."""

from __future__ import annotations

from acso_shared.llm.conversation import ChatRequest, ChatResponse
from acso_shared.llm.errors import ProviderUnavailable
from acso_shared.llm.providers.base import ProviderName


class NoneProvider:
    """Never calls a model. `reason` says why this is the provider (configured, or a degrade reason)."""

    def __init__(self, reason: str = "configured") -> None:
        self.reason = reason

    @property
    def name(self) -> ProviderName:
        return ProviderName.NONE

    @property
    def model_id(self) -> None:
        return None

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Always refuses: the reasoning layer checks for `none` before calling, so reaching this is a bug."""
        raise ProviderUnavailable("llm_provider_none", f"no model provider ({self.reason})")

    async def aclose(self) -> None:
        """Nothing to release."""
