"""Choose the provider from settings; a provider that cannot be built degrades to `none` with a reason."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from acso_shared.llm.errors import ProviderUnavailable
from acso_shared.llm.providers.base import Provider
from acso_shared.llm.providers.bedrock import BedrockConverseProvider, ClientFactory, ConverseClient
from acso_shared.llm.providers.none import NoneProvider
from acso_shared.llm.providers.openai_compat import OpenAICompatibleProvider
from acso_shared.llm.settings import LlmSettings


def default_bedrock_client_factory(settings: LlmSettings) -> ClientFactory:
    """A factory for the `bedrock-runtime` client that leaves retries to the provider.

    botocore's own retry would multiply with ours (and hide throttling from the usage records),
    so the client makes exactly one attempt per call.
    """
    config = AioConfig(
        retries={"total_max_attempts": 1, "mode": "standard"},
        read_timeout=settings.call_timeout_s,
        connect_timeout=min(5.0, settings.call_timeout_s),
    )

    def factory() -> Any:
        return get_session().create_client(
            "bedrock-runtime",
            region_name=settings.bedrock_region,
            endpoint_url=settings.bedrock_endpoint_url,
            config=config,
        )

    return factory


def select_provider(
    settings: LlmSettings,
    *,
    bedrock_client: ConverseClient | None = None,
    bedrock_client_factory: ClientFactory | None = None,
    http_session: aiohttp.ClientSession | None = None,
) -> Provider:
    """The provider `settings.provider` names, or a `NoneProvider` saying why it could not be built."""
    if settings.provider == "bedrock":
        if bedrock_client is not None:
            return BedrockConverseProvider(settings, client=bedrock_client)
        return BedrockConverseProvider(
            settings, client_factory=bedrock_client_factory or default_bedrock_client_factory(settings)
        )
    if settings.provider == "openai":
        try:
            return OpenAICompatibleProvider(settings, session=http_session)
        except ProviderUnavailable as err:
            return NoneProvider(reason=err.code)
    return NoneProvider()
