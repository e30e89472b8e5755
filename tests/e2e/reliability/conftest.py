"""A system of its own for the fault specs: they kill, stop and freeze its parts.

Same launcher as `make run`, with shorter clocks so recovery fits each spec's time bound: a
message whose consumer died is visible again after 10 s (not 60), a failed message is retried
after 1, 2, 4, 8 s (not 2...16), a workflow step without a result is resent after 30 s (not 120),
the observer's per-principal rate limit is raised so polling does not throttle itself, and the
per-account action limit is raised so containment under load is not paced by it. The
mechanisms under test are the production ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.support.load import Target
from tests.support.stack import RunningSystem, make_work_dir, remove_work_dir, start_system

FAST_CLOCKS = {
    "ACSO_CONSUMER_WAIT_TIME_S": "1",
    "ACSO_VISIBILITY_TIMEOUT_S": "10",
    "ACSO_RETRY_BACKOFF_BASE_S": "1",
    "ACSO_STEP_TIMEOUT_S": "30",
    "ACSO_SWEEP_INTERVAL_S": "1",
    "ACSO_HEARTBEAT_INTERVAL_S": "2",
    "ACSO_SHUTDOWN_GRACE_S": "5",
    "ACSO_RATE_LIMIT_PRINCIPAL_PER_S": "500",
    "ACSO_RATE_LIMIT_PRINCIPAL_BURST": "1000",
    # Incident response's executor holds one pooled connection (the action's advisory lock) while
    # its run takes a second from the same pool: with 10 consumer slots and a pool of 10, ten
    # concurrent `action.execute` tasks starve the pool and the service hangs (reported). A pool
    # larger than twice the consumer concurrency keeps the fault specs about the faults.
    "ACSO_DATABASE_POOL_MAX": "25",
    # A workflow completes only once its alert's containment has finished, and the per-account
    # action limit (30 a minute) would stretch a hundred incidents' containment over minutes. The
    # limiter has specs of its own; here it is raised so the specs are about the faults.
    "ACSO_ACCOUNT_RATE_LIMIT_PER_MINUTE": "1200",
}


def reliability_env(**extra: str) -> dict[str, str]:
    """The launcher environment of a reliability system (`extra` joins the services' environment)."""
    return {"ACSO_SERVICE_ENV": json.dumps({**FAST_CLOCKS, **extra})}


def load_target(system: RunningSystem) -> Target:
    return Target(
        supervisor_url=system.url("supervisor"),
        incident_response_url=system.url("incident_response"),
        headers=system.auth("admin"),
        pids=system.pids,
    )


@pytest.fixture(scope="module")
def fault_system() -> Iterator[RunningSystem]:
    """The whole local system, for one module of fault specs."""
    work_dir = make_work_dir("acso-reliability-")
    try:
        yield from start_system(work_dir, reliability_env())
    finally:
        remove_work_dir(work_dir)
