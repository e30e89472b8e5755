"""Helpers every format parser shares: the per-item error, safe access into untrusted JSON,
timestamp parsing, and turning pydantic validation errors into one readable sentence."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError


class ErrorCode:
    """Stable machine-readable codes of `normalize_payload` errors."""

    FORMAT_UNKNOWN = "alert_format_unknown"
    INVALID = "alert_invalid"
    BATCH_TOO_LARGE = "batch_too_large"
    BATCH_EMPTY = "batch_empty"


class ItemError(Exception):
    """One input item could not be normalised. `path` locates the problem inside the item."""

    def __init__(self, code: str, problem: str, path: str = "") -> None:
        self.code = code
        self.problem = problem
        self.path = path
        super().__init__(f"{code}: {path + ': ' if path else ''}{problem}")

    def within(self, prefix: str) -> ItemError:
        """The same error, located under `prefix` (e.g. `detail`)."""
        path = f"{prefix}.{self.path}" if self.path and not self.path.startswith("[") else prefix + self.path
        return ItemError(self.code, self.problem, path)


@dataclass(frozen=True)
class ParseContext:
    """What a parser needs besides the item: the receive time (used when a source gives none)."""

    received_at: datetime


def dig(obj: Any, *keys: str | int) -> Any:
    """`obj[k1][k2]...`, or None as soon as a step is missing or of the wrong kind."""
    current = obj
    for key in keys:
        if isinstance(key, int):
            if not isinstance(current, list) or not -len(current) <= key < len(current):
                return None
        elif not isinstance(current, Mapping):
            return None
        current = current[key] if isinstance(key, int) else current.get(key)
        if current is None:
            return None
    return current


def text(value: Any) -> str | None:
    """A non-empty string value, or None (numbers are accepted and rendered, containers are not)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def dicts(value: Any) -> Iterator[dict[str, Any]]:
    """The dict elements of a list (anything else yields nothing): tolerant of sloppy producers."""
    if isinstance(value, list):
        for element in value:
            if isinstance(element, dict):
                yield element


def strings(value: Any) -> list[str]:
    """The string elements of a list (anything else yields nothing)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def parse_time(value: Any, field: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text or epoch seconds/milliseconds.

    Numbers above 1e11 are taken as milliseconds (OCSF `timestamp_t`); below as seconds (Splunk
    `_time`). That cut-off is 1973 in ms and 5138 AD in s, so real values are never ambiguous.
    Naive ISO text is rejected: guessing a zone would silently shift the timeline.
    """
    if isinstance(value, bool):
        raise ItemError(ErrorCode.INVALID, f"{value!r} is not a timestamp", field)
    if isinstance(value, str):
        stripped = value.strip()
        try:
            number = float(stripped)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(stripped)
            except ValueError:
                raise ItemError(ErrorCode.INVALID, f"{_shown(value)} is not an ISO 8601 timestamp", field) from None
            if parsed.tzinfo is None:
                raise ItemError(ErrorCode.INVALID, f"{_shown(value)} has no time zone", field) from None
            return parsed.astimezone(UTC)
        value = number
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ItemError(ErrorCode.INVALID, f"{value!r} is not a timestamp", field)
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ItemError(ErrorCode.INVALID, f"{value!r} is out of range", field) from None
    raise ItemError(ErrorCode.INVALID, "timestamp missing or of the wrong type", field)


def optional_time(value: Any, field: str) -> datetime | None:
    """Like `parse_time`, but None when the value is absent."""
    return None if value is None or value == "" else parse_time(value, field)


def _shown(value: Any, limit: int = 60) -> str:
    """A short, quoted rendering of untrusted input for error messages."""
    rendered = repr(value)
    return rendered if len(rendered) <= limit else rendered[: limit - 3] + "..."


_UNION_TAGS = frozenset({"int", "str", "float", "bool", "list", "dict", "none"})


def _clean_loc(loc: tuple[int | str, ...]) -> str:
    """A dotted path without pydantic's union-member tags (`str-enum[X]`, `constrained-int`, ...)."""
    kept = [str(p) for p in loc if not (isinstance(p, str) and ("[" in p or "-" in p or p in _UNION_TAGS))]
    return ".".join(kept)


def describe_validation_error(err: ValidationError, limit: int = 3) -> tuple[str, str]:
    """(path of the first problem, one sentence listing up to `limit` problems).

    The alternatives of a union field are merged into one problem ("... or ...").
    """
    grouped: dict[str, list[str]] = {}
    for e in err.errors(include_url=False, include_input=False):
        grouped.setdefault(_clean_loc(e["loc"]), []).append(e["msg"])
    parts = [f"{loc or 'item'}: {' or '.join(msgs)}" for loc, msgs in list(grouped.items())[:limit]]
    if len(grouped) > limit:
        parts.append(f"and {len(grouped) - limit} more")
    first = next(iter(grouped), "")
    return first, "; ".join(parts)


def invalid_from(err: ValidationError, what: str) -> ItemError:
    """An `alert_invalid` ItemError for a pydantic error while reading `what` (a format name)."""
    path, summary = describe_validation_error(err)
    return ItemError(ErrorCode.INVALID, f"not a valid {what}: {summary}", path)
