"""Observable validation and normalisation, shared by every format parser.

Rules: IPs are parsed with `ipaddress` and written in compressed form; domains, e-mail
addresses and hashes are lower-cased (domains also lose a trailing dot); hashes may carry an
`ALGO:` prefix (OCSF style), which is dropped and checked against the length; ARNs, principal
ids, access key ids and instance ids keep their case but must match the AWS id syntax. Values are
deduplicated on (type, value), first occurrence wins. At most `MAX_OBSERVABLES` are kept per
alert, so one crafted payload cannot blow up the correlation tables.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from acso_shared.alerts.common import ErrorCode, ItemError, text
from acso_shared.alerts.models import Observable, ObservableType

MAX_OBSERVABLES = 200

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")
_EMAIL = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9.-]{1,253}$")
_ARN = re.compile(r"^arn:aws[a-z-]*:(?:iam|sts)::\d{12}:[\w+=,.@/:-]{1,1024}$")
_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,128}$")
_PRINCIPAL_ID = re.compile(r"^[A-Z0-9]{16,128}(?::[\w+=,.@-]{1,128})?$")
_ACCESS_KEY = re.compile(r"^(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}$")
_INSTANCE = re.compile(r"^m?i-[0-9a-f]{8,17}$")
_ACCOUNT = re.compile(r"^\d{12}$")
_HEX = re.compile(r"^[0-9a-f]+$")
_HASH_LENGTHS: dict[ObservableType, int] = {
    ObservableType.HASH_MD5: 32,
    ObservableType.HASH_SHA1: 40,
    ObservableType.HASH_SHA256: 64,
    ObservableType.HASH_SHA512: 128,
}
_HASH_BY_LENGTH = {length: kind for kind, length in _HASH_LENGTHS.items()}


def _ip(value: str) -> str | None:
    try:
        return ipaddress.ip_address(value.strip("[]")).compressed
    except ValueError:
        return None


def _domain(value: str) -> str | None:
    lowered = value.lower().rstrip(".")
    return lowered if _DOMAIN.match(lowered) and _ip(lowered) is None else None


def _url(value: str) -> str | None:
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https", "ftp"} or not parts.netloc or any(c.isspace() for c in value):
        return None
    return value


def _email(value: str) -> str | None:
    lowered = value.lower()
    return lowered if _EMAIL.match(lowered) else None


def _principal(value: str) -> str | None:
    return value if _ARN.match(value) or _IAM_NAME.match(value) else None


def _matcher(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        return value if pattern.match(value) else None

    return check


def _hash(kind: ObservableType) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        digest = value.split(":", 1)[1] if ":" in value else value
        digest = digest.strip().lower()
        return digest if len(digest) == _HASH_LENGTHS[kind] and _HEX.match(digest) else None

    return check


_NORMALISERS: dict[ObservableType, Callable[[str], str | None]] = {
    ObservableType.IP: _ip,
    ObservableType.DOMAIN: _domain,
    ObservableType.URL: _url,
    ObservableType.EMAIL: _email,
    ObservableType.PRINCIPAL: _principal,
    ObservableType.PRINCIPAL_ID: _matcher(_PRINCIPAL_ID),
    ObservableType.ACCESS_KEY_ID: _matcher(_ACCESS_KEY),
    ObservableType.INSTANCE_ID: _matcher(_INSTANCE),
    ObservableType.ACCOUNT_ID: _matcher(_ACCOUNT),
    **{kind: _hash(kind) for kind in _HASH_LENGTHS},
}


def normalise(kind: ObservableType, value: str) -> str | None:
    """The canonical form of `value` as a `kind` observable, or None when it is not one."""
    stripped = value.strip()
    if not stripped or len(stripped) > 2048:
        return None
    return _NORMALISERS[kind](stripped)


def classify(value: str) -> tuple[ObservableType, str] | None:
    """Guess the type of an untyped value (a Splunk field), most specific syntax first."""
    stripped = value.strip()
    if not stripped or len(stripped) > 2048:
        return None
    for kind in (
        ObservableType.IP,
        ObservableType.URL,
        ObservableType.EMAIL,
        ObservableType.INSTANCE_ID,
        ObservableType.ACCESS_KEY_ID,
    ):
        found = _NORMALISERS[kind](stripped)
        if found is not None:
            return kind, found
    if _ARN.match(stripped):
        return ObservableType.PRINCIPAL, stripped
    lowered = stripped.lower()
    if _HEX.match(lowered) and len(lowered) in _HASH_BY_LENGTH:
        return _HASH_BY_LENGTH[len(lowered)], lowered
    domain = _domain(stripped)
    if domain is not None and "." in domain:
        return ObservableType.DOMAIN, domain
    return None


class ObservableCollector:
    """Accumulates validated, normalised, deduplicated observables for one alert.

    `strict` collectors (ACSO's own schema, where the producer typed the value explicitly) raise
    `alert_invalid` on a bad value; lenient ones (vendor formats) skip it, because one odd optional
    field in a GuardDuty finding must not make us drop the finding.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self._strict = strict
        self._seen: set[tuple[ObservableType, str]] = set()
        self._items: list[Observable] = []
        #: Values a strict collector skipped instead of rejecting: they hold U+FFFD, the mark of a
        #: character PostgreSQL could not store (see `text.scrub`), and an alert is never lost
        #: over a character. The parser turns them into notes.
        self.dropped: list[str] = []

    def add(self, kind: ObservableType, value: Any, name: str | None = None) -> str | None:
        """Add one value; returns its normalised form, or None when it was absent or rejected."""
        raw = text(value)
        if raw is None:
            return None
        found = normalise(kind, raw)
        if found is None:
            shown = raw if len(raw) <= 60 else raw[:57] + "..."
            if self._strict and "\ufffd" in raw:
                self.dropped.append(f"dropped {name or kind.value}: {shown!r} is not a valid {kind.value}")
            elif self._strict:
                raise ItemError(ErrorCode.INVALID, f"{shown!r} is not a valid {kind.value}", name or "")
            return None
        self._append(kind, found, name)
        return found

    def add_untyped(self, value: Any, name: str | None = None) -> None:
        """Add a value whose type is guessed with `classify`; unrecognisable values are skipped."""
        raw = text(value)
        guessed = classify(raw) if raw is not None else None
        if guessed is not None:
            self._append(guessed[0], guessed[1], name)

    def _append(self, kind: ObservableType, value: str, name: str | None) -> None:
        key = (kind, value)
        if key in self._seen or len(self._items) >= MAX_OBSERVABLES:
            return
        self._seen.add(key)
        self._items.append(Observable(type=kind, value=value, name=name[:256] if name else None))

    def result(self) -> list[Observable]:
        """The observables collected so far, in order of first appearance."""
        return list(self._items)
