"""Ports for servers a test or benchmark starts later: distinct, bindable, outside the ephemeral range."""

from __future__ import annotations

import pytest

from acso_shared.local.processes import free_port

pytestmark = pytest.mark.unit


def test_ports_handed_out_are_never_repeated_and_never_ephemeral() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(20000 <= p < 32768 for p in ports)  # below Linux's ephemeral range (32768-60999)


def test_a_block_is_consecutive_and_does_not_overlap_other_hand_outs() -> None:
    base = free_port(5)
    others = {free_port() for _ in range(100)}
    assert others.isdisjoint(range(base, base + 5))


def test_each_xdist_worker_draws_from_its_own_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    first = {free_port() for _ in range(50)}
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    second = {free_port() for _ in range(50)}
    assert max(first) < 26000 <= min(second)
