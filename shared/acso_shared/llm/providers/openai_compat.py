"""Provider for OpenAI-compatible chat-completions endpoints (Ollama, llama.cpp server, vLLM).

Wire format: POST `{base_url}/chat/completions` with `messages` (system/user/assistant/tool roles),
`tools` as `{"type": "function", "function": {name, description, parameters}}`; the answer's
`choices[0].message.tool_calls[].function.arguments` is a JSON string, `finish_reason` is one of
`stop` / `length` / `tool_calls` / `content_filter`, and `usage` has `prompt_tokens` and
`completion_tokens`.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import aiohttp

from acso_shared.llm.conversation import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    EvidenceBlock,
    Message,
    StopReason,
    TextBlock,
    TokenUsage,
    ToolResultBlock,
    ToolUseBlock,
)
from acso_shared.llm.errors import ProviderFailed, ProviderTimeout, ProviderUnavailable
from acso_shared.llm.providers.base import ProviderName, RetryableError, Sleep, with_backoff
from acso_shared.llm.settings import LlmSettings

_FINISH = {
    "stop": StopReason.END_TURN,
    "length": StopReason.MAX_TOKENS,
    "tool_calls": StopReason.TOOL_USE,
    "function_call": StopReason.TOOL_USE,
    "content_filter": StopReason.CONTENT_FILTERED,
}


def _user_text(blocks: list[ContentBlock]) -> str:
    parts: list[str] = []
    for block in blocks:
        if isinstance(block, TextBlock | EvidenceBlock):
            parts.append(block.text)
    return "\n\n".join(parts)


def encode_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """Translate neutral messages into chat-completions messages (tool results become `tool` turns)."""
    out: list[dict[str, Any]] = [{"role": "system", "content": request.system}]
    for message in request.messages:
        if message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.text() or None}
            uses = message.tool_uses()
            if uses:
                entry["tool_calls"] = [
                    {
                        "id": u.tool_use_id,
                        "type": "function",
                        "function": {"name": u.name, "arguments": json.dumps(u.input, sort_keys=True)},
                    }
                    for u in uses
                ]
            out.append(entry)
            continue
        results = [b for b in message.content if isinstance(b, ToolResultBlock)]
        out.extend(
            {"role": "tool", "tool_call_id": r.tool_use_id, "content": json.dumps(r.content, sort_keys=True)}
            for r in results
        )
        text = _user_text(message.content)
        if text:
            out.append({"role": "user", "content": text})
    return out


def build_chat_request(request: ChatRequest, model: str) -> dict[str, Any]:
    """The JSON body of one chat-completions call."""
    body: dict[str, Any] = {
        "model": model,
        "messages": encode_messages(request),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stream": False,
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema},
            }
            for t in request.tools
        ]
        body["tool_choice"] = "auto"
    return body


def _decode_tool_call(call: dict[str, Any]) -> ToolUseBlock:
    function = call.get("function", {})
    raw_args = function.get("arguments") or "{}"
    try:
        args = json.loads(raw_args) if isinstance(raw_args, str) else raw_args
    except json.JSONDecodeError as err:
        return ToolUseBlock(tool_use_id=call["id"], name=function.get("name", ""), input_error=f"arguments: {err}")
    if not isinstance(args, dict):
        return ToolUseBlock(
            tool_use_id=call["id"], name=function.get("name", ""), input_error="arguments are not an object"
        )
    return ToolUseBlock(tool_use_id=call["id"], name=function.get("name", ""), input=args)


def parse_chat_response(body: dict[str, Any], model: str) -> ChatResponse:
    """Translate a chat-completions answer into the neutral response."""
    try:
        choice = body["choices"][0]
        raw = choice["message"]
    except (KeyError, IndexError, TypeError) as err:
        raise ProviderFailed("llm_response_invalid", "chat completion without choices[0].message") from err
    blocks: list[ContentBlock] = []
    if raw.get("content"):
        blocks.append(TextBlock(text=str(raw["content"])))
    blocks.extend(_decode_tool_call(c) for c in raw.get("tool_calls") or [])
    stop = _FINISH.get(choice.get("finish_reason") or "stop", StopReason.END_TURN)
    if stop is StopReason.END_TURN and any(isinstance(b, ToolUseBlock) for b in blocks):
        # Some servers report "stop" even when they emitted tool calls.
        stop = StopReason.TOOL_USE
    usage = body.get("usage") or {}
    return ChatResponse(
        message=Message(role="assistant", content=blocks),
        stop_reason=stop,
        usage=TokenUsage(
            input_tokens=int(usage.get("prompt_tokens") or 0), output_tokens=int(usage.get("completion_tokens") or 0)
        ),
        model_id=str(body.get("model") or model),
    )


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAICompatibleProvider:
    """Chat completions over aiohttp. Pass a session you own, or let the provider open one."""

    def __init__(
        self,
        settings: LlmSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not settings.openai_base_url or not settings.openai_model:
            raise ProviderUnavailable("llm_not_configured", "openai_base_url and openai_model are required")
        self._settings = settings
        self._url = settings.openai_base_url.rstrip("/") + "/chat/completions"
        self._model = settings.openai_model
        self._session = session
        self._owns_session = session is None
        self._sleep = sleep
        self._rng = rng

    @property
    def name(self) -> ProviderName:
        return ProviderName.OPENAI

    @property
    def model_id(self) -> str:
        return self._model

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._settings.openai_api_key is not None:
            headers["Authorization"] = f"Bearer {self._settings.openai_api_key.get_secret_value()}"
        return headers

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """One chat-completions call; 429/503 retried with backoff, each attempt bounded by the call timeout."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        session = self._session
        body = build_chat_request(request, self._model)
        timeout = aiohttp.ClientTimeout(total=self._settings.call_timeout_s)

        async def attempt() -> dict[str, Any]:
            try:
                async with session.post(self._url, json=body, headers=self._headers(), timeout=timeout) as resp:
                    if resp.status in {429, 503}:
                        raise RetryableError(
                            "llm_throttled" if resp.status == 429 else "llm_service_unavailable",
                            f"HTTP {resp.status}",
                            _retry_after(resp.headers),
                        )
                    if resp.status >= 400:
                        text = (await resp.text())[:300]
                        code = "llm_access_denied" if resp.status in {401, 403} else "llm_upstream_error"
                        raise ProviderFailed(code, f"HTTP {resp.status}: {text}")
                    payload = await resp.json(content_type=None)
            except TimeoutError as err:
                raise ProviderTimeout(
                    "llm_timeout", f"chat completion exceeded {self._settings.call_timeout_s}s"
                ) from err
            except aiohttp.ClientConnectionError as err:
                raise ProviderUnavailable("llm_unreachable", f"{self._url} unreachable: {err}") from err
            except (aiohttp.ContentTypeError, json.JSONDecodeError) as err:
                raise ProviderFailed("llm_response_invalid", "chat completion is not JSON") from err
            if not isinstance(payload, dict):
                raise ProviderFailed("llm_response_invalid", "chat completion is not a JSON object")
            return payload

        payload = await with_backoff(
            attempt,
            max_retries=self._settings.max_retries,
            base_delay_s=self._settings.retry_base_delay_s,
            max_delay_s=self._settings.retry_max_delay_s,
            sleep=self._sleep,
            rng=self._rng,
        )
        return parse_chat_response(payload, self._model)

    async def aclose(self) -> None:
        """Close the session if the provider opened it."""
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
