"""The OpenAI-compatible provider and the agent loop against the fake chat-completions server."""

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from acso_shared.llm.evidence import Evidence
from acso_shared.llm.outputs import InvestigationNarrative
from acso_shared.llm.providers.base import ProviderName
from acso_shared.llm.providers.none import NoneProvider
from acso_shared.llm.providers.openai_compat import OpenAICompatibleProvider
from acso_shared.llm.providers.select import select_provider
from acso_shared.llm.reasoning import ReasoningLayer, ReasoningTask
from acso_shared.llm.settings import LlmSettings
from acso_shared.llm.tools import ToolCallStatus
from tests.fakes.openai_chat import FakeOpenAIChat, answer, call_tools, failure
from tests.unit.llm.llm_scenarios import ALERT_INSTANCE, ALLOWED, CORPUS, DETERMINISTIC, narrative_json, registry

pytestmark = pytest.mark.integration


async def no_sleep(_: float) -> None:
    return None


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAIChat]:
    server = FakeOpenAIChat(api_key="sk-local")
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def settings(fake: FakeOpenAIChat, **overrides: Any) -> LlmSettings:
    values: dict[str, Any] = {
        "provider": "openai",
        "openai_base_url": fake.url + "/v1",
        "openai_model": "llama3.1:8b",
        "openai_api_key": SecretStr("sk-local"),
        "retry_base_delay_s": 0,
    }
    return LlmSettings(**(values | overrides))


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
    )


async def test_tool_calls_round_trip_through_the_chat_completions_format(fake, session):
    fake.script(
        call_tools(
            ("intel_match", {"indicator": "198.51.100.23"}),
            ("isolate_instance", {"instance_id": ALERT_INSTANCE, "reason": "x"}),
        ),
        answer(narrative_json(0.7), prompt_tokens=800, completion_tokens=90),
    )
    s = settings(fake)

    outcome = await ReasoningLayer(s, OpenAICompatibleProvider(s, session=session)).run(task())

    assert fake.rejected == []
    assert (outcome.reasoning, outcome.provider, outcome.model_id) == ("llm", ProviderName.OPENAI, "llama3.1:8b")
    assert len(outcome.proposals) == 1
    follow_up = fake.received[1]["messages"]
    assert [m["role"] for m in follow_up] == ["system", "user", "assistant", "tool", "tool"]
    assert fake.received[0]["tools"][0]["function"]["name"] == "intel_match"
    assert outcome.usage.cost_usd == 0


async def test_malformed_tool_arguments_are_reported_back_to_the_model(fake, session):
    fake.script(call_tools(("intel_match", "{not json")), answer(narrative_json()))
    s = settings(fake)

    outcome = await ReasoningLayer(s, OpenAICompatibleProvider(s, session=session)).run(task())

    assert outcome.tool_calls[0].status is ToolCallStatus.REJECTED
    assert outcome.tool_calls[0].error_code == "tool_input_invalid"
    assert outcome.reasoning == "llm"


async def test_rate_limit_is_retried_honouring_retry_after(fake, session):
    delays: list[float] = []

    async def record(s: float) -> None:
        delays.append(s)

    fake.script(failure(429, "slow down", retry_after="1"), answer(narrative_json()))
    s = settings(fake)

    outcome = await ReasoningLayer(s, OpenAICompatibleProvider(s, session=session, sleep=record)).run(task())

    assert outcome.reasoning == "llm"
    assert delays == [1.0]


async def test_wrong_api_key_degrades_without_retrying(fake, session):
    s = settings(fake, openai_api_key=SecretStr("wrong"))

    outcome = await ReasoningLayer(s, OpenAICompatibleProvider(s, session=session, sleep=no_sleep)).run(task())

    assert outcome.degraded_reason == "llm_access_denied"
    assert fake.rejected == ["invalid api key"]


async def test_selecting_openai_without_a_base_url_degrades_to_none():
    provider = select_provider(LlmSettings(provider="openai"))

    assert isinstance(provider, NoneProvider)
    assert provider.reason == "llm_not_configured"
    outcome = await ReasoningLayer(LlmSettings(provider="openai"), provider).run(task())
    assert (outcome.reasoning, outcome.degraded_reason) == ("deterministic", "llm_not_configured")
