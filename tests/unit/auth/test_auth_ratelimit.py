"""Specification of per-principal and per-source token buckets."""

from __future__ import annotations

import pytest

from acso_shared.auth.ratelimit import BucketSpec, RateLimiter, source_key
from acso_shared.errors import TooManyRequests

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def limiter(
    clock: Clock,
    *,
    principal: tuple[float, float] = (3, 1),
    source: tuple[float, float] = (10, 5),
    max_keys: int = 1000,
) -> RateLimiter:
    return RateLimiter(BucketSpec(*principal), BucketSpec(*source), clock=clock, max_keys=max_keys)


def _refused(rl: RateLimiter, principal: str | None, ip: str) -> TooManyRequests | None:
    try:
        rl.check(principal, ip)
    except TooManyRequests as err:
        return err
    return None


def test_a_burst_up_to_capacity_is_admitted_and_the_next_request_refused(clock: Clock) -> None:
    rl = limiter(clock)

    admitted = [_refused(rl, "alice", "10.0.0.1") is None for _ in range(4)]

    assert admitted == [True, True, True, False]


def test_a_refusal_carries_the_429_code_and_a_whole_second_retry_after(clock: Clock) -> None:
    rl = limiter(clock, principal=(1, 0.5))
    rl.check("alice", "10.0.0.1")

    refusal = _refused(rl, "alice", "10.0.0.1")

    assert refusal is not None
    assert (refusal.status, refusal.code, refusal.retry_after_s) == (429, "rate_limited", 2.0)


def test_tokens_refill_with_time(clock: Clock) -> None:
    rl = limiter(clock)
    for _ in range(3):
        rl.check("alice", "10.0.0.1")

    clock.now += 1.0

    assert _refused(rl, "alice", "10.0.0.1") is None
    assert _refused(rl, "alice", "10.0.0.1") is not None


def test_principals_are_limited_independently(clock: Clock) -> None:
    rl = limiter(clock)
    for _ in range(3):
        rl.check("alice", "10.0.0.1")

    assert _refused(rl, "bob", "10.0.0.1") is None


def test_one_source_is_limited_across_principals(clock: Clock) -> None:
    rl = limiter(clock, principal=(100, 1), source=(2, 1))
    rl.check("alice", "10.0.0.1")
    rl.check("bob", "10.0.0.1")

    assert _refused(rl, "carol", "10.0.0.1") is not None
    assert _refused(rl, "carol", "10.0.0.2") is None


def test_unauthenticated_requests_are_limited_by_source_only(clock: Clock) -> None:
    rl = limiter(clock, source=(2, 1))
    rl.check(None, "203.0.113.9")
    rl.check(None, "203.0.113.9")

    assert _refused(rl, None, "203.0.113.9") is not None


def test_a_request_refused_by_its_source_does_not_drain_the_principal(clock: Clock) -> None:
    rl = limiter(clock, principal=(2, 1), source=(1, 0.001))
    rl.check("alice", "10.0.0.1")
    for _ in range(5):
        assert _refused(rl, "alice", "10.0.0.1") is not None

    assert _refused(rl, "alice", "10.0.0.2") is None


def test_addresses_in_one_ipv6_64_share_a_bucket(clock: Clock) -> None:
    rl = limiter(clock, source=(1, 0.001))
    rl.check(None, "2001:db8:1:2::1")

    assert _refused(rl, None, "2001:db8:1:2:ffff::9") is not None
    assert _refused(rl, None, "2001:db8:1:3::1") is None


@pytest.mark.parametrize(
    ("ip", "key"),
    [
        ("192.0.2.7", "src:192.0.2.7"),
        ("::ffff:192.0.2.7", "src:192.0.2.7"),
        ("2001:db8::1", "src:2001:db8::/64"),
        ("not-an-ip", "src:not-an-ip"),
    ],
)
def test_source_keys_normalise_addresses(ip: str, key: str) -> None:
    assert source_key(ip) == key


def test_memory_is_bounded_by_dropping_the_least_recently_used_bucket(clock: Clock) -> None:
    rl = limiter(clock, max_keys=2)
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        rl.check(None, ip)

    assert rl.tracked_keys == 2


@pytest.mark.parametrize(("capacity", "rate"), [(0, 1), (1, 0), (5, -1)])
def test_a_bucket_that_could_never_admit_is_a_configuration_error(capacity: float, rate: float) -> None:
    with pytest.raises(ValueError, match="bucket"):
        BucketSpec(capacity, rate)
