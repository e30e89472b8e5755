"""In-memory token-bucket rate limiting per principal and per source address.

Each service instance limits on its own; WAF rate rules in front of the ALB/API Gateway cap the
fleet as a whole, so a per-process limiter is a second line, not the only one. Memory is bounded:
the least recently used buckets are dropped first, which only ever forgives a client (a fresh
bucket is full).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from acso_shared.errors import TooManyRequests

Clock = Callable[[], float]


@dataclass(frozen=True)
class BucketSpec:
    """`capacity` requests in a burst, refilled at `per_second`."""

    capacity: float
    per_second: float

    def __post_init__(self) -> None:
        if self.capacity < 1 or self.per_second <= 0:
            raise ValueError("a bucket needs capacity >= 1 and a positive refill rate")


@dataclass
class _Bucket:
    tokens: float
    updated: float

    def refill(self, spec: BucketSpec, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(spec.capacity, self.tokens + elapsed * spec.per_second)
        self.updated = now

    def wait_for_one(self, spec: BucketSpec) -> float:
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / spec.per_second


class _Buckets:
    def __init__(self, spec: BucketSpec, max_keys: int) -> None:
        self.spec = spec
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def get(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=self.spec.capacity, updated=now)
            self._buckets[key] = bucket
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.refill(self.spec, now)
        return bucket

    def __len__(self) -> int:
        return len(self._buckets)


def source_key(source_ip: str) -> str:
    """The bucket key of a client address: IPv6 clients are limited per /64, which one host
    usually controls whole, so rotating addresses inside it does not reset the limit.
    """
    try:
        address = ipaddress.ip_address(source_ip.strip())
    except ValueError:
        return f"src:{source_ip}"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"src:{address.ipv4_mapped}"
        return f"src:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"src:{address}"


class RateLimiter:
    """Checks one request against the caller's principal bucket and its source bucket.

    A request is admitted only if both buckets have a token; tokens are taken from both only when
    it is admitted, so a client refused for one reason does not also drain the other bucket.
    """

    def __init__(
        self,
        per_principal: BucketSpec,
        per_source: BucketSpec,
        *,
        clock: Clock = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._principals = _Buckets(per_principal, max_keys)
        self._sources = _Buckets(per_source, max_keys)
        self._clock = clock

    def check(self, principal: str | None, source_ip: str) -> None:
        """Admit the request or raise `TooManyRequests("rate_limited")` with `retry_after_s`.

        `principal` is the authenticated subject, or None before authentication (then only the
        source limit applies, which is what throttles credential stuffing).
        """
        now = self._clock()
        held = [(self._sources.get(source_key(source_ip), now), self._sources.spec)]
        if principal is not None:
            held.append((self._principals.get(f"principal:{principal}", now), self._principals.spec))
        wait = max(bucket.wait_for_one(spec) for bucket, spec in held)
        if wait > 0:
            # Whole seconds, rounded up: Retry-After is an integer header.
            raise TooManyRequests("rate_limited", "too many requests", retry_after_s=float(math.ceil(wait)))
        for bucket, _ in held:
            bucket.tokens -= 1

    @property
    def tracked_keys(self) -> int:
        """How many buckets are held in memory (for a gauge metric)."""
        return len(self._principals) + len(self._sources)
