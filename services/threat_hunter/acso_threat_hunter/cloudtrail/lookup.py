"""`cloudtrail:LookupEvents` as an extra context source in AWS (the emulator does not implement it).

LookupEvents takes one lookup attribute per call and is limited to 2 calls per second per account
and region, so calls go through a token bucket shared by the process and stop at a page budget.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from acso_shared.aws.clients import translate_aws_error
from acso_shared.logging import get_logger

from .events import EventRow, event_row

log = get_logger(__name__)

LookupKey = Literal["Username", "AccessKeyId", "ResourceName"]
MAX_RESULTS_PER_PAGE = 50  # the API's maximum


class ClientSource(Protocol):
    async def client(self, service: str) -> Any: ...


class RateLimiter:
    """At most `rate` acquisitions per second, spaced evenly (LookupEvents rejects bursts)."""

    def __init__(self, rate: float, clock: Any = time.monotonic, sleep: Any = asyncio.sleep) -> None:
        self._interval = 1.0 / rate
        self._next = 0.0
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        """Wait for the next slot."""
        async with self._lock:
            now = self._clock()
            wait = self._next - now
            if wait > 0:
                await self._sleep(wait)
                now += wait
            self._next = max(now, self._next) + self._interval


def lookup_request(
    attribute: tuple[LookupKey, str] | None, start: datetime, end: datetime, token: str | None = None
) -> dict[str, Any]:
    """The LookupEvents parameters of one page; no attribute: every management event in the window."""
    params: dict[str, Any] = {
        "StartTime": start,
        "EndTime": end,
        "MaxResults": MAX_RESULTS_PER_PAGE,
    }
    if attribute is not None:
        params["LookupAttributes"] = [{"AttributeKey": attribute[0], "AttributeValue": attribute[1]}]
    if token:
        params["NextToken"] = token
    return params


def rows_from_response(response: dict[str, Any]) -> list[EventRow]:
    """Event rows from a LookupEvents response: each `CloudTrailEvent` is the full record as a JSON string."""
    rows: list[EventRow] = []
    for item in response.get("Events", []):
        text = item.get("CloudTrailEvent")
        if not isinstance(text, str):
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            log.warning("lookup_event_unparsable", event_id=item.get("EventId"))
            continue
        row = event_row(record) if isinstance(record, dict) else None
        if row is not None:
            rows.append(row)
    return rows


class CloudTrailLookup:
    """Pages through LookupEvents for each (attribute, value), within a per-query page budget."""

    def __init__(self, clients: ClientSource, limiter: RateLimiter, *, max_pages: int = 4) -> None:
        self._clients = clients
        self._limiter = limiter
        self._max_pages = max_pages

    async def lookup(
        self, attributes: Sequence[tuple[LookupKey, str]], start: datetime, end: datetime, limit: int
    ) -> list[EventRow]:
        """Events for any of the attributes (none: all events) within [start, end], at most `limit`."""
        client = await self._clients.client("cloudtrail")
        rows: list[EventRow] = []
        queries: list[tuple[LookupKey, str] | None] = list(attributes) or [None]
        for attribute in queries:
            token: str | None = None
            for _ in range(self._max_pages):
                await self._limiter.acquire()
                try:
                    response = await client.lookup_events(**lookup_request(attribute, start, end, token))
                except Exception as err:
                    raise translate_aws_error(err, "cloudtrail:LookupEvents") from err
                rows.extend(rows_from_response(response))
                token = response.get("NextToken")
                if not token or len(rows) >= limit:
                    break
            if len(rows) >= limit:
                break
        return rows[:limit]
