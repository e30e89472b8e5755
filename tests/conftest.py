"""Session fixtures: the real emulator and PostgreSQL for integration tests, the whole system for e2e."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import (
    RunningSystem,
    TestStack,
    make_work_dir,
    remove_work_dir,
    start_system,
    start_test_stack,
)


@pytest.fixture(scope="session")
def stack() -> Iterator[TestStack]:
    """moto server + embedded PostgreSQL + every manifest resource (env `test`), once per session."""
    work_dir = make_work_dir("acso-test-stack-")
    try:
        yield from start_test_stack(work_dir)
    finally:
        remove_work_dir(work_dir)


@pytest.fixture(scope="session")
def system() -> Iterator[RunningSystem]:
    """The whole local system as `make run` starts it, on free ports, once per session."""
    work_dir = make_work_dir("acso-e2e-")
    try:
        yield from start_system(work_dir)
    finally:
        remove_work_dir(work_dir)
