"""Shared helpers for the alert tests: load a fixture payload by file name."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from acso_shared.alerts import NormalizedAlert, normalize_payload

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "alerts"
RECEIVED_AT = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)


@pytest.fixture
def received_at() -> datetime:
    """The receive time the tests pass to normalize_payload."""
    return RECEIVED_AT


@pytest.fixture
def payload() -> Callable[[str], Any]:
    """Given a fixture name, a fresh copy of its JSON (tests may mutate it)."""

    def load(name: str) -> Any:
        return json.loads((FIXTURES / name).read_text())

    return load


@pytest.fixture
def normalize_one(payload: Callable[[str], Any]) -> Callable[[str], NormalizedAlert]:
    """Given a single-alert fixture name, its one NormalizedAlert."""

    def run(name: str) -> NormalizedAlert:
        alerts = normalize_payload(payload(name), received_at=RECEIVED_AT)
        assert len(alerts) == 1
        return alerts[0]

    return run
