"""The Bedrock provider and the agent loop against the fake Converse server, over real SigV4-signed HTTP."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from acso_shared.llm.evidence import Evidence
from acso_shared.llm.injection import InjectionCategory
from acso_shared.llm.outputs import InvestigationNarrative
from acso_shared.llm.providers.base import ProviderName
from acso_shared.llm.providers.bedrock import BedrockConverseProvider
from acso_shared.llm.providers.select import select_provider
from acso_shared.llm.reasoning import ReasoningLayer, ReasoningTask
from acso_shared.llm.settings import LlmSettings
from tests.fakes.bedrock_converse import (
    FakeBedrockRuntime,
    error_turn,
    guardrail_turn,
    slow_turn,
    text_turn,
    tool_use_turn,
)
from tests.unit.llm.llm_scenarios import ALERT_INSTANCE, ALLOWED, CORPUS, DETERMINISTIC, narrative_json, registry

pytestmark = pytest.mark.integration

MODEL = "anthropic.claude-3-sonnet-20240229-v1:0"


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def fake() -> AsyncIterator[FakeBedrockRuntime]:
    server = FakeBedrockRuntime()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(fake: FakeBedrockRuntime) -> AsyncIterator[Any]:
    async with AsyncExitStack() as stack:
        yield await stack.enter_async_context(
            get_session().create_client(
                "bedrock-runtime",
                region_name="us-east-1",
                endpoint_url=fake.url,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=AioConfig(retries={"total_max_attempts": 1}),
            )
        )


def settings(**overrides: Any) -> LlmSettings:
    return LlmSettings(provider="bedrock", retry_base_delay_s=0, **overrides)


def task(evidence: str = CORPUS["benign"][0]) -> ReasoningTask[InvestigationNarrative]:
    return ReasoningTask(
        agent="threat_hunter",
        purpose="investigate",
        instruction="Investigate the SSH brute-force finding.",
        output_model=InvestigationNarrative,
        deterministic=DETERMINISTIC,
        evidence=[Evidence(source="alert.description", text=evidence)],
        tools=registry(),
        allowed_resources=ALLOWED,
        workflow_id="wf-int",
        incident_id="inc-int",
    )


async def test_tool_use_conversation_round_trips_through_the_converse_wire_format(fake, client):
    fake.script(
        tool_use_turn(("intel_match", {"indicator": "198.51.100.23"}), input_tokens=900, output_tokens=40),
        tool_use_turn(
            ("isolate_instance", {"instance_id": ALERT_INSTANCE, "reason": "confirmed brute force"}),
            input_tokens=500,
            output_tokens=30,
        ),
        text_turn(narrative_json(0.85), input_tokens=1300, output_tokens=200),
    )
    layer = ReasoningLayer(settings(), BedrockConverseProvider(settings(), client=client))

    outcome = await layer.run(task())

    assert fake.rejected == []
    assert outcome.reasoning == "llm"
    assert outcome.output.confidence == 0.85
    assert [p.resource_ids for p in outcome.proposals] == [{"instance_id": ALERT_INSTANCE}]
    assert [r.model_id for r in fake.received] == [MODEL] * 3
    second = fake.received[1].body
    assert second["messages"][1]["content"][0]["toolUse"]["name"] == "intel_match"
    assert second["messages"][2]["content"][0]["toolResult"]["content"][0]["json"]["matched"] is True
    assert second["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["type"] == "object"
    assert (outcome.usage.input_tokens, outcome.usage.output_tokens) == (900 + 500 + 1300, 40 + 30 + 200)
    assert [c.stop_reason for c in outcome.calls] == ["tool_use", "tool_use", "end_turn"]


async def test_evidence_is_sent_as_guard_content_with_the_guardrail_config(fake, client):
    fake.script(text_turn(narrative_json()))
    s = settings(guardrail_id="gr-abc123", guardrail_version="3")

    await ReasoningLayer(s, BedrockConverseProvider(s, client=client)).run(task())

    body = fake.received[0].body
    assert body["guardrailConfig"] == {"guardrailIdentifier": "gr-abc123", "guardrailVersion": "3", "trace": "enabled"}
    guarded = [b["guardContent"] for b in body["messages"][0]["content"] if "guardContent" in b]
    assert len(guarded) == 1
    assert guarded[0]["text"]["qualifiers"] == ["guard_content"]
    assert "| UnauthorizedAccess:EC2/SSHBruteForce" in guarded[0]["text"]["text"]


async def test_guardrail_intervention_keeps_the_deterministic_result_and_flags_the_attack(fake, client):
    fake.script(guardrail_turn())
    s = settings(guardrail_id="gr-abc123", guardrail_version="3")

    outcome = await ReasoningLayer(s, BedrockConverseProvider(s, client=client)).run(task(CORPUS["attacks"][0]["text"]))

    assert outcome.reasoning == "deterministic"
    assert outcome.degraded_reason == "guardrail_intervened"
    categories = {f.category for f in outcome.injection_findings}
    assert {InjectionCategory.GUARDRAIL_PROMPT_ATTACK, InjectionCategory.INSTRUCTION_OVERRIDE} <= categories


async def test_throttling_is_retried_with_backoff(fake, client):
    fake.script(error_turn(429, "ThrottlingException", "Too many requests"), text_turn(narrative_json()))
    s = settings()

    outcome = await ReasoningLayer(s, BedrockConverseProvider(s, client=client, sleep=no_sleep)).run(task())

    assert outcome.reasoning == "llm"
    assert len(fake.received) == 2


async def test_persistent_throttling_degrades_to_deterministic(fake, client):
    fake.script(*[error_turn(429, "ThrottlingException", "Too many requests")] * 3)
    s = settings(max_retries=2)

    outcome = await ReasoningLayer(s, BedrockConverseProvider(s, client=client, sleep=no_sleep)).run(task())

    assert (outcome.reasoning, outcome.degraded_reason) == ("deterministic", "llm_throttled")
    assert len(fake.received) == 3


async def test_access_denied_is_not_retried(fake, client):
    fake.script(error_turn(403, "AccessDeniedException", "You don't have access to the model"))
    s = settings()

    outcome = await ReasoningLayer(s, BedrockConverseProvider(s, client=client, sleep=no_sleep)).run(task())

    assert outcome.degraded_reason == "llm_access_denied"
    assert len(fake.received) == 1


async def test_slow_model_hits_the_per_call_timeout(fake, client):
    fake.script(slow_turn(text_turn(narrative_json()), 0.5))
    s = settings(call_timeout_s=0.1)

    outcome = await ReasoningLayer(s, BedrockConverseProvider(s, client=client)).run(task())

    assert outcome.degraded_reason == "llm_timeout"


async def test_wrongly_signed_request_is_refused_by_the_fake(fake):
    fake.script(text_turn(narrative_json()))
    factory = lambda: get_session().create_client(  # noqa: E731
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake.url,
        aws_access_key_id="testing",
        aws_secret_access_key="not-the-secret",
    )
    provider = BedrockConverseProvider(settings(), client_factory=factory)

    outcome = await ReasoningLayer(settings(), provider).run(task())
    await provider.aclose()

    assert outcome.degraded_reason == "llm_upstream_error"
    assert fake.rejected == ["signature does not match"]


async def test_endpoint_down_degrades_cleanly():
    server = FakeBedrockRuntime()
    url = await server.start()
    await server.stop()
    s = settings(bedrock_endpoint_url=url, bedrock_region="us-east-1", call_timeout_s=5)
    provider = select_provider(
        s,
        bedrock_client_factory=lambda: get_session().create_client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=AioConfig(retries={"total_max_attempts": 1}),
        ),
    )

    outcome = await ReasoningLayer(s, provider).run(task())
    await provider.aclose()

    assert provider.name is ProviderName.BEDROCK
    assert (outcome.reasoning, outcome.degraded_reason) == ("deterministic", "llm_unreachable")
