"""Ready means ready: `/readyz` answers 200 only once a request could be served, signing keys
included, and the first concurrent requests share one JWKS fetch instead of failing with
`503 jwks_unavailable` while it runs (issue 18).

The JWKS is the emulator's own document, served through a small HTTP front that can be slow or
down, standing in for the identity provider's `/.well-known/jwks.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from acso_shared.web.api import ApiRouter
from tests.integration.security.support_security import bare_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass
class JwksFront:
    upstream: str
    delay_s: float = 0.0
    down: bool = False
    fetches: int = 0


@contextlib.asynccontextmanager
async def jwks_front(front: JwksFront) -> AsyncIterator[str]:
    async def jwks(request: web.Request) -> web.Response:
        front.fetches += 1
        if front.down:
            return web.Response(status=503, text="identity provider unavailable")
        await asyncio.sleep(front.delay_s)
        async with aiohttp.ClientSession() as session, session.get(front.upstream) as response:
            return web.Response(body=await response.read(), content_type="application/json")

    app = web.Application()
    app.router.add_get("/.well-known/jwks.json", jwks)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/.well-known/jwks.json"))
    finally:
        await server.close()


def _upstream(stack: TestStack) -> str:
    return f"{stack.emulator_url}/{stack.provisioned.user_pool_id}/.well-known/jwks.json"


async def test_readyz_is_503_until_the_signing_keys_are_fetched(stack: TestStack) -> None:
    front = JwksFront(_upstream(stack), down=True)
    async with jwks_front(front) as url, running(bare_app(stack, ApiRouter("none"), jwks_url=url)) as client:
        not_ready = await client.get("/readyz")
        not_ready_body = await not_ready.json()
        front.down = False
        deadline = time.monotonic() + 10
        while (ready := await client.get("/readyz")).status != 200 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        ready_body = await ready.json()
        me = await client.get("/v1/me", headers=stack.auth("analyst"))

    assert not_ready.status == 503
    assert not_ready_body["checks"]["signing_keys"] is False
    assert ready.status == 200, ready_body
    assert ready_body["checks"]["signing_keys"] is True
    assert me.status == 200


async def test_concurrent_first_requests_share_one_slow_key_fetch_and_all_succeed(stack: TestStack) -> None:
    front = JwksFront(_upstream(stack), delay_s=1.0)
    async with jwks_front(front) as url, running(bare_app(stack, ApiRouter("none"), jwks_url=url)) as client:

        async def me() -> int:
            response = await client.get("/v1/me", headers=stack.auth("analyst"))
            await response.read()
            return response.status

        statuses = await asyncio.gather(*(me() for _ in range(20)))

    assert statuses == [200] * 20
    assert front.fetches == 1
