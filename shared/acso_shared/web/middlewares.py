"""The middlewares every service runs, outermost first: request id, access log, errors, headers, size."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from acso_shared.errors import AcsoError, MethodNotAllowed, NotFound, PayloadTooLarge, TooManyRequests
from acso_shared.logging import bind_context, clear_context, get_logger
from acso_shared.web.keys import AGENT_NAME
from acso_shared.web.text import require_storable_text

REQUEST_ID_HEADER = "X-Request-Id"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
REQUEST_ID_KEY = "acso_request_id"

log = get_logger("acso.web")


class ErrorDetail(BaseModel):
    code: str
    message: str
    request_id: str


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_response(err: AcsoError, request_id: str) -> web.Response:
    body = ErrorBody(error=ErrorDetail(code=err.code, message=err.message, request_id=request_id))
    response = web.Response(body=body.model_dump_json(), status=err.status, content_type="application/json")
    if isinstance(err, TooManyRequests):
        response.headers["Retry-After"] = str(max(1, round(err.retry_after_s)))
    allow = err.details.get("allow") if isinstance(err, MethodNotAllowed) else None
    if allow:
        response.headers["Allow"] = ", ".join(sorted(allow))
    return response


def method_not_allowed(method: str, allowed: set[str] | frozenset[str]) -> MethodNotAllowed:
    """405 for `method` on a route that exists; the response carries `Allow`."""
    return MethodNotAllowed(
        "method_not_allowed",
        f"{method} is not allowed here; allowed: {', '.join(sorted(allowed))}",
        details={"allow": sorted(allowed)},
    )


@web.middleware
async def request_context_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Accept a sane caller request id or make one; bind it to the log context; one access line per request."""
    clear_context()
    supplied = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = supplied if _REQUEST_ID_RE.match(supplied) else str(uuid.uuid4())
    request[REQUEST_ID_KEY] = request_id
    bind_context(request_id=request_id, agent=request.app.get(AGENT_NAME, "unknown"))
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        if request.path not in ("/healthz", "/readyz"):
            log.info(
                "request",
                method=request.method,
                path=request.path,
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
                remote=request.remote,
                principal=request.get("acso_principal_name"),
            )


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Map the error hierarchy to JSON; 5xx bodies stay generic, details go to the log."""
    request_id = request.get(REQUEST_ID_KEY, "")
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except AcsoError as err:
        if err.status >= 500:
            log.error("request_failed", error_code=err.code, error=err.message)
            err = type(err)(err.code, "the service could not complete the request")
        return error_response(err, request_id)
    except web.HTTPRequestEntityTooLarge:
        return error_response(PayloadTooLarge("payload_too_large", "request body too large"), request_id)
    except web.HTTPNotFound:
        return error_response(NotFound("route_not_found", f"no route {request.path}"), request_id)
    except web.HTTPMethodNotAllowed as exc:
        return error_response(method_not_allowed(request.method, exc.allowed_methods), request_id)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return error_response(_http_error(exc.status, code), request_id)
    except Exception:
        log.exception("unhandled_error", method=request.method, path=request.path)
        return error_response(AcsoError("internal_error", "internal error"), request_id)


def _http_error(status: int, code: str) -> AcsoError:
    err = AcsoError(code, code.replace("_", " "))
    err.status = status  # type: ignore[misc]
    return err


@web.middleware
async def body_limit_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Reject a declared oversize body before reading any of it (413)."""
    limit = request.app._client_max_size
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge("payload_too_large", f"body of {request.content_length} bytes exceeds {limit}")
    response: web.StreamResponse = await handler(request)
    return response


@web.middleware
async def text_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Refuse a path or query whose text cannot be stored (a NUL, `/v1/incidents/%00`): 400
    `text_invalid` naming the parameter, before authentication or any handler sees it."""
    require_storable_text(request.path, where="path")
    for key, value in request.query.items():
        require_storable_text({key: value}, where="query")
    response: web.StreamResponse = await handler(request)
    return response


SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}


@web.middleware
async def security_headers_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    if not response.prepared:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response
