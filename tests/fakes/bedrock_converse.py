"""A fake Bedrock runtime speaking the Converse wire protocol, for tests over real HTTP.

`POST /model/{modelId}/converse` checks the request the way Bedrock does (SigV4 signature, message
alternation, content-block unions, toolUse/toolResult pairing, toolConfig presence, guardrail
config) and replays a script of turns: text answers, tool calls, guardrail interventions and
errors with the documented `x-amzn-ErrorType` header. The real aiobotocore client talks to it
through `endpoint_url`; every received request is kept for assertions.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import re
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.sigv4 import sigv4_problem

_BLOCK_KEYS = {
    "text",
    "image",
    "document",
    "video",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class Turn:
    """One scripted answer. Build with `text_turn`, `tool_use_turn`, `guardrail_turn` or `error_turn`."""

    content: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str = "end_turn"
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: tuple[int, str, str] | None = None
    guardrail_block: bool = False
    delay_s: float = 0.0


def text_turn(
    text: str, *, input_tokens: int | None = None, output_tokens: int | None = None, stop_reason: str = "end_turn"
) -> Turn:
    return Turn(
        content=[{"text": text}], stop_reason=stop_reason, input_tokens=input_tokens, output_tokens=output_tokens
    )


_ids = itertools.count(1)


def tool_use_turn(
    *calls: tuple[str, dict[str, Any]],
    text: str = "",
    input_tokens: int | None = None,
    output_tokens: int | None = None,
) -> Turn:
    content: list[dict[str, Any]] = [{"text": text}] if text else []
    content += [
        {"toolUse": {"toolUseId": f"tooluse_{next(_ids):06d}", "name": name, "input": args}} for name, args in calls
    ]
    return Turn(content=content, stop_reason="tool_use", input_tokens=input_tokens, output_tokens=output_tokens)


def guardrail_turn(message: str = "Sorry, I can't help with that request.") -> Turn:
    return Turn(content=[{"text": message}], stop_reason="guardrail_intervened", guardrail_block=True)


def error_turn(status: int, code: str, message: str) -> Turn:
    return Turn(error=(status, code, message))


def slow_turn(turn: Turn, delay_s: float) -> Turn:
    turn.delay_s = delay_s
    return turn


@dataclass
class Received:
    model_id: str
    body: dict[str, Any]
    headers: dict[str, str]


class ValidationFailed(Exception):
    pass


def validate_converse_body(body: dict[str, Any]) -> None:
    """Raise ValidationFailed where Bedrock would answer ValidationException."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValidationFailed("messages must be a non-empty list")
    pending_tool_uses: set[str] = set()
    uses_tools = False
    for i, message in enumerate(messages):
        role = message.get("role")
        expected = "user" if i % 2 == 0 else "assistant"
        if role != expected:
            raise ValidationFailed(f"messages[{i}].role must be {expected}: roles alternate, starting with user")
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise ValidationFailed(f"messages[{i}].content must be a non-empty list")
        results: set[str] = set()
        for j, block in enumerate(content):
            keys = set(block)
            if len(keys) != 1 or not keys <= _BLOCK_KEYS:
                raise ValidationFailed(f"messages[{i}].content[{j}] must have exactly one member of ContentBlock")
            (kind,) = keys
            if kind == "guardContent" and role != "user":
                raise ValidationFailed("guardContent is only allowed in user messages")
            if kind == "guardContent" and not isinstance(block["guardContent"].get("text", {}).get("text"), str):
                raise ValidationFailed("guardContent.text.text is required")
            if kind == "toolUse":
                uses_tools = True
                use = block["toolUse"]
                if role != "assistant" or not {"toolUseId", "name", "input"} <= set(use):
                    raise ValidationFailed("toolUse needs toolUseId, name and input, in an assistant message")
            if kind == "toolResult":
                uses_tools = True
                result = block["toolResult"]
                if result.get("toolUseId") not in pending_tool_uses:
                    raise ValidationFailed(
                        f"toolResult {result.get('toolUseId')} answers no toolUse of the previous turn"
                    )
                if not isinstance(result.get("content"), list) or result.get("status", "success") not in {
                    "success",
                    "error",
                }:
                    raise ValidationFailed("toolResult needs a content list and status success|error")
                results.add(result["toolUseId"])
        if role == "user" and pending_tool_uses and results != pending_tool_uses:
            raise ValidationFailed("every toolUse needs exactly one toolResult in the next user message")
        pending_tool_uses = (
            {b["toolUse"]["toolUseId"] for b in content if "toolUse" in b} if role == "assistant" else set()
        )
    if messages[-1]["role"] != "user":
        raise ValidationFailed("the last message must be from the user")
    tool_config = body.get("toolConfig")
    if uses_tools and not tool_config:
        raise ValidationFailed("toolConfig must be defined when messages contain toolUse or toolResult blocks")
    if tool_config:
        for spec in (t.get("toolSpec", {}) for t in tool_config.get("tools", [])):
            if not _TOOL_NAME.match(spec.get("name", "")) or not isinstance(
                spec.get("inputSchema", {}).get("json"), dict
            ):
                raise ValidationFailed("toolSpec needs a valid name and inputSchema.json")
    guard = body.get("guardrailConfig")
    if guard is not None:
        if not guard.get("guardrailIdentifier") or not guard.get("guardrailVersion"):
            raise ValidationFailed("guardrailConfig needs guardrailIdentifier and guardrailVersion")
        if guard.get("trace", "disabled") not in {"enabled", "disabled", "enabled_full"}:
            raise ValidationFailed("guardrailConfig.trace must be enabled|disabled|enabled_full")
    max_tokens = body.get("inferenceConfig", {}).get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise ValidationFailed("inferenceConfig.maxTokens must be >= 1")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message},
        status=status,
        headers={"x-amzn-ErrorType": f"{code}:http://internal.amazon.com/coral/com.amazon.bedrock/"},
    )


