"""Sending with retries: HTTP posts (Slack, webhooks) and SES, each attempt classified as done,
retryable (429, 5xx, network, throttling) or permanent (other 4xx, rejected sender)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from acso_shared.auth.webhooks import SIGNATURE_HEADER, sign

_RETRYABLE_SES_CODES = frozenset({"Throttling", "ThrottlingException", "ServiceUnavailable", "InternalFailure"})


class DeliveryError(Exception):
    """One failed attempt; `retry_after_s` is the channel's own Retry-After, when it sent one."""

    def __init__(self, message: str, *, retryable: bool, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    backoff_base_s: float = 0.5
    max_retry_after_s: float = 10.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def delay(self, attempt: int, error: DeliveryError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if error.retry_after_s is not None:
            return min(error.retry_after_s, self.max_retry_after_s)
        return float(self.backoff_base_s * 2 ** (attempt - 1))


def send_with_retries(send: Callable[[], None], policy: RetryPolicy) -> int:
    """Call `send` until it succeeds; returns the attempts used or raises the last `DeliveryError`."""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            send()
        except DeliveryError as err:
            if not err.retryable or attempt == policy.max_attempts:
                raise
            policy.sleep(policy.delay(attempt, err))
        else:
            return attempt
    raise AssertionError("unreachable: the loop returns or raises")


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: str


def post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> HttpResponse:
    """POST `body`; HTTP error statuses are returned, network failures raise a retryable error."""
    if not url.startswith(("https://", "http://")):
        raise DeliveryError("the channel URL is not http(s)", retryable=False)
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return HttpResponse(
                response.status, dict(response.headers), response.read(65536).decode("utf-8", "replace")
            )
    except urllib.error.HTTPError as err:
        return HttpResponse(err.code, dict(err.headers or {}), err.read(65536).decode("utf-8", "replace"))
    except (OSError, ValueError) as err:
        raise DeliveryError(f"network error: {type(err).__name__}", retryable=True) from err


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def check_http(response: HttpResponse, what: str) -> None:
    """Raise for anything but a 2xx; 429 and 5xx are retryable, honouring Retry-After."""
    if 200 <= response.status < 300:
        return
    retryable = response.status == 429 or response.status >= 500
    detail = response.body.strip()[:200]
    raise DeliveryError(
        f"{what} answered {response.status}: {detail}",
        retryable=retryable,
        retry_after_s=_retry_after(response.headers) if retryable else None,
    )


def post_slack(url: str, payload: bytes, timeout_s: float) -> None:
    """One incoming-webhook call: Slack answers 200 with the body `ok` when it accepted the message."""
    response = post(url, payload, {"Content-Type": "application/json; charset=utf-8"}, timeout_s)
    check_http(response, "Slack")
    if response.body.strip() != "ok":
        raise DeliveryError(f"Slack did not accept the message: {response.body.strip()[:200]}", retryable=False)


def post_signed(url: str, body: bytes, secret: str, timeout_s: float, clock: Callable[[], float] = time.time) -> None:
    """One signed webhook call (`X-ACSO-Signature`, verifiable with `acso_shared.auth.webhooks`)."""
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(body, secret, clock=clock),
        "User-Agent": "acso-notification/1",
    }
    check_http(post(url, body, headers, timeout_s), "the webhook")


def send_email(ses: Any, sender: str, recipients: list[str], subject: str, text: str, html_body: str) -> None:
    """One SES `SendEmail`; throttling is retryable, a rejected message or unverified sender is not."""
    try:
        ses.send_email(
            Source=sender,
            Destination={"ToAddresses": recipients},
            Message={
                "Subject": {"Data": subject, "Charset": "UTF-8"},
                "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": html_body, "Charset": "UTF-8"}},
            },
        )
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        raise DeliveryError(f"SES refused the message: {code}", retryable=code in _RETRYABLE_SES_CODES) from err
    except BotoCoreError as err:
        raise DeliveryError(f"SES unreachable: {type(err).__name__}", retryable=True) from err
