"""Tracing behind one small module: X-Ray trace headers carried across HTTP and SQS.

The trace header (`Root=1-...;Parent=...;Sampled=...`) is kept in a context variable for the
current request or message, so one workflow is one trace across services whether or not segments
are emitted. With `tracing_enabled`, the aws-xray-sdk recorder also emits segments (server
requests, consumed messages, AWS and outgoing HTTP calls) to the X-Ray daemon over UDP.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from acso_shared.logging import bind_context
from acso_shared.settings import ServiceSettings

TRACE_HEADER = "X-Amzn-Trace-Id"
_current_header: contextvars.ContextVar[str | None] = contextvars.ContextVar("acso_trace_header", default=None)
_enabled = False


def new_trace_id() -> str:
    """An X-Ray trace id: version, epoch seconds in hex, 96 random bits."""
    return f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def parse_trace_header(header: str | None) -> dict[str, str]:
    """Split `Root=...;Parent=...;Sampled=1` into its fields (unknown fields are kept)."""
    fields: dict[str, str] = {}
    for part in (header or "").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key:
            fields[key] = value
    return fields


def trace_id_of(header: str | None) -> str | None:
    return parse_trace_header(header).get("Root")


def current_trace_header() -> str | None:
    return _current_header.get()


def child_trace_header() -> str:
    """The header to send downstream: same Root, a fresh Parent id for the next hop."""
    fields = parse_trace_header(_current_header.get())
    root = fields.get("Root") or new_trace_id()
    sampled = fields.get("Sampled", "1")
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled={sampled}"


@contextlib.contextmanager
def trace_context(header: str | None, name: str) -> Iterator[str]:
    """Make `header` (or a new trace) current, bind its id to the log context, emit a segment if enabled."""
    fields = parse_trace_header(header)
    root = fields.get("Root") or new_trace_id()
    effective = (
        f"Root={root}"
        + (f";Parent={fields['Parent']}" if "Parent" in fields else "")
        + f";Sampled={fields.get('Sampled', '1')}"
    )
    token = _current_header.set(effective)
    bind_context(trace_id=root)
    segment = _begin_segment(name, root, fields.get("Parent"), fields.get("Sampled", "1") != "0")
    try:
        yield effective
    except BaseException as err:
        if segment is not None:
            segment.add_exception(err, [])
        raise
    finally:
        if segment is not None:
            _end_segment()
        _current_header.reset(token)


def _begin_segment(name: str, root: str, parent: str | None, sampled: bool) -> Any:
    if not _enabled:
        return None
    from aws_xray_sdk.core import xray_recorder

    return xray_recorder.begin_segment(name=name, traceid=root, parent_id=parent, sampling=1 if sampled else 0)


def _end_segment() -> None:
    from aws_xray_sdk.core import xray_recorder

    xray_recorder.end_segment()


def configure_tracing(settings: ServiceSettings, service_name: str) -> None:
    """Set up the X-Ray recorder once per process when tracing is enabled."""
    global _enabled
    _enabled = settings.tracing_enabled
    if not _enabled:
        return
    from aws_xray_sdk.core import patch, xray_recorder
    from aws_xray_sdk.core.async_context import AsyncContext

    # The SDK reads the daemon address from the environment too; ours comes from settings.
    os.environ.setdefault("AWS_XRAY_DAEMON_ADDRESS", settings.xray_daemon_address)
    xray_recorder.configure(
        service=service_name,
        context=AsyncContext(),
        daemon_address=settings.xray_daemon_address,
        context_missing="IGNORE_ERROR",
        sampling=False,
    )
    patch(["aiobotocore"])


def client_trace_configs() -> list[Any]:
    """aiohttp client trace configs that record outgoing HTTP calls as subsegments."""
    if not _enabled:
        return []
    from aws_xray_sdk.ext.aiohttp.client import aws_xray_trace_config

    return [aws_xray_trace_config()]


@web.middleware
async def trace_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Continue the caller's trace (or start one) for the request and echo the header back."""
    with trace_context(request.headers.get(TRACE_HEADER), f"{request.method} {request.path}") as header:
        response: web.StreamResponse = await handler(request)
        if not response.prepared:
            response.headers[TRACE_HEADER] = header
        return response
