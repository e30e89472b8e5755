"""The provider protocol and the retry policy shared by the network providers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Protocol, TypeVar

from acso_shared.llm.conversation import ChatRequest, ChatResponse
from acso_shared.llm.errors import ProviderThrottled

T = TypeVar("T")


class ProviderName(StrEnum):
    BEDROCK = "bedrock"
    OPENAI = "openai"
    NONE = "none"


class Provider(Protocol):
    """A chat model with tool use. `complete` raises only the errors of `acso_shared.llm.errors`."""

    @property
    def name(self) -> ProviderName: ...

    @property
    def model_id(self) -> str | None: ...

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Run one model call and return the assistant turn."""
        ...

    async def aclose(self) -> None:
        """Release clients and sessions the provider opened itself."""
        ...


class RetryableError(Exception):
    """Raised inside a provider's attempt to ask for another try; carries the server's hint if any."""

    def __init__(self, code: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


Sleep = Callable[[float], Awaitable[None]]


async def with_backoff(
    attempt: Callable[[], Awaitable[T]],
    *,
    max_retries: int,
    base_delay_s: float,
    max_delay_s: float,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run `attempt`, retrying `RetryableError` with capped exponential backoff and full jitter.

    Full jitter spreads the retries of many concurrent workflows so they do not throttle in lockstep;
    a server-provided Retry-After is honoured as a lower bound. After the last retry the throttling
    becomes `ProviderThrottled`, which the loop turns into a deterministic fallback.
    """
    rand = rng or random.Random()
    for n in range(max_retries + 1):
        try:
            return await attempt()
        except RetryableError as err:
            if n == max_retries:
                raise ProviderThrottled(err.code, f"{err.message} (after {max_retries} retries)") from err
            delay = rand.uniform(0, min(max_delay_s, base_delay_s * 2**n))
            if err.retry_after_s is not None:
                delay = max(delay, min(err.retry_after_s, max_delay_s))
            await sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")
