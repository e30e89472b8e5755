"""Unique identifiers for tests that share one system, so their alerts never correlate by accident."""

from __future__ import annotations

import itertools
import secrets

# Public documentation ranges (RFC 5737): correlatable, never routed.
_RANGES = ("198.51.100", "203.0.113", "192.0.2")
_counter = itertools.count(secrets.randbelow(200))


def unique_public_ip() -> str:
    """A documentation IPv4 address not handed out before in this process (762 of them)."""
    n = next(_counter) % (len(_RANGES) * 254)
    return f"{_RANGES[n // 254]}.{n % 254 + 1}"


def unique_finding_id() -> str:
    return secrets.token_hex(16)
