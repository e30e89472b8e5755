"""Shared test material for the reasoning-layer tests: sample tools, a scripted provider, the corpus."""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from acso_shared.errors import AcsoError
from acso_shared.llm.conversation import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    Message,
    StopReason,
    TextBlock,
    TokenUsage,
    ToolUseBlock,
)
from acso_shared.llm.outputs import Hypothesis, InvestigationNarrative
from acso_shared.llm.providers.base import ProviderName
from acso_shared.llm.tools import MutatingTool, ReadOnlyTool, ResourceId, ToolRegistry

CORPUS = json.loads((Path(__file__).parent / "injection_corpus.json").read_text())
ALERT_INSTANCE = "i-0a1b2c3d4e5f60789"
ALERT_USER = "arn:aws:iam::111122223333:user/build-bot"
ALLOWED = frozenset({ALERT_INSTANCE, ALERT_USER})


class IntelMatchInput(BaseModel):
    indicator: str = Field(description="an IP address, domain or hash from the alert")


class IntelMatchResult(BaseModel):
    indicator: str
    matched: bool
    sources: list[str]


class IsolateInstanceInput(BaseModel):
    instance_id: ResourceId
    reason: str = Field(max_length=300)


class DisableKeysInput(BaseModel):
    principals: list[ResourceId]
    reason: str


class IntelCalls:
    """A read-only intel lookup that records what it was asked."""

    def __init__(self, known: dict[str, list[str]] | None = None, returned_text: str | None = None) -> None:
        self.known = known or {"198.51.100.23": ["abuse.ch"]}
        self.calls: list[str] = []
        self.returned_text = returned_text

    async def __call__(self, args: IntelMatchInput) -> IntelMatchResult:
        self.calls.append(args.indicator)
        sources = self.known.get(args.indicator, [])
        if self.returned_text is not None:
            sources = [*sources, self.returned_text]
        return IntelMatchResult(indicator=args.indicator, matched=bool(sources), sources=sources)


def registry(intel: IntelCalls | None = None) -> ToolRegistry:
    return ToolRegistry(
        [
            ReadOnlyTool(
                "intel_match", "Look up an indicator in threat intel.", IntelMatchInput, intel or IntelCalls()
            ),
            MutatingTool("isolate_instance", "Propose isolating an EC2 instance.", IsolateInstanceInput, "ec2.isolate"),
            MutatingTool(
                "disable_access_keys", "Propose disabling IAM access keys.", DisableKeysInput, "iam.disable_keys"
            ),
        ]
    )


DETERMINISTIC = InvestigationNarrative(narrative="Deterministic triage: SSH brute force, intel match.", confidence=0.7)


def narrative_json(confidence: float = 0.9, narrative: str = "The source IP is a known brute-forcer.") -> str:
    return InvestigationNarrative(
        narrative=narrative,
        hypotheses=[
            Hypothesis(statement="Credentials were guessed", check_with_tool="intel_match", attack_technique="T1110")
        ],
        confidence=confidence,
    ).model_dump_json()


def text_response(
    text: str, *, tokens: tuple[int, int] = (100, 20), stop: StopReason = StopReason.END_TURN
) -> ChatResponse:
    return ChatResponse(
        message=Message(role="assistant", content=[TextBlock(text=text)]),
        stop_reason=stop,
        usage=TokenUsage(input_tokens=tokens[0], output_tokens=tokens[1]),
        model_id="anthropic.claude-3-sonnet-20240229-v1:0",
    )


def tool_response(*calls: tuple[str, dict[str, Any]], tokens: tuple[int, int] = (100, 20)) -> ChatResponse:
    blocks: list[ContentBlock] = [
        ToolUseBlock(tool_use_id=f"tu-{i}-{name}", name=name, input=args) for i, (name, args) in enumerate(calls)
    ]
    return ChatResponse(
        message=Message(role="assistant", content=blocks),
        stop_reason=StopReason.TOOL_USE,
        usage=TokenUsage(input_tokens=tokens[0], output_tokens=tokens[1]),
        model_id="anthropic.claude-3-sonnet-20240229-v1:0",
    )


class ScriptedProvider:
    """An in-memory provider replaying responses or raising errors, recording every request."""

    def __init__(self, *script: ChatResponse | AcsoError, name: ProviderName = ProviderName.BEDROCK) -> None:
        self.script: deque[ChatResponse | AcsoError] = deque(script)
        self.requests: list[ChatRequest] = []
        self._name = name

    @property
    def name(self) -> ProviderName:
        return self._name

    @property
    def model_id(self) -> str:
        return "anthropic.claude-3-sonnet-20240229-v1:0"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if not self.script:
            raise AssertionError("scripted provider exhausted: the loop made an unexpected call")
        step = self.script.popleft()
        if isinstance(step, AcsoError):
            raise step
        return step

    async def aclose(self) -> None:
        return None
