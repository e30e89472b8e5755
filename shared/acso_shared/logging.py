"""The one logger setup: structlog, JSON outside local, readable locally, secrets redacted.

Context (`request_id`, `agent`, `workflow_id`, `trace_id`) is bound with structlog's contextvars,
per request by the web middleware and per message by the SQS consumer.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from acso_shared.settings import AcsoSettings

bind_context = structlog.contextvars.bind_contextvars
bound_context = structlog.contextvars.bound_contextvars
clear_context = structlog.contextvars.clear_contextvars


def configure_logging(settings: AcsoSettings, *, agent: str | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    from acso_shared.auth.redaction import redact_processor

    use_json = settings.log_format == "json" or (settings.log_format == "auto" and not settings.is_local)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_processor,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(settings.log_level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries log through the stdlib; route them through the same renderer and level.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer,
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("acso").setLevel(settings.log_level)
    if agent:
        bind_context(agent=agent)


def get_logger(name: str = "acso") -> Any:
    """A structlog logger; bind extra keys with `.bind(...)`."""
    return structlog.get_logger(name)
