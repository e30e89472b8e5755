"""Triage with the reasoning layer wired in: the threat hunter in-process, the fake Bedrock over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acso_threat_hunter.keys import COMPONENTS
from tests.fakes.bedrock_converse import FakeBedrockRuntime, error_turn, slow_turn, text_turn, tool_use_turn
from tests.integration.reasoning.reasoning_support import (
    ALERT_USER_ARN,
    CORPUS,
    alert,
    bedrock,
    hunter,
    narrative_json,
    triage,
    triage_envelope,
    triage_results,
)
from tests.support.stack import TestStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

NAMESPACE = "acso-test/reasoning"
BENIGN_TEXT = CORPUS["benign"][0]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrockRuntime]:
    server = FakeBedrockRuntime()
    await server.start()
    yield server
    await server.stop()


async def test_with_provider_none_the_triage_result_says_deterministic_and_costs_nothing(stack: TestStack) -> None:
    async with hunter(stack) as (_, runtime):
        result = await triage(runtime, alert(BENIGN_TEXT))

    assert result["reasoning"] == "deterministic"
    assert result["degraded_reason"] == "configured"
    assert result["verdict"] == "malicious"
    assert result["narrative"].startswith(result["summary"])
    assert result["usage"]["model_calls"] == 0
    assert result["usage"]["total_tokens"] == 0
    assert not [e for e in result["evidence"] if e["kind"] == "llm"]


async def test_a_valid_model_narrative_makes_the_result_llm_and_its_tokens_add_up(
    stack: TestStack, fake: FakeBedrockRuntime
) -> None:
    fake.script(
        tool_use_turn(("intel_match", {"indicator": "198.51.100.23"}), input_tokens=800, output_tokens=30),
        tool_use_turn(("cloudtrail_lookup", {"identifier": ALERT_USER_ARN}), input_tokens=900, output_tokens=25),
        text_turn(narrative_json(0.8), input_tokens=1200, output_tokens=180),
    )
    async with hunter(stack, **bedrock(fake.url)) as (_, runtime):
        result = await triage(runtime, alert(BENIGN_TEXT))
        cloudwatch = await runtime.clients.client("cloudwatch")
        stats = await cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="LlmInputTokens",
            Dimensions=[
                {"Name": "Agent", "Value": "threat_hunter"},
                {"Name": "Provider", "Value": "bedrock"},
                {"Name": "Model", "Value": "anthropic.claude-3-sonnet-20240229-v1:0"},
            ],
            StartTime=datetime.now(UTC) - timedelta(minutes=10),
            EndTime=datetime.now(UTC) + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )
        stored = await runtime.db.fetchrow(
            "SELECT reasoning, model_calls, input_tokens, output_tokens, cost_usd FROM th_reasoning_runs "
            "WHERE incident_id = $1",
            result["incident_id"],
        )

    assert fake.rejected == []
    assert result["reasoning"] == "llm"
    assert result["verdict"] == "malicious"  # the deterministic verdict is the model's floor
    [llm] = [e for e in result["evidence"] if e["kind"] == "llm"]
    assert llm["summary"] == "The source IP guessed SSH passwords."
    assert [c["name"] for c in llm["data"]["tool_calls"]] == ["intel_match", "cloudtrail_lookup"]
    assert [c["status"] for c in llm["data"]["tool_calls"]] == ["ok", "ok"]
    usage = result["usage"]
    assert (usage["model_calls"], usage["input_tokens"], usage["output_tokens"]) == (3, 2900, 235)
    # Claude 3 Sonnet: $0.003 / 1k input, $0.015 / 1k output
    assert float(usage["cost_usd"]) == pytest.approx(2900 * 0.003 / 1000 + 235 * 0.015 / 1000)
    assert stored is not None
    assert stored["reasoning"] == "llm"
    assert (stored["model_calls"], stored["input_tokens"], stored["output_tokens"]) == (3, 2900, 235)
    assert sum(p["Sum"] for p in stats["Datapoints"]) >= 2900


async def test_a_redelivered_request_is_answered_from_the_stored_run_without_a_second_model_call(
    stack: TestStack, fake: FakeBedrockRuntime
) -> None:
    fake.script(text_turn(narrative_json(0.7), input_tokens=500, output_tokens=50))
    async with hunter(stack, **bedrock(fake.url)) as (app, runtime):
        components = app[COMPONENTS]
        envelope = triage_envelope(alert(BENIGN_TEXT))
        # The consumer's claim dedupes a resend; this is the crash-after-the-model-call case.
        first = await components.handle_triage(envelope)
        second = await components.handle_triage(envelope)
        runs = await runtime.db.fetchval(
            "SELECT count(*) FROM th_reasoning_runs WHERE request_key = $1", envelope.idempotency_key
        )

    assert first == second
    assert first["reasoning"] == "llm"
    assert len(fake.received) == 1
    assert runs == 1


async def test_every_corpus_injection_is_flagged_caps_confidence_and_no_identifier_outside_the_alert_is_read(
    stack: TestStack, fake: FakeBedrockRuntime
) -> None:
    attacks = CORPUS["attacks"]
    for attack in attacks:
        # The model "follows" the injected text: it asks about the attacker's target, then answers confidently.
        fake.script(
            tool_use_turn(("cloudtrail_lookup", {"identifier": attack["target"]}), input_tokens=100, output_tokens=10),
            text_turn(narrative_json(0.95), input_tokens=100, output_tokens=10),
        )
    envelopes = {attack["id"]: triage_envelope(alert(attack["text"])) for attack in attacks}
    # One triage at a time, so each conversation takes its two scripted turns in order.
    async with hunter(stack, **bedrock(fake.url), consumer_concurrency=1) as (_, runtime):
        results = await triage_results(runtime, list(envelopes.values()), timeout_s=120)
        records = {
            row["request_key"]: row["record"]
            for row in await runtime.db.fetch(
                "SELECT request_key, record FROM th_reasoning_runs WHERE request_key = ANY($1::text[])",
                [e.idempotency_key for e in envelopes.values()],
            )
        }

    assert fake.rejected == []
    for attack in attacks:
        envelope = envelopes[attack["id"]]
        result = results[str(envelope.workflow_id)]
        categories = {f["category"] for f in result["injection_findings"]}
        assert attack["category"] in categories, attack["id"]
        assert "out_of_scope_identifier" in categories, attack["id"]
        flagged = [e for e in result["evidence"] if e["summary"].startswith("prompt injection attempt:")]
        assert {e["data"]["category"] for e in flagged} == categories
        assert result["verdict"] == "malicious", attack["id"]
        assert result["confidence"] <= 0.3, attack["id"]
        assert all(e["confidence"] <= 0.3 for e in result["evidence"] if e["kind"] == "llm"), attack["id"]
        record = records[envelope.idempotency_key]
        assert record["proposals"] == []
        assert [(c["name"], c["status"], c["error_code"]) for c in record["tool_calls"]] == [
            ("cloudtrail_lookup", "failed", "resource_not_in_scope")
        ]


@pytest.mark.parametrize(
    ("turns", "overrides", "reason"),
    [
        ([error_turn(400, "ThrottlingException", "Rate exceeded")] * 4, {}, "llm_throttled"),
        ([slow_turn(text_turn(narrative_json()), 2.0)], {"llm_call_timeout_s": 0.3}, "llm_timeout"),
        ([], {"bedrock_endpoint_url": "http://127.0.0.1:9"}, "llm_unreachable"),
    ],
    ids=["throttled", "timeout", "outage"],
)
async def test_a_failing_provider_leaves_the_deterministic_triage_with_the_reason_recorded(
    stack: TestStack, fake: FakeBedrockRuntime, turns: list[Any], overrides: dict[str, Any], reason: str
) -> None:
    fake.script(*turns)
    async with hunter(stack, **{**bedrock(fake.url), **overrides}) as (_, runtime):
        baseline = alert(BENIGN_TEXT)
        result = await triage(runtime, baseline)

    assert result["reasoning"] == "deterministic"
    assert result["degraded_reason"] == reason
    assert result["verdict"] == "malicious"
    assert result["narrative"].startswith(result["summary"])
    assert result["usage"]["failed_calls"] >= 1
    assert result["usage"]["output_tokens"] == 0


async def test_a_model_that_keeps_calling_tools_is_stopped_by_the_call_budget_and_the_spend_is_kept(
    stack: TestStack, fake: FakeBedrockRuntime
) -> None:
    # The default budget allows 6 model calls per task.
    fake.script(
        *[
            tool_use_turn(("intel_match", {"indicator": f"203.0.113.{i}"}), input_tokens=100, output_tokens=10)
            for i in range(6)
        ],
    )
    async with hunter(stack, **bedrock(fake.url)) as (_, runtime):
        result = await triage(runtime, alert(BENIGN_TEXT))
        stored = await runtime.db.fetchrow(
            "SELECT degraded_reason, model_calls, input_tokens FROM th_reasoning_runs WHERE incident_id = $1",
            result["incident_id"],
        )

    assert len(fake.received) == 6
    assert result["reasoning"] == "deterministic"
    assert result["degraded_reason"] == "budget_exhausted:max_model_calls"
    assert (result["usage"]["model_calls"], result["usage"]["input_tokens"]) == (6, 600)
    assert stored is not None
    assert (stored["degraded_reason"], stored["model_calls"], stored["input_tokens"]) == (
        "budget_exhausted:max_model_calls",
        6,
        600,
    )
