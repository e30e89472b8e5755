"""HMAC-SHA256 signed webhooks (ITSM and other integrations that cannot hold an OAuth client).

Wire format (documented for integrators), modelled on Stripe's:

    X-ACSO-Signature: t=<unix seconds>,v1=<lowercase hex HMAC-SHA256>

The MAC is computed with the integration's secret over the bytes `b"<t>." + raw_body` (the body
exactly as sent, before any JSON parsing). A header may carry several `v1=` entries so a sender
can sign with the old and the new secret while a secret is rotated; the receiver likewise accepts
any of its configured secrets.

A request is accepted when one `v1` matches (compared in constant time), `t` is within five
minutes of the receiver's clock in either direction, and the request has not been accepted
before: after the MAC checks out, a replay key derived from the integration, `t` and the body is
claimed once through an injected callable (backed by the DynamoDB idempotency table). Claiming
only after the MAC check keeps forged requests from filling that table.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final

from acso_shared.auth.models import AuthMethod, Principal, PrincipalKind, Scope
from acso_shared.errors import Unauthorized, Unavailable

SIGNATURE_HEADER: Final = "X-ACSO-Signature"
SCHEME: Final = "v1"
DEFAULT_TOLERANCE_S: Final = 300
# Bounds parsing work on a header an attacker controls.
MAX_HEADER_LENGTH: Final = 1024
MAX_SIGNATURES: Final = 4

# claim_once(key, expires_at_epoch_s) -> True if this call claimed the key, False if it was taken.
ClaimOnce = Callable[[str, int], Awaitable[bool]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class ParsedSignature:
    timestamp: int
    signatures: tuple[str, ...]


def _as_bytes(secret: str | bytes) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def compute_signature(secret: str | bytes, timestamp: int, body: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of `b"<timestamp>." + body` under `secret`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str | bytes, *, timestamp: int | None = None, clock: Clock = time.time) -> str:
    """The `X-ACSO-Signature` header value a sender attaches to `body` (for clients and tests)."""
    t = int(clock()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={compute_signature(secret, t, body)}"


def parse_signature_header(value: str | None) -> ParsedSignature:
    """Parse `t=<unix>,v1=<hex>[,v1=<hex>...]`; unknown schemes are ignored for forward compatibility."""
    if not value or not value.strip():
        raise Unauthorized("signature_missing", f"the {SIGNATURE_HEADER} header is required")
    if len(value) > MAX_HEADER_LENGTH:
        raise Unauthorized("signature_invalid", "the signature header is too long")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        name, sep, field = item.strip().partition("=")
        if not sep:
            raise Unauthorized("signature_invalid", "the signature header is malformed")
        if name == "t":
            if timestamp is not None or not field.isdigit() or not field.isascii():
                raise Unauthorized("signature_invalid", "the signature timestamp is malformed")
            timestamp = int(field)
        elif name == SCHEME:
            signatures.append(field.lower())
    if timestamp is None or not signatures:
        raise Unauthorized("signature_invalid", "the signature header needs t= and v1=")
    if len(signatures) > MAX_SIGNATURES:
        raise Unauthorized("signature_invalid", "too many signatures")
    return ParsedSignature(timestamp=timestamp, signatures=tuple(signatures))


def replay_key(integration: str, timestamp: int, body: bytes) -> str:
    """The idempotency key of one delivery: independent of which of several `v1` values is sent."""
    digest = hashlib.sha256(str(timestamp).encode("ascii") + b"." + body).hexdigest()
    return f"webhook:{integration}:{digest}"


class WebhookVerifier:
    """Verifies signed webhook deliveries and returns the integration's principal."""

    def __init__(
        self, claim_once: ClaimOnce, *, tolerance_s: int = DEFAULT_TOLERANCE_S, clock: Clock = time.time
    ) -> None:
        self._claim_once = claim_once
        self._tolerance_s = tolerance_s
        self._clock = clock

    async def verify(
        self, integration: str, header: str | None, body: bytes, secrets: Sequence[str | bytes]
    ) -> Principal:
        """Accept one delivery exactly once, or raise `Unauthorized` with `signature_missing`,
        `signature_invalid`, `signature_expired` or `signature_replayed`.

        `secrets` are the integration's current secrets from Secrets Manager (more than one while
        rotating). An integration without a secret is a configuration error: `Unavailable`.
        """
        if not secrets:
            raise Unavailable("webhook_not_configured", f"no signing secret is configured for {integration}")
        parsed = parse_signature_header(header)
        now = self._clock()
        if abs(now - parsed.timestamp) > self._tolerance_s:
            raise Unauthorized("signature_expired", "the signature timestamp is outside the replay window")
        if not self._matches(parsed, body, secrets):
            raise Unauthorized("signature_invalid", "the signature does not match the body")
        # The key must outlive the window in which the same signature would still be accepted.
        expires_at = parsed.timestamp + self._tolerance_s + 1
        if not await self._claim_once(replay_key(integration, parsed.timestamp, body), expires_at):
            raise Unauthorized("signature_replayed", "this delivery was already accepted")
        return Principal(
            subject=f"webhook:{integration}",
            kind=PrincipalKind.MACHINE,
            auth_method=AuthMethod.WEBHOOK_HMAC,
            scopes=frozenset({Scope.WEBHOOKS_WRITE.value}),
            client_id=integration,
        )

    @staticmethod
    def _matches(parsed: ParsedSignature, body: bytes, secrets: Sequence[str | bytes]) -> bool:
        expected = [compute_signature(s, parsed.timestamp, body).encode("ascii") for s in secrets]
        matched = False
        # Compare every pair so the time taken does not depend on where a match is.
        for presented in parsed.signatures:
            candidate = presented.encode("utf-8")
            for want in expected:
                matched |= hmac.compare_digest(candidate, want)
        return matched
