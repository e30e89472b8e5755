"""An event loop in a daemon thread, for servers that a synchronous session fixture owns.

Session fixtures such as `system` are synchronous, and pytest-asyncio's loop runs only while an
async test runs; a fake ITSM served from that loop would go deaf between tests while the system
keeps calling it. Here the servers get a loop of their own that always runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """Runs coroutines and async context managers on a loop in a background thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-background-loop", daemon=True)
        self._stack = contextlib.AsyncExitStack()

    def __enter__(self) -> BackgroundLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._stack.aclose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()

    def run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float = 60) -> T:
        """Run `coroutine` on the background loop and wait for its result (from sync code)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout_s)

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await `coroutine` run on the background loop (from another loop)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    async def apply(self, change: Callable[[], T]) -> T:
        """Run a plain function on the background loop, e.g. to change a fake's state safely."""

        async def run() -> T:
            return change()

        return await self.call(run())

    def enter(self, manager: AbstractAsyncContextManager[T]) -> T:
        """Enter an async context manager on the background loop; it is exited on `__exit__`."""
        return self.run(self._stack.enter_async_context(manager))
