"""Bedrock throttling and timeouts: every workflow still completes on the deterministic core.

The whole system runs with `ACSO_LLM_PROVIDER=bedrock` pointed at the fake Converse server
(tests/fakes/bedrock_converse.py), which answers every call with a throttling error or too late.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.reliability.conftest import load_target, reliability_env
from tests.fakes.bedrock_converse import FakeBedrockRuntime, error_turn, slow_turn, text_turn
from tests.support.faults import wait_healthy
from tests.support.load import LoadProfile, LoadReport, run_load
from tests.support.stack import RunningSystem, get_json, make_work_dir, remove_work_dir, start_system

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(120)]

CALL_TIMEOUT_S = 0.5


@pytest.fixture(scope="module")
async def bedrock() -> AsyncIterator[FakeBedrockRuntime]:
    fake = FakeBedrockRuntime()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture(scope="module")
async def llm_system(bedrock: FakeBedrockRuntime) -> AsyncIterator[RunningSystem]:
    work_dir = make_work_dir("acso-reliability-llm-")
    env = reliability_env(
        ACSO_LLM_PROVIDER="bedrock",
        ACSO_BEDROCK_ENDPOINT_URL=bedrock.url,
        ACSO_LLM_CALL_TIMEOUT_S=str(CALL_TIMEOUT_S),
    )
    # The launcher blocks while the system starts; the fake must keep serving on this loop meanwhile.
    starting = start_system(work_dir, env)
    try:
        system = await asyncio.to_thread(next, starting)
        await wait_healthy(system)
        yield system
    finally:
        await asyncio.to_thread(next, starting, None)
        remove_work_dir(work_dir)


async def _triage_results(system: RunningSystem, report: LoadReport) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        for state in report.incidents.values():
            for workflow in state.workflows:
                status, body = await get_json(
                    session,
                    f"{system.url('supervisor')}/v1/workflows/{workflow['workflow_id']}",
                    headers=system.auth("admin"),
                )
                assert status == 200
                results.append(next(s for s in body["steps"] if s["step"] == "triage")["result"])
    return results


async def _load(system: RunningSystem) -> LoadReport:
    return await run_load(
        load_target(system),
        LoadProfile(alerts=40, new_fraction=0.25, send_timeout_s=30, settle_timeout_s=60),
        emulator_url=system.emulator_url,
    )


async def test_a_throttling_model_leaves_every_workflow_completed_on_the_deterministic_core(
    llm_system: RunningSystem, bedrock: FakeBedrockRuntime
) -> None:
    bedrock.turns.clear()
    bedrock.script(*[error_turn(400, "ThrottlingException", "Rate exceeded")] * 400)
    before = len(bedrock.received)

    report = await _load(llm_system)

    assert report.problems() == [], report.summary()
    assert {w["status"] for s in report.incidents.values() for w in s.workflows} == {"completed"}
    assert len(bedrock.received) > before, "the model was never asked"
    triage = await _triage_results(llm_system, report)
    assert {(t["reasoning"], t["degraded_reason"]) for t in triage} == {("deterministic", "llm_throttled")}


async def test_a_model_answering_too_late_leaves_every_workflow_completed_on_the_deterministic_core(
    llm_system: RunningSystem, bedrock: FakeBedrockRuntime
) -> None:
    bedrock.turns.clear()
    bedrock.script(*[slow_turn(text_turn("too late"), CALL_TIMEOUT_S * 4)] * 400)
    before = len(bedrock.received)

    report = await _load(llm_system)

    assert report.problems() == [], report.summary()
    assert {w["status"] for s in report.incidents.values() for w in s.workflows} == {"completed"}
    assert len(bedrock.received) > before, "the model was never asked"
    triage = await _triage_results(llm_system, report)
    assert {(t["reasoning"], t["degraded_reason"]) for t in triage} == {("deterministic", "llm_timeout")}
    await wait_healthy(llm_system)
