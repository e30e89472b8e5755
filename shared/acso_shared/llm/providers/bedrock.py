"""Bedrock Converse provider on an aiobotocore `bedrock-runtime` client.

Wire shapes follow the Converse API (botocore service model `bedrock-runtime` 2023-09-30):
`system`, `messages[].content[]` with `text` / `toolUse` / `toolResult` / `guardContent`, `toolConfig`,
`guardrailConfig` and `inferenceConfig` in; `output.message`, `stopReason`, `usage` and
`trace.guardrail` out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from acso_shared.llm.conversation import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    EvidenceBlock,
    GuardrailReport,
    Message,
    StopReason,
    TextBlock,
    TokenUsage,
    ToolUseBlock,
)
from acso_shared.llm.errors import ProviderFailed, ProviderTimeout, ProviderUnavailable
from acso_shared.llm.providers.base import ProviderName, RetryableError, Sleep, with_backoff
from acso_shared.llm.settings import LlmSettings


class ConverseClient(Protocol):
    """The slice of the aiobotocore `bedrock-runtime` client this provider uses."""

    async def converse(self, **kwargs: Any) -> dict[str, Any]: ...


ClientFactory = Callable[[], AbstractAsyncContextManager[Any]]

# Worth another try: the request was fine, the service was busy.
_RETRYABLE = {
    "ThrottlingException": "llm_throttled",
    "ServiceUnavailableException": "llm_service_unavailable",
    "ModelNotReadyException": "llm_model_not_ready",
    "InternalServerException": "llm_internal_error",
}
# Stable codes for errors retrying cannot fix.
_FAILED = {
    "AccessDeniedException": "llm_access_denied",
    "ResourceNotFoundException": "llm_model_not_found",
    "ValidationException": "llm_request_invalid",
    "ModelErrorException": "llm_model_error",
}


def _encode_block(block: ContentBlock, *, guarded: bool) -> dict[str, Any]:
    if isinstance(block, TextBlock):
        return {"text": block.text}
    if isinstance(block, EvidenceBlock):
        if guarded:
            # `guard_content` asks the guardrail to evaluate exactly this untrusted text.
            return {"guardContent": {"text": {"text": block.text, "qualifiers": ["guard_content"]}}}
        return {"text": block.text}
    if isinstance(block, ToolUseBlock):
        return {"toolUse": {"toolUseId": block.tool_use_id, "name": block.name, "input": block.input}}
    return {
        "toolResult": {
            "toolUseId": block.tool_use_id,
            "content": [{"json": block.content}],
            "status": block.status,
        }
    }


def build_converse_request(request: ChatRequest, settings: LlmSettings, model_id: str) -> dict[str, Any]:
    """Translate a neutral request into the keyword arguments of `client.converse`."""
    guarded = settings.guardrail_enabled
    kwargs: dict[str, Any] = {
        "modelId": model_id,
        "system": [{"text": request.system}],
        "messages": [
            {"role": m.role, "content": [_encode_block(b, guarded=guarded) for b in m.content]}
            for m in request.messages
        ],
        "inferenceConfig": {"maxTokens": request.max_tokens, "temperature": request.temperature},
    }
    if request.tools:
        kwargs["toolConfig"] = {
            "tools": [
                {"toolSpec": {"name": t.name, "description": t.description, "inputSchema": {"json": t.input_schema}}}
                for t in request.tools
            ],
            "toolChoice": {"auto": {}},
        }
    if guarded:
        kwargs["guardrailConfig"] = {
            "guardrailIdentifier": settings.guardrail_id,
            "guardrailVersion": settings.guardrail_version,
            "trace": "enabled",
        }
    return kwargs


def _decode_block(raw: dict[str, Any]) -> ContentBlock | None:
    if "text" in raw:
        return TextBlock(text=raw["text"])
    if "toolUse" in raw:
        use = raw["toolUse"]
        tool_input = use.get("input")
        if isinstance(tool_input, dict):
            return ToolUseBlock(tool_use_id=use["toolUseId"], name=use["name"], input=tool_input)
        return ToolUseBlock(
            tool_use_id=use["toolUseId"], name=use["name"], input_error="tool input is not a JSON object"
        )
    # Reasoning traces, citations and images carry nothing the loop acts on.
    return None


def _guardrail_report(body: dict[str, Any], stop: StopReason) -> GuardrailReport | None:
    trace = body.get("trace", {}).get("guardrail")
    if trace is None and stop is not StopReason.GUARDRAIL_INTERVENED:
        return None
    trace = trace or {}
    assessments: list[dict[str, Any]] = list(trace.get("inputAssessment", {}).values())
    for per_output in trace.get("outputAssessments", {}).values():
        assessments.extend(per_output)
    blocked: list[str] = []
    prompt_attack = False
    for assessment in assessments:
        for f in assessment.get("contentPolicy", {}).get("filters", []):
            if f.get("type") == "PROMPT_ATTACK" and f.get("confidence") in {"MEDIUM", "HIGH"}:
                prompt_attack = True
            if f.get("action") == "BLOCKED":
                blocked.append(str(f.get("type")))
        for topic in assessment.get("topicPolicy", {}).get("topics", []):
            if topic.get("action") == "BLOCKED":
                blocked.append(f"TOPIC:{topic.get('name')}")
    return GuardrailReport(
        intervened=stop is StopReason.GUARDRAIL_INTERVENED,
        prompt_attack_detected=prompt_attack,
        action_reason=trace.get("actionReason"),
        blocked_filters=blocked,
    )


def parse_converse_response(body: dict[str, Any], model_id: str) -> ChatResponse:
    """Translate a Converse response into the neutral response."""
    try:
        stop = StopReason(body["stopReason"])
    except ValueError:
        stop = StopReason.MALFORMED_MODEL_OUTPUT
    raw_message = body.get("output", {}).get("message", {"role": "assistant", "content": []})
    blocks = [b for b in (_decode_block(raw) for raw in raw_message.get("content", [])) if b is not None]
    usage = body.get("usage", {})
    return ChatResponse(
        message=Message(role="assistant", content=blocks),
        stop_reason=stop,
        usage=TokenUsage(input_tokens=usage.get("inputTokens", 0), output_tokens=usage.get("outputTokens", 0)),
        model_id=model_id,
        latency_ms=body.get("metrics", {}).get("latencyMs"),
        guardrail=_guardrail_report(body, stop),
    )


class BedrockConverseProvider:
    """Converse over aiobotocore, with retries on throttling and a per-call timeout.

    Give it either `client` (an open aiobotocore client the caller owns) or `client_factory` (an
    async context manager factory, e.g. `lambda: session.create_client("bedrock-runtime", ...)`),
    which the provider enters on first use and exits in `aclose`.
    """

    def __init__(
        self,
        settings: LlmSettings,
        *,
        client: ConverseClient | None = None,
        client_factory: ClientFactory | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if (client is None) == (client_factory is None):
            raise ValueError("give exactly one of client or client_factory")
        self._settings = settings
        self._client = client
        self._factory = client_factory
        self._stack = AsyncExitStack()
        self._lock = asyncio.Lock()
        self._sleep = sleep
        self._rng = rng

    @property
    def name(self) -> ProviderName:
        return ProviderName.BEDROCK

    @property
    def model_id(self) -> str:
        return self._settings.bedrock_model_id

    async def _get_client(self) -> ConverseClient:
        async with self._lock:
            if self._client is not None:
                return self._client
            assert self._factory is not None
            try:
                client: ConverseClient = await self._stack.enter_async_context(self._factory())
            except (BotoCoreError, OSError) as err:
                raise ProviderUnavailable("llm_unavailable", f"bedrock-runtime client: {err}") from err
            self._client = client
            return client

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One Converse call; throttling retried with backoff, each attempt bounded by the call timeout."""
        client = await self._get_client()
        kwargs = build_converse_request(request, self._settings, self.model_id)

        async def attempt() -> dict[str, Any]:
            try:
                async with asyncio.timeout(self._settings.call_timeout_s):
                    return await client.converse(**kwargs)
            except TimeoutError as err:
                raise ProviderTimeout("llm_timeout", f"converse exceeded {self._settings.call_timeout_s}s") from err
            except ClientError as err:
                code = err.response.get("Error", {}).get("Code", "")
                message = err.response.get("Error", {}).get("Message", "")
                if code in _RETRYABLE:
                    raise RetryableError(_RETRYABLE[code], f"{code}: {message}") from err
                if code == "ModelTimeoutException":
                    raise ProviderTimeout("llm_model_timeout", message) from err
                raise ProviderFailed(_FAILED.get(code, "llm_upstream_error"), f"{code}: {message}") from err
            except NoCredentialsError as err:
                raise ProviderUnavailable("llm_no_credentials", "no AWS credentials for bedrock-runtime") from err
            except (BotoCoreError, OSError) as err:
                # Connection refused, DNS, endpoint unreachable: an outage, not a bad request.
                raise ProviderUnavailable("llm_unreachable", f"bedrock-runtime unreachable: {err}") from err

        body = await with_backoff(
            attempt,
            max_retries=self._settings.max_retries,
            base_delay_s=self._settings.retry_base_delay_s,
            max_delay_s=self._settings.retry_max_delay_s,
            sleep=self._sleep,
            rng=self._rng,
        )
        return parse_converse_response(body, self.model_id)

    async def aclose(self) -> None:
        """Exit the client the provider created; a caller-owned client is left open."""
        await self._stack.aclose()
