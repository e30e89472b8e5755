"""One batch holding the same finding several times (issue 19: a batch is read in one statement).

The supervisor reads the batch's already-known alerts once, then follows what the batch itself
records: the outcomes must be exactly those of sending the items one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from acso_supervisor.app import create_app
from acso_supervisor.settings import Settings
from tests.integration.supervisor.test_supervisor_ingestion import generic_alert, new_instance_id
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def supervisor(stack: TestStack) -> AsyncIterator[Any]:
    settings = stack.service_settings(Settings, ping_interval_s=3600, sweep_interval_s=3600)
    async with running(create_app(settings)) as client:
        yield client


async def post(supervisor: Any, stack: TestStack, body: Any) -> list[dict[str, Any]]:
    response = await supervisor.post("/v1/alerts", json=body, headers=stack.auth("responder"))
    assert response.status == 202, await response.text()
    results: list[dict[str, Any]] = (await response.json())["results"]
    return results


async def test_the_same_finding_three_times_in_one_batch_opens_one_incident_and_counts_the_repeats(
    stack: TestStack, supervisor: Any
) -> None:
    alert = generic_alert(new_instance_id())

    results = await post(supervisor, stack, [alert, alert, alert])

    assert [r["outcome"] for r in results] == ["new_incident", "duplicate", "duplicate"]
    assert len({r["incident_id"] for r in results}) == 1
    assert [r["workflow_id"] is None for r in results] == [False, True, True]
    stored = await (await supervisor.get(f"/v1/alerts/{results[0]['alert_id']}", headers=stack.auth("analyst"))).json()
    assert stored["occurrences"] == 3


async def test_a_finding_resolved_and_raised_again_in_one_batch_reads_as_it_would_one_by_one(
    stack: TestStack, supervisor: Any
) -> None:
    alert = generic_alert(new_instance_id())
    resolved = {**alert, "status": "resolved"}

    results = await post(supervisor, stack, [alert, resolved, resolved, alert])

    assert [r["outcome"] for r in results] == ["new_incident", "resolved", "duplicate", "duplicate"]
    stored = await (await supervisor.get(f"/v1/alerts/{results[0]['alert_id']}", headers=stack.auth("analyst"))).json()
    assert (stored["status"], stored["occurrences"]) == ("active", 4)


async def test_a_resolution_of_a_finding_never_seen_is_ignored_even_beside_other_alerts(
    stack: TestStack, supervisor: Any
) -> None:
    other = generic_alert(new_instance_id())
    unseen = {**generic_alert(new_instance_id()), "status": "resolved"}

    results = await post(supervisor, stack, [other, unseen])

    assert [r["outcome"] for r in results] == ["new_incident", "ignored"]
