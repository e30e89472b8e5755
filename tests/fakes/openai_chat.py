"""A fake OpenAI-compatible chat-completions server (the API Ollama, llama.cpp server and vLLM expose).

`POST /v1/chat/completions` checks the bearer key when one is configured, validates the message
sequence (system/user/assistant/tool roles, every assistant `tool_calls` id answered by a `tool`
message, tools as `{"type": "function", "function": {...}}`) and replays scripted turns.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_ids = itertools.count(1)


@dataclass
class ChatTurn:
    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error: tuple[int, str] | None = None
    retry_after: str | None = None
    delay_s: float = 0.0


def answer(text: str, *, prompt_tokens: int | None = None, completion_tokens: int | None = None) -> ChatTurn:
    return ChatTurn(content=text, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)


def call_tools(*calls: tuple[str, dict[str, Any] | str]) -> ChatTurn:
    """Tool calls; pass a string as arguments to send raw (possibly invalid) JSON."""
    return ChatTurn(
        tool_calls=[
            {
                "id": f"call_{next(_ids):06d}",
                "type": "function",
                "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
            }
            for name, args in calls
        ],
        finish_reason="tool_calls",
    )


def failure(status: int, message: str, *, retry_after: str | None = None) -> ChatTurn:
    return ChatTurn(error=(status, message), retry_after=retry_after)


class ChatValidationFailed(Exception):
    pass


def validate_chat_body(body: dict[str, Any]) -> None:
    """Raise where an OpenAI-compatible server answers 400."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ChatValidationFailed("model is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ChatValidationFailed("messages must be a non-empty list")
    pending: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role")
        if role not in {"system", "user", "assistant", "tool"}:
            raise ChatValidationFailed(f"messages[{i}].role {role!r} is not valid")
        if role == "tool":
            if message.get("tool_call_id") not in pending:
                raise ChatValidationFailed(f"messages[{i}] answers no pending tool call")
            pending.discard(message["tool_call_id"])
            continue
        if pending:
            raise ChatValidationFailed(f"tool calls {sorted(pending)} have no tool message")
        if role == "assistant":
            for call in message.get("tool_calls") or []:
                json.loads(call["function"]["arguments"])
                pending.add(call["id"])
        elif not isinstance(message.get("content"), str):
            raise ChatValidationFailed(f"messages[{i}].content must be a string")
    for tool in body.get("tools") or []:
        if tool.get("type") != "function" or not isinstance(tool.get("function", {}).get("parameters"), dict):
            raise ChatValidationFailed("tools must be function tools with JSON-schema parameters")


class FakeOpenAIChat:
    """Start with `await fake.start()`; base URL for the client is `fake.url + "/v1"`."""

    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.turns: deque[ChatTurn] = deque()
        self.received: list[dict[str, Any]] = []
        self.rejected: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, *turns: ChatTurn) -> None:
        self.turns.extend(turns)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._complete)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        self.rejected.append(message)
        kind = "invalid_request_error" if status == 400 else "server_error"
        return web.json_response(
            {"error": {"message": message, "type": kind, "code": None}}, status=status, headers=headers
        )

    async def _complete(self, request: web.Request) -> web.Response:
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "invalid api key")
        raw = await request.read()
        try:
            body = json.loads(raw)
            validate_chat_body(body)
        except (ValueError, KeyError, TypeError, ChatValidationFailed) as err:
            return self._error(400, str(err))
        self.received.append(body)
        if not self.turns:
            return self._error(500, "fake script exhausted")
        turn = self.turns.popleft()
        if turn.delay_s:
            await asyncio.sleep(turn.delay_s)
        if turn.error is not None:
            headers = {"Retry-After": turn.retry_after} if turn.retry_after else None
            return self._error(turn.error[0], turn.error[1], headers)
        prompt_tokens = turn.prompt_tokens if turn.prompt_tokens is not None else math.ceil(len(raw) / 4)
        message: dict[str, Any] = {"role": "assistant", "content": turn.content}
        if turn.tool_calls:
            message["tool_calls"] = turn.tool_calls
        completion_tokens = (
            turn.completion_tokens if turn.completion_tokens is not None else math.ceil(len(json.dumps(message)) / 4)
        )
        return web.json_response(
            {
                "id": f"chatcmpl-{next(_ids)}",
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": turn.finish_reason}],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )
