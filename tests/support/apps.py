"""Running service apps in-process against the test stack, through the real app factories."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer


@contextlib.asynccontextmanager
async def running(app: web.Application) -> AsyncIterator[TestClient[Any, Any]]:
    """Start `app` on a free loopback port (runtime included) and yield an HTTP client for it."""
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
