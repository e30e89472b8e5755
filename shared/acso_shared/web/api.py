"""Declaring endpoints once: the route table, request parsing, JSON responses and OpenAPI come from it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from acso_shared.errors import Invalid, PayloadTooLarge, UnsupportedMediaType
from acso_shared.web.text import require_storable_text

HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: HandlerFn
    summary: str
    tag: str
    request_model: type[BaseModel] | None = None
    query_model: type[BaseModel] | None = None
    response_model: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    public: bool = False


@dataclass
class ApiRouter:
    """Collects a domain's endpoints; `register` adds them to an aiohttp app."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        request: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        public: bool = False,
    ) -> Callable[[HandlerFn], HandlerFn]:
        def decorate(handler: HandlerFn) -> HandlerFn:
            self.endpoints.append(
                Endpoint(
                    method.upper(), path, handler, summary, self.tag, request, query, response, status, errors, public
                )
            )
            return handler

        return decorate

    def register(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, endpoint.handler)


def _reject_constant(value: str) -> Any:
    raise ValueError(f"non-standard JSON constant {value}")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def loads_strict(raw: bytes) -> Any:
    """Parse JSON strictly: UTF-8 only, no NaN/Infinity, no duplicate keys."""
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as err:
        raise Invalid("json_invalid", "request body is not UTF-8") from err
    except (ValueError, RecursionError) as err:
        raise Invalid("json_invalid", f"request body is not valid JSON: {err}") from err


async def read_json(request: web.Request) -> Any:
    """The request body as strictly parsed JSON (415 for another media type, 413 when too large)."""
    if request.content_type not in ("application/json", "") and not request.content_type.endswith("+json"):
        raise UnsupportedMediaType("unsupported_media_type", f"expected application/json, got {request.content_type}")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as err:
        raise PayloadTooLarge("payload_too_large", f"body exceeds {request.app._client_max_size} bytes") from err
    if not raw:
        raise Invalid("body_missing", "a JSON request body is required")
    return loads_strict(raw)


def validation_message(err: ValidationError) -> str:
    parts = []
    for item in err.errors()[:5]:
        location = ".".join(str(p) for p in item["loc"]) or "body"
        parts.append(f"{location}: {item['msg']}")
    return "; ".join(parts)


def validate_body(data: Any, model: type[ModelT]) -> ModelT:
    """Validate parsed JSON against a request model: text that cannot be stored is 400
    `text_invalid` naming the field, anything else the model refuses is 400 `validation_failed`."""
    require_storable_text(data)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise Invalid("validation_failed", validation_message(err)) from err


async def parse_body(request: web.Request, model: type[ModelT]) -> ModelT:
    """Validate the JSON body against `model`; errors name the offending fields."""
    return validate_body(await read_json(request), model)


def parse_query(request: web.Request, model: type[ModelT]) -> ModelT:
    """Validate the query string against `model` (the one query parser: bounds live on the model's
    fields, see `acso_shared.web.params`; `text_middleware` has refused unstorable text already)."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as err:
        raise Invalid("invalid_query", validation_message(err)) from err


def json_response(data: BaseModel | dict[str, Any] | list[Any], *, status: int = 200) -> web.Response:
    body = data.model_dump_json() if isinstance(data, BaseModel) else json.dumps(data, default=_default)
    return web.Response(body=body, status=status, content_type="application/json")


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
