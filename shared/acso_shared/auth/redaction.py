"""Keep secrets out of logs, error messages and API responses.

Two layers: values under sensitive keys are replaced whole (`password`, `client_secret`,
`Authorization`, `aws_secret_access_key`, `session_token`...), and free text is scanned for things
that look like credentials wherever they appear (JWTs, bearer and basic credentials, AWS key ids
and secret keys, passwords in URLs, `key=value` pairs with a sensitive key, PEM private keys).

`redact_processor` is the structlog processor; `redact_text` cleans one string (an error message
before it goes into a response body); `Redactor` adds deployment-specific keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, Final

import structlog

REDACTED: Final = "[REDACTED]"

# Matched as substrings of the key with separators removed (`X-Api-Key` -> `xapikey`).
_KEY_SUBSTRINGS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "authorization",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "cookie",
    "signature",
)
# Matched as whole words of the key (`session_token`, `accessToken`), so `max_tokens` is kept.
_KEY_WORDS: Final = frozenset({"token", "session", "pwd", "jwt", "bearer", "otp", "pin"})
# A sensitive word followed by one of these names metadata about the secret, not the secret.
_SAFE_LAST_WORDS: Final = frozenset({"arn", "name", "type", "use", "count", "ttl", "version", "length", "expires"})

_WORD_SPLIT: Final = re.compile(r"[^a-z0-9]+")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

_SENSITIVE_KEY_TEXT: Final = (
    r"[A-Za-z0-9_.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key"
    r"|credential|authorization|session)[A-Za-z0-9_.-]*"
)
_TEXT_PATTERNS: Final[tuple[tuple[re.Pattern[str], str], ...]] = (
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
        REDACTED,
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/-]{8,}=*"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA|ABIA|ACCA)[A-Z0-9]{16}\b"), REDACTED),
    # 40 base64 characters with mixed case and a digit: an AWS secret access key. Hex digests
    # (commit ids, SHA-1) are single-case and stay readable.
    (
        re.compile(
            r"(?<![A-Za-z0-9/+=])(?=[A-Za-z0-9/+]{0,39}[A-Z])(?=[A-Za-z0-9/+]{0,39}[a-z])"
            r"(?=[A-Za-z0-9/+]{0,39}[0-9])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
        ),
        REDACTED,
    ),
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]+):[^@\s/]+@"), rf"\1:{REDACTED}@"),
    (
        re.compile(rf"(?i)\b({_SENSITIVE_KEY_TEXT})(\"?\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&\"'}}]+)"),
        rf"\1\2{REDACTED}",
    ),
)


def _words(key: str) -> list[str]:
    return [w for w in _WORD_SPLIT.split(_CAMEL.sub("_", key).lower()) if w]


class Redactor:
    """Redacts sensitive keys and credential-shaped text; `extra_keys` are matched exactly
    (case and separators ignored)."""

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        self._extra = frozenset("".join(_words(k)) for k in extra_keys)

    def is_sensitive_key(self, key: str) -> bool:
        """Whether values under `key` are secrets."""
        words = _words(key)
        if not words:
            return False
        compact = "".join(words)
        if compact in self._extra:
            return True
        if len(words) > 1 and words[-1] in _SAFE_LAST_WORDS:
            return False
        return any(s in compact for s in _KEY_SUBSTRINGS) or any(w in _KEY_WORDS for w in words)

    def redact_text(self, text: str) -> str:
        """Replace credential-shaped substrings of `text`."""
        for pattern, replacement in _TEXT_PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def redact(self, value: Any) -> Any:
        """A copy of `value` with secrets replaced, recursing into mappings and sequences."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {
                k: REDACTED if isinstance(k, str) and self.is_sensitive_key(k) else self.redact(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple | set | frozenset):
            return [self.redact(v) for v in value]
        return value

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        """The structlog processor. Formats `exc_info` first so tracebacks are redacted too,
        wherever this processor sits in the chain."""
        if event_dict.get("exc_info"):
            event_dict = structlog.processors.format_exc_info(logger, method_name, event_dict)
        for key in list(event_dict):
            if self.is_sensitive_key(key):
                event_dict[key] = REDACTED
            else:
                event_dict[key] = self.redact(event_dict[key])
        return event_dict


_DEFAULT: Final = Redactor()


def redact_text(text: str) -> str:
    """Replace credential-shaped substrings of `text` (for error messages and response bodies)."""
    return _DEFAULT.redact_text(text)


def redact(value: Any) -> Any:
    """A copy of `value` (dicts, lists, strings) with secrets replaced."""
    return _DEFAULT.redact(value)


def redact_processor(logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor with the default key list; use `Redactor(extra_keys=...)` for more."""
    return _DEFAULT(logger, method_name, event_dict)
