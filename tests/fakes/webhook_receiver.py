"""A webhook receiver on 127.0.0.1 that checks `X-ACSO-Signature` and records what it accepted.

It verifies with the shared scheme (`acso_shared.auth.webhooks`), deduplicates on
`X-ACSO-Event-Id` like a well-behaved receiver, and answers `incident.opened` with its own
ticket id (`{"external_id": "WH-<n>", "url": ...}`). `fail_next` injects 429/5xx responses.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from acso_shared.auth.webhooks import SIGNATURE_HEADER, WebhookVerifier
from acso_shared.errors import Unauthorized


@dataclass
class FakeWebhookReceiver:
    """Records verified events. Create with `start_webhook_receiver()`."""

    secret: str = "receiver-signing-secret"
    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    deliveries: int = 0
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set)
    _claimed: set[str] = field(default_factory=set)

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """Answer the next `times` deliveries with `status`."""
        self._failures.extend([(status, retry_after)] * times)

    async def _claim(self, key: str, expires_at: int) -> bool:
        if key in self._claimed:
            return False
        self._claimed.add(key)
        return True

    async def _receive(self, request: web.Request) -> web.Response:
        self.deliveries += 1
        if self._failures:
            status, retry_after = self._failures.pop(0)
            return web.Response(status=status, headers={"Retry-After": retry_after} if retry_after else {})
        raw = await request.read()
        try:
            await WebhookVerifier(self._claim).verify("acso", request.headers.get(SIGNATURE_HEADER), raw, [self.secret])
        except Unauthorized as err:
            self.rejected.append(err.code)
            return web.json_response({"error": err.code}, status=401)
        event = json.loads(raw)
        event_id = request.headers.get("X-ACSO-Event-Id", event.get("id"))
        if event_id not in self._seen:
            self._seen.add(event_id)
            self.events.append(event)
        if event.get("type") == "incident.opened":
            number = sum(1 for e in self.events if e.get("type") == "incident.opened")
            return web.json_response({"external_id": f"WH-{number}", "url": f"{self.url}/tickets/WH-{number}"})
        return web.Response(status=204)

    def app(self) -> web.Application:
        """The aiohttp application: `POST /hooks/acso`."""
        app = web.Application()
        app.router.add_post("/hooks/acso", self._receive)
        return app


@asynccontextmanager
async def start_webhook_receiver(fake: FakeWebhookReceiver | None = None) -> AsyncIterator[FakeWebhookReceiver]:
    """Serve the receiver on 127.0.0.1; `fake.url` is the full webhook URL."""
    fake = fake or FakeWebhookReceiver()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hooks/acso"
    try:
        yield fake
    finally:
        await runner.cleanup()
