"""The JSON error body for requests aiohttp refuses before the application sees them.

aiohttp's HTTP parser rejects an over-long request line or header (`LineTooLong`), too many
headers, a malformed request line or header, or a bad chunked body, and answers through
`RequestHandler.handle_error`, which writes a plain-text body and runs no middleware. There is no
public hook for that response (`web.Application(handler_args=...)` only passes parser limits such
as `max_line_size`/`max_field_size` to the handler), so `install_json_protocol_errors` makes the
app's low-level server build `JsonErrorRequestHandler`s: the same status and connection close,
with `{"error": {"code", "message", "request_id"}}`. It relies on aiohttp's `_make_handler` and
`handle_error` (checked on aiohttp 3.14); where they are missing it leaves aiohttp's plain text.
What stays plain text: bytes that are not HTTP at all, answered before any request exists, and
TLS or connection-level failures, which get no response.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import http_exceptions, web, web_protocol, web_server

from acso_shared.logging import get_logger

log = get_logger("acso.web")


def _code(exc: BaseException | None, status: int) -> tuple[str, str]:
    if isinstance(exc, http_exceptions.LineTooLong):
        return "request_line_too_long", "the request line or a header is longer than the server accepts"
    if isinstance(exc, http_exceptions.BadHttpMethod):
        return "http_method_invalid", "the request method is not valid HTTP"
    if isinstance(exc, http_exceptions.InvalidHeader):
        return "http_header_invalid", "a request header is not valid HTTP"
    if isinstance(exc, http_exceptions.BadHttpMessage):
        return "http_request_invalid", f"the request is not valid HTTP: {exc.message}"[:300]
    if status >= 500:
        return "internal_error", "the service could not complete the request"
    return "http_request_invalid", "the request is not valid HTTP"


class JsonErrorRequestHandler(web_protocol.RequestHandler):
    """aiohttp's connection handler, answering its own refusals with the JSON error body."""

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's own checks and logging (and its ConnectionError when a response already went out).
        super().handle_error(request, status, exc, message)
        from acso_shared.web.middlewares import ErrorBody, ErrorDetail

        code, text = _code(exc, status)
        body = ErrorBody(error=ErrorDetail(code=code, message=text, request_id=str(uuid.uuid4())))
        response = web.Response(status=status, body=body.model_dump_json(), content_type="application/json")
        response.force_close()
        return response


class _JsonErrorServer(web_server.Server):
    def __call__(self) -> web_protocol.RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


def install_json_protocol_errors(app: web.Application) -> None:
    """Make every server of `app` (`web.run_app`, `AppRunner`, test servers) answer low-level
    protocol errors with the JSON error body; see the module docstring for what cannot be shaped."""
    make_handler = getattr(app, "_make_handler", None)
    if make_handler is None or not hasattr(web_protocol.RequestHandler, "handle_error"):
        log.warning("json_protocol_errors_unavailable", reason="aiohttp internals changed")
        return

    def json_errors_handler(*args: Any, **kwargs: Any) -> web_server.Server:
        server = make_handler(*args, **kwargs)
        if type(server) is web_server.Server:
            server.__class__ = _JsonErrorServer
        return server  # type: ignore[no-any-return]

    app._make_handler = json_errors_handler  # type: ignore[method-assign]
