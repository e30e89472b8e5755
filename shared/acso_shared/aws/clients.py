"""The one AWS client factory: aiobotocore clients honouring AWS_ENDPOINT_URL and region.

Clients are created once per process and reused (connection pooling matters: a new client per
call costs a TLS handshake and endpoint resolution). Close them with `aclose()` on shutdown.
Every call they make is counted in `calls` (acso_shared.aws.metrics).
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from acso_shared.aws.metrics import AwsCallCounter
from acso_shared.errors import AcsoError, Conflict, Invalid, NotFound, Unavailable, Upstream
from acso_shared.settings import AcsoSettings

_NOT_FOUND_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "NoSuchKey",
        "NoSuchBucket",
        "NotFoundException",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "NoSuchEntity",
        "InvalidInstanceID.NotFound",
        "WAFNonexistentItemException",
    }
)
_CONFLICT_CODES = frozenset(
    {"ConditionalCheckFailedException", "TransactionCanceledException", "WAFOptimisticLockException"}
)
_INVALID_CODES = frozenset({"ValidationException", "InvalidParameterValue", "InvalidParameterValueException"})
_THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})


def error_code(err: ClientError) -> str:
    """The AWS error code of a ClientError (its `Error.Code`)."""
    return str(err.response.get("Error", {}).get("Code", ""))


def translate_aws_error(err: Exception, operation: str) -> AcsoError:
    """Map an AWS SDK error to the shared hierarchy, by error code, never by message text."""
    if isinstance(err, ClientError):
        code = error_code(err)
        message = f"{operation}: {code}"
        if code in _NOT_FOUND_CODES:
            return NotFound("aws_not_found", message)
        if code in _CONFLICT_CODES:
            return Conflict("aws_conflict", message)
        if code in _INVALID_CODES:
            return Invalid("aws_invalid", message)
        if code in _THROTTLING_CODES:
            return Unavailable("aws_throttled", message)
        return Upstream("aws_error", message)
    if isinstance(err, BotoCoreError):
        return Unavailable("aws_unreachable", f"{operation}: {type(err).__name__}")
    return Upstream("aws_error", f"{operation}: {type(err).__name__}")


class AwsClientFactory:
    """Creates and caches one aiobotocore client per service name; `calls` counts what they call."""

    def __init__(self, settings: AcsoSettings, *, session: AioSession | None = None, max_pool: int = 50) -> None:
        self._settings = settings
        self._session = session or get_session()
        self._config = AioConfig(
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=max_pool,
        )
        self._stack = contextlib.AsyncExitStack()
        self._clients: dict[str, Any] = {}
        self.calls = AwsCallCounter()

    @property
    def region(self) -> str:
        return self._settings.aws_region

    @property
    def endpoint_url(self) -> str | None:
        return self._settings.aws_endpoint_url

    async def client(
        self,
        service: str,
        *,
        endpoint_url: str | None = None,
        attempts: int | None = None,
        read_timeout_s: float | None = None,
    ) -> Any:
        """The shared client for `service` (e.g. "sqs"), created on first use.

        `endpoint_url` is for services whose endpoint is per resource, such as the API Gateway
        management API (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`). `attempts`
        and `read_timeout_s` give a separate client that fails fast, for calls whose answer is
        context a request can do without (Config compliance on an incident page).
        """
        key = f"{service} {endpoint_url} {attempts} {read_timeout_s}"
        existing = self._clients.get(key)
        if existing is not None:
            return existing
        overrides: dict[str, Any] = {}
        if attempts is not None:
            overrides["retries"] = {"max_attempts": attempts, "mode": "standard"}
        if read_timeout_s is not None:
            overrides.update(read_timeout=read_timeout_s, connect_timeout=min(5.0, read_timeout_s))
        config = self._config.merge(AioConfig(**overrides)) if overrides else self._config
        created = await self._stack.enter_async_context(
            self._session.create_client(
                service,  # type: ignore[call-overload]
                region_name=self._settings.aws_region,
                endpoint_url=endpoint_url
                or self._settings.aws_service_endpoints.get(service)
                or self._settings.aws_endpoint_url,
                config=config,
            )
        )
        # Another task may have raced us to create it; keep the first, the stack closes both.
        kept = self._clients.setdefault(key, created)
        if kept is created:
            self.calls.attach(created)
        return kept

    async def aclose(self) -> None:
        self._clients.clear()
        await self._stack.aclose()
