"""Backoff arithmetic and Retry-After parsing of the ITSM HTTP client."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acso_service_orchestration.itsm.http import RetryPolicy, parse_retry_after

pytestmark = pytest.mark.unit


def test_backoff_doubles_per_attempt_scaled_by_the_jitter_draw():
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=100.0)
    assert [policy.backoff(n, 1.0) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert policy.backoff(3, 0.25) == 1.0


def test_backoff_is_capped():
    assert RetryPolicy(base_delay_s=1.0, max_delay_s=5.0).backoff(10, 1.0) == 5.0


def test_retry_after_in_seconds():
    assert parse_retry_after("120") == 120.0


def test_retry_after_as_an_http_date():
    now = datetime(2026, 11, 3, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 03 Nov 2026 10:00:30 GMT", now) == 30.0


def test_retry_after_in_the_past_means_now():
    now = datetime(2026, 11, 3, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 03 Nov 2026 09:00:00 GMT", now) == 0.0


@pytest.mark.parametrize("value", [None, "", "soon", "-5"])
def test_missing_or_unparseable_retry_after_is_none(value):
    assert parse_retry_after(value) is None
