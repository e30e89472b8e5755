"""TTL cache of model responses, keyed on a hash of the full request."""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable

from acso_shared.llm.conversation import ChatRequest, ChatResponse
from acso_shared.llm.providers.base import ProviderName


def request_key(provider: ProviderName, model_id: str, request: ChatRequest) -> str:
    """SHA-256 over the canonical JSON of everything that shapes the answer."""
    canonical = json.dumps(
        {"provider": provider.value, "model": model_id, "request": request.model_dump(mode="json")},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResponseCache:
    """Bounded LRU with a TTL; identical requests within the TTL get the stored response."""

    def __init__(self, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, ChatResponse]] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self._ttl > 0 and self._max > 0

    def get(self, key: str) -> ChatResponse | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, response = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return response

    def put(self, key: str, response: ChatResponse) -> None:
        if not self.enabled:
            return
        self._entries[key] = (self._clock() + self._ttl, response)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
