"""Provider-neutral conversation model: what the agent loop sends and receives.

Each provider translates these to its wire format (Converse, chat completions) and back, so the loop,
the cache and the tests never depend on one vendor's JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class StopReason(StrEnum):
    """Why the model stopped; the Converse names, which the OpenAI provider maps onto."""

    END_TURN = "end_turn"
    TOOL_USE = "tool_use"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"
    GUARDRAIL_INTERVENED = "guardrail_intervened"
    CONTENT_FILTERED = "content_filtered"
    MALFORMED_MODEL_OUTPUT = "malformed_model_output"
    MALFORMED_TOOL_USE = "malformed_tool_use"
    MODEL_CONTEXT_WINDOW_EXCEEDED = "model_context_window_exceeded"


class TextBlock(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["text"] = "text"
    text: str


class EvidenceBlock(BaseModel):
    """Untrusted content (alert text, log lines), already wrapped as quoted evidence.

    Bedrock sends it as a `guardContent` block when a guardrail is configured, so the guardrail
    evaluates exactly this text for prompt attacks; other providers see it as plain quoted text.
    """

    model_config = ConfigDict(frozen=True)
    type: Literal["evidence"] = "evidence"
    evidence_id: str
    source: str
    text: str


class ToolUseBlock(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["tool_use"] = "tool_use"
    tool_use_id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)
    # Set when the provider could not decode the arguments (e.g. invalid JSON from a local model).
    input_error: str | None = None


class ToolResultBlock(BaseModel):
    model_config = ConfigDict(frozen=True)
    type: Literal["tool_result"] = "tool_result"
    tool_use_id: str
    content: dict[str, Any]
    status: Literal["success", "error"] = "success"


ContentBlock = Annotated[TextBlock | EvidenceBlock | ToolUseBlock | ToolResultBlock, Field(discriminator="type")]


class Message(BaseModel):
    model_config = ConfigDict(frozen=True)
    role: Literal["user", "assistant"]
    content: list[ContentBlock]

    def text(self) -> str:
        """The concatenated text blocks of this message."""
        return "".join(block.text for block in self.content if isinstance(block, TextBlock))

    def tool_uses(self) -> list[ToolUseBlock]:
        """The tool calls the model asked for in this message, in order."""
        return [block for block in self.content if isinstance(block, ToolUseBlock)]


class ToolSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str
    input_schema: dict[str, Any]


class ChatRequest(BaseModel):
    """One model call. Its canonical JSON is the cache key, so everything that shapes the answer is here."""

    model_config = ConfigDict(frozen=True)
    system: str
    messages: list[Message]
    tools: list[ToolSpec] = Field(default_factory=list)
    max_tokens: int = Field(ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)


class TokenUsage(BaseModel):
    model_config = ConfigDict(frozen=True)
    input_tokens: int = Field(default=0, ge=0)
    output_tokens: int = Field(default=0, ge=0)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class GuardrailReport(BaseModel):
    """What the guardrail said about this call (from the Converse `trace.guardrail`)."""

    model_config = ConfigDict(frozen=True)
    intervened: bool = False
    prompt_attack_detected: bool = False
    action_reason: str | None = None
    blocked_filters: list[str] = Field(default_factory=list)


class ChatResponse(BaseModel):
    model_config = ConfigDict(frozen=True)
    message: Message
    stop_reason: StopReason
    usage: TokenUsage
    model_id: str
    latency_ms: int | None = None
    guardrail: GuardrailReport | None = None
