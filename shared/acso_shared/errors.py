"""The one error hierarchy. Every error has a stable machine-readable code and an HTTP status.

The web middleware maps these to `{"error": {"code", "message", "request_id"}}`; anything that is
not an `AcsoError` becomes a generic 500 whose details go only to the log. AWS `ClientError`s are
translated at the client wrappers with `raise ... from err`, never matched on message text.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AcsoError(Exception):
    """Base of every error ACSO raises on purpose."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(self, code: str | None = None, message: str = "", *, details: dict[str, Any] | None = None) -> None:
        self.code = code or self.default_code
        self.message = message or self.code.replace("_", " ")
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message}")


class Invalid(AcsoError):
    """The request or message is malformed or violates a rule (400)."""

    status = 400
    default_code = "invalid"


class Unauthorized(AcsoError):
    """No valid credentials (401)."""

    status = 401
    default_code = "unauthorized"


class Forbidden(AcsoError):
    """Authenticated but not allowed (403)."""

    status = 403
    default_code = "forbidden"


class NotFound(AcsoError):
    status = 404
    default_code = "not_found"


class MethodNotAllowed(AcsoError):
    status = 405
    default_code = "method_not_allowed"


class Conflict(AcsoError):
    """The state does not allow this now (409), e.g. an approval already decided."""

    status = 409
    default_code = "conflict"


class PayloadTooLarge(AcsoError):
    status = 413
    default_code = "payload_too_large"


class UnsupportedMediaType(AcsoError):
    status = 415
    default_code = "unsupported_media_type"


class Unprocessable(AcsoError):
    """Well-formed but semantically unusable input (422)."""

    status = 422
    default_code = "unprocessable"


class TooManyRequests(AcsoError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, code: str | None = None, message: str = "", *, retry_after_s: float = 1.0) -> None:
        super().__init__(code, message, details={"retry_after_s": retry_after_s})
        self.retry_after_s = retry_after_s


class Upstream(AcsoError):
    """A dependency we call (AWS, an ITSM, a model) failed or refused (502)."""

    status = 502
    default_code = "upstream_error"


class Unavailable(AcsoError):
    """We are not ready or are shutting down (503)."""

    status = 503
    default_code = "unavailable"