class FakeBedrockRuntime:
    """Start with `await fake.start()`; `fake.url` is the endpoint; `fake.script(...)` queues turns."""

    def __init__(self, credentials: dict[str, str] | None = None) -> None:
        self.credentials = credentials or {"testing": "testing"}
        self.turns: deque[Turn] = deque()
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, *turns: Turn) -> None:
        self.turns.extend(turns)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/{model_id}/converse", self._converse)
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

    async def _converse(self, request: web.Request) -> web.Response:
        raw = await request.read()
        problem = sigv4_problem(request, raw, self.credentials, service="bedrock")
        if problem is not None:
            self.rejected.append(problem)
            return _error(403, "UnrecognizedClientException", problem)
        model_id = request.match_info["model_id"]
        try:
            body = json.loads(raw)
            validate_converse_body(body)
        except (ValueError, ValidationFailed) as err:
            self.rejected.append(str(err))
            return _error(400, "ValidationException", str(err))
        self.received.append(Received(model_id=model_id, body=body, headers=dict(request.headers)))
        if not self.turns:
            return _error(500, "InternalServerException", "fake script exhausted")
        turn = self.turns.popleft()
        if turn.delay_s:
            await asyncio.sleep(turn.delay_s)
        if turn.error is not None:
            return _error(*turn.error)
        uses = {b["toolUse"]["name"] for b in turn.content if "toolUse" in b}
        offered = {t["toolSpec"]["name"] for t in body.get("toolConfig", {}).get("tools", [])}
        if not uses <= offered:
            return _error(
                500, "InternalServerException", f"fake script calls tools not offered: {sorted(uses - offered)}"
            )
        input_tokens = turn.input_tokens if turn.input_tokens is not None else math.ceil(len(raw) / 4)
        output_tokens = (
            turn.output_tokens if turn.output_tokens is not None else math.ceil(len(json.dumps(turn.content)) / 4)
        )
        response: dict[str, Any] = {
            "output": {"message": {"role": "assistant", "content": turn.content}},
            "stopReason": turn.stop_reason,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": 12},
        }
        guard = body.get("guardrailConfig")
        if turn.guardrail_block:
            if guard is None:
                return _error(500, "InternalServerException", "fake script: guardrail turn without guardrailConfig")
            response["trace"] = {
                "guardrail": {
                    "inputAssessment": {
                        guard["guardrailIdentifier"]: {
                            "contentPolicy": {
                                "filters": [
                                    {
                                        "type": "PROMPT_ATTACK",
                                        "confidence": "HIGH",
                                        "filterStrength": "HIGH",
                                        "action": "BLOCKED",
                                    }
                                ]
                            }
                        }
                    },
                    "actionReason": "Guardrail blocked.",
                }
            }
        return web.json_response(response)
