"""Live events for WebSocket clients: each connection receives only the event kinds its caller may read."""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from acso_shared.auth.models import Principal
from acso_shared.auth.permissions import may_read_event
from acso_shared.logging import get_logger

log = get_logger("acso.supervisor.stream")

QUEUE_LIMIT = 1000


# eq=False: subscribers are identities kept in a set, not values (a generated __eq__ drops __hash__).
@dataclass(eq=False)
class Subscriber:
    principal: Principal
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=QUEUE_LIMIT))
    dropped: int = 0


class EventHub:
    """Fan-out of workflow, incident and alert events to connected clients.

    A slow client never slows the engine: its queue is bounded and it loses the oldest events
    (and is told how many) rather than blocking a publisher.
    """

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, principal: Principal) -> Subscriber:
        subscriber = Subscriber(principal)
        self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.discard(subscriber)

    @property
    def connections(self) -> int:
        return len(self._subscribers)

    def publish(self, kind: str, data: dict[str, Any]) -> None:
        if not self._subscribers:
            return
        message = json.dumps({"kind": kind, "at": datetime.now(UTC).isoformat(), "data": data}, default=str)
        for subscriber in list(self._subscribers):
            if not may_read_event(subscriber.principal, kind):
                continue
            if subscriber.queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    subscriber.queue.get_nowait()
                subscriber.dropped += 1
            subscriber.queue.put_nowait(message)
