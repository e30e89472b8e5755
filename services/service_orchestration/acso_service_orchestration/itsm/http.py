"""The one HTTP client every ITSM adapter uses: timeouts, retries with backoff, typed failures.

Retried: HTTP 429 (honouring Retry-After), every 5xx, connection errors and timeouts. Not
retried: other 4xx, which mean ACSO sent something the ITSM will never accept. When attempts
run out the caller gets `Upstream("itsm_unavailable")`; a refusal is `Upstream("itsm_rejected")`
with the status in `details`. Redirects are never followed (see urlpolicy).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import aiohttp
import structlog
from yarl import URL

from acso_service_orchestration.itsm.models import ItsmSystem
from acso_shared.errors import Upstream

log = structlog.get_logger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
_ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Full-jitter exponential backoff: sleep U(0, min(cap, base * 2**n))."""

    max_attempts: int = 5
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_retry_after_s: float = 120.0
    timeout_s: float = 15.0

    def backoff(self, attempt: int, rand: float) -> float:
        """The delay before retry number `attempt` (1-based) for a uniform draw `rand` in [0, 1)."""
        return rand * min(self.max_delay_s, self.base_delay_s * 2.0 ** (attempt - 1))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RequestAuth(Protocol):
    """Produces the Authorization header for a request; may fetch and cache tokens."""

    async def headers(self, http: ItsmHttp) -> dict[str, str]:
        """Headers to add to every authenticated request."""
        ...

    def invalidate(self) -> bool:
        """Forget cached tokens after a 401; True if a fresh attempt could now succeed."""
        ...


@dataclass(frozen=True)
class HttpResult:
    """A successful response, body already read."""

    status: int
    headers: Mapping[str, str]
    body: Any

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object, or Upstream if the ITSM sent something else."""
        if not isinstance(self.body, dict):
            raise Upstream("itsm_bad_response", f"expected a JSON object, got {type(self.body).__name__}")
        return self.body


Sleep = Callable[[float], Awaitable[None]]


class ItsmHttp:
    """HTTP to one ITSM base URL with retries. Share one aiohttp session per process."""

    def __init__(
        self,
        system: ItsmSystem,
        base_url: URL,
        session: aiohttp.ClientSession,
        *,
        auth: RequestAuth | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.system = system
        self.base_url = base_url
        self._session = session
        self._auth = auth
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self._rand = rand

    def url(self, path: str) -> URL:
        """An absolute URL under the base URL; `path` is always relative to it ("" is the base itself)."""
        if not path:
            return self.base_url
        return self.base_url.with_path(self.base_url.path.rstrip("/") + "/" + path.lstrip("/"))

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        authenticated: bool = True,
        body_signer: Callable[[bytes], Mapping[str, str]] | None = None,
    ) -> HttpResult:
        """Send one logical request, retrying transient failures. Returns any 2xx response."""
        url = self.url(path)
        last_problem = "no attempt made"
        reauthenticated = False
        attempt = 0
        while attempt < self.policy.max_attempts:
            attempt += 1
            send_headers = {"Accept": "application/json", **(headers or {})}
            if authenticated and self._auth is not None:
                send_headers.update(await self._auth.headers(self))
            if json_body is not None:
                send_headers["Content-Type"] = "application/json"
                payload: bytes | Mapping[str, str] | None = json.dumps(json_body).encode()
            else:
                payload = data
            if body_signer is not None:
                # Signed per attempt: a signature's timestamp must stay inside the receiver's window.
                send_headers.update(body_signer(payload if isinstance(payload, bytes) else b""))
            retry_after: float | None = None
            try:
                async with self._session.request(
                    method,
                    url,
                    params=params,
                    data=payload,
                    headers=send_headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s),
                ) as resp:
                    raw = await resp.read()
                    status = resp.status
                    if 200 <= status < 300:
                        return HttpResult(status, dict(resp.headers), _decode(raw, resp.content_type))
                    text = raw[:_ERROR_TEXT_LIMIT].decode("utf-8", "replace")
                    if (
                        status == 401
                        and authenticated
                        and self._auth is not None
                        and not reauthenticated
                        and self._auth.invalidate()
                    ):
                        # A cached OAuth token may have been revoked: fetch a fresh one, once.
                        reauthenticated = True
                        attempt -= 1
                        continue
                    if status not in RETRYABLE_STATUSES:
                        raise Upstream(
                            "itsm_rejected",
                            f"{self.system} {method} {url.path} -> HTTP {status}",
                            details={"system": str(self.system), "status": status, "body": text},
                        )
                    last_problem = f"HTTP {status}"
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, TimeoutError) as err:
                last_problem = f"{type(err).__name__}: {err}"
            if attempt >= self.policy.max_attempts:
                break
            delay = self.policy.backoff(attempt, self._rand())
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.policy.max_retry_after_s))
            log.info(
                "itsm_retry",
                system=str(self.system),
                method=method,
                path=url.path,
                attempt=attempt,
                problem=last_problem,
                delay_s=round(delay, 3),
            )
            await self._sleep(delay)
        raise Upstream(
            "itsm_unavailable",
            f"{self.system} {method} {url.path} failed after {attempt} attempts: {last_problem}",
            details={"system": str(self.system), "attempts": attempt, "last_problem": last_problem},
        )


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "json" in content_type:
        try:
            return json.loads(raw)
        except ValueError as err:
            raise Upstream("itsm_bad_response", "the ITSM sent malformed JSON") from err
    return raw.decode("utf-8", "replace")
