"""Session fixtures: the real emulator and PostgreSQL for integration tests, the whole system for e2e."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.securityhub import FakeSecurityHub, start_securityhub
from tests.support.background import BackgroundLoop
from tests.support.containers import start_container_stack
from tests.support.itsm import ItsmFakes
from tests.support.stack import (
    RunningSystem,
    TestStack,
    make_work_dir,
    remove_work_dir,
    start_system,
    start_test_stack,
)


def work_unit(nodeid: str) -> str:
    """The unit of work a test belongs to when `make test` runs it on several xdist workers.

    Every test of the whole running system (`tests/e2e`, except the reliability modules, which
    start systems of their own) goes to one worker, so one system is started; the Terraform
    checks stay together (they build shared virtual environments); otherwise each module stays
    whole, so module-scoped fixtures start once. Each worker has its own emulator and database.
    """
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/e2e/") and not path.startswith("tests/e2e/reliability/"):
        return "e2e-system"
    if path.startswith("tests/terraform/"):
        return "terraform"
    return path


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Schedule by `work_unit` (xdist's own `loadgroup` marks do not reach the scheduler here)."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class WorkUnitScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return WorkUnitScheduling(config, log)


@pytest.fixture(scope="session")
def stack() -> Iterator[TestStack]:
    """moto server + embedded PostgreSQL + every manifest resource (env `test`), once per session."""
    work_dir = make_work_dir("acso-test-stack-")
    # ACSO_TEST_STACK=containers runs the same suite on LocalStack and PostgreSQL containers (needs Docker).
    start = start_container_stack if os.environ.get("ACSO_TEST_STACK") == "containers" else start_test_stack
    try:
        yield from start(work_dir)
    finally:
        remove_work_dir(work_dir)


@pytest.fixture(scope="session")
def itsm() -> Iterator[ItsmFakes]:
    """ServiceNow and Jira fakes the running system is integrated with, for the whole session."""
    with BackgroundLoop() as background:
        yield ItsmFakes.start(background)


@pytest.fixture(scope="session")
def securityhub(itsm: ItsmFakes) -> FakeSecurityHub:
    """Security Hub's BatchUpdateFindings, which moto lacks, served beside the ITSM fakes for the session."""
    return itsm.background.enter(start_securityhub())


@pytest.fixture(scope="session")
def system(itsm: ItsmFakes, securityhub: FakeSecurityHub) -> Iterator[RunningSystem]:
    """The whole local system as `make run` starts it, on free ports, once per session, with the
    ITSM fakes configured as an operator would configure real ServiceNow and Jira, and Security Hub
    calls going to the Security Hub fake."""
    work_dir = make_work_dir("acso-e2e-")
    # Short approval expiry and sweeps so the expiry path is observable within a test.
    service_env = {
        "ACSO_APPROVAL_TTL_S": "20",
        "ACSO_SWEEP_INTERVAL_S": "1",
        "ACSO_AWS_SERVICE_ENDPOINTS": json.dumps({"securityhub": securityhub.url}),
        **itsm.service_env(),
    }
    try:
        for running in start_system(work_dir, {"ACSO_SERVICE_ENV": json.dumps(service_env)}):
            itsm.connect(running)
            yield running
    finally:
        remove_work_dir(work_dir)
