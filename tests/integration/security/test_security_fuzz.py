"""Every service's OpenAPI document, fuzzed with schemathesis against the live app: no request,
however malformed, gets a 5xx or a response that contradicts the document.

The apps run in-process on this event loop; schemathesis is synchronous (requests), so each
service's run goes to a worker thread. Examples per operation are bounded to keep the whole run
within about a minute.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance

from acso_shared.resources import Agent
from tests.integration.security.support_security import service_app
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

EXAMPLES_PER_OPERATION = 8
CHECKS = [not_a_server_error, response_schema_conformance]


def _fuzz(document: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Run every operation's examples; return one line per failing operation."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"the document has an operation schemathesis cannot use: {result.err()}"[:800])
            continue
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, headers=headers, timeout=10)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Exception as err:
            failures.append(f"{operation.method.upper()} {operation.path}: {str(err)[:800]}")
    return failures


# A finding of this run, reported to the supervisor's owner: strict, so the mark must go once fixed.
KNOWN_FINDINGS: dict[Agent, str] = {}


@pytest.mark.parametrize(
    "agent",
    [
        pytest.param(a, marks=pytest.mark.xfail(strict=True, reason=KNOWN_FINDINGS[a])) if a in KNOWN_FINDINGS else a
        for a in Agent
    ],
    ids=lambda a: a.value,
)
async def test_fuzzing_the_openapi_document_finds_no_5xx_and_no_undocumented_response(
    stack: TestStack, agent: Agent
) -> None:
    async with running(service_app(stack, agent)) as client:
        document = await (await client.get("/openapi.json")).json()
        base_url = str(client.make_url("")).rstrip("/")
        failures = await asyncio.to_thread(_fuzz, document, base_url, stack.auth("admin"))
    assert failures == [], "\n".join(failures)
