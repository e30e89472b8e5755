"""The executive cost report's narrative through the reasoning layer: deterministic, model-written, degraded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from acso_financial_intelligence.app import create_app
from acso_financial_intelligence.costs.generator import generate_costs
from acso_financial_intelligence.keys import FINANCE
from acso_financial_intelligence.settings import Settings
from acso_shared.db import Database
from acso_shared.llm.outputs import ExecutiveNarrative
from tests.fakes.bedrock_converse import FakeBedrockRuntime, error_turn, text_turn, tool_use_turn
from tests.integration.reasoning.reasoning_support import bedrock
from tests.support.apps import running
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

_TABLES = (
    "cost_records, cost_imports, cost_anomalies, cost_incident_impacts, cost_security_findings, cost_alerts, "
    "cost_forecasts, cost_report_narratives"
)


@pytest.fixture(autouse=True)
async def empty_finance_tables(stack: TestStack) -> AsyncIterator[None]:
    """These tables belong to the finance service alone; each spec starts from no cost data."""
    db = Database(stack.database_url)
    await db.connect()
    try:
        await db.execute(f"TRUNCATE {_TABLES}")
        yield
    finally:
        await db.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrockRuntime]:
    server = FakeBedrockRuntime()
    await server.start()
    yield server
    await server.stop()


@asynccontextmanager
async def finance(stack: TestStack, tmp_path: Any, **overrides: Any) -> AsyncIterator[TestClient[Any, Any]]:
    """The finance service in-process with 90 days of cost data stored and analysed."""
    values: dict[str, Any] = {
        "cost_refresh_on_start": False,
        "cost_import_dir": tmp_path,
        "cost_explorer_forecast": False,
        **overrides,
    }
    app = create_app(stack.service_settings(Settings, **values))
    async with running(app) as client:
        now = datetime.now(UTC)
        records = generate_costs(seed=41, days=90, spikes=1, level_shifts=0, crypto_mining=0).records
        await app[FINANCE].store.replace_records("ce", "detail", records, at=now)
        await app[FINANCE].analyze(now)
        yield client


async def report(client: TestClient[Any, Any], stack: TestStack, fmt: str = "json") -> Any:
    response = await client.get(f"/v1/reports/executive?format={fmt}", headers=stack.auth("executive"))
    assert response.status == 200, await response.text()
    return await (response.json() if fmt == "json" else response.text())


async def test_with_provider_none_the_narrative_is_the_deterministic_one_from_the_figures(
    stack: TestStack, tmp_path: Any
) -> None:
    async with finance(stack, tmp_path) as client:
        body = await report(client, stack)
        html = await report(client, stack, "html")

    narrative = body["narrative"]
    assert body["reasoning"] == "deterministic"
    assert narrative["reasoning"] == "deterministic"
    assert narrative["degraded_reason"] == "configured"
    assert narrative["headline"] == body["highlights"][0]
    assert narrative["narrative"].startswith(body["highlights"][0])
    assert narrative["usage"]["model_calls"] == 0
    assert "<h2>Summary</h2>" in html
    assert "written by: deterministic" in html


async def test_a_model_narrative_is_served_escaped_and_kept_for_the_same_figures(
    stack: TestStack, tmp_path: Any, fake: FakeBedrockRuntime
) -> None:
    written = ExecutiveNarrative(
        headline="Spend rose <script>alert(1)</script> on one spike",
        narrative="Compute drove the rise.\n\nThe forecast stays inside budget.",
        recommendations=["Review the EC2 spike"],
        confidence=0.85,
    )
    fake.script(
        tool_use_turn(("cost_anomalies", {"days": 30, "limit": 5}), input_tokens=700, output_tokens=20),
        text_turn(written.model_dump_json(), input_tokens=900, output_tokens=120),
    )
    async with finance(stack, tmp_path, **bedrock(fake.url)) as client:
        body = await report(client, stack)
        html = await report(client, stack, "html")

    assert fake.rejected == []
    narrative = body["narrative"]
    assert body["reasoning"] == "llm"
    assert narrative["headline"] == written.headline
    assert narrative["recommendations"] == ["Review the EC2 spike"]
    assert [(c["name"], c["status"]) for c in narrative["tool_calls"]] == [("cost_anomalies", "ok")]
    usage = narrative["usage"]
    assert (usage["model_calls"], usage["input_tokens"], usage["output_tokens"]) == (2, 1600, 140)
    # The HTML page served the kept narrative: no third model call.
    assert len(fake.received) == 2
    assert "Spend rose &lt;script&gt;alert(1)&lt;/script&gt; on one spike" in html
    assert "<p>The forecast stays inside budget.</p>" in html
    assert "<script" not in html


async def test_a_throttled_model_leaves_the_deterministic_narrative_and_the_next_request_retries(
    stack: TestStack, tmp_path: Any, fake: FakeBedrockRuntime
) -> None:
    written = ExecutiveNarrative(headline="Steady month", narrative="Nothing unusual.", confidence=0.9)
    fake.script(
        *[error_turn(400, "ThrottlingException", "Rate exceeded")] * 4,
        text_turn(written.model_dump_json(), input_tokens=500, output_tokens=40),
    )
    async with finance(stack, tmp_path, **bedrock(fake.url)) as client:
        throttled = await report(client, stack)
        retried = await report(client, stack)

    narrative = throttled["narrative"]
    assert throttled["reasoning"] == "deterministic"
    assert narrative["degraded_reason"] == "llm_throttled"
    assert narrative["headline"] == throttled["highlights"][0]
    assert narrative["usage"]["failed_calls"] >= 1
    assert retried["reasoning"] == "llm"
    assert retried["narrative"]["headline"] == "Steady month"
