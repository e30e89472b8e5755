"""Untrusted alert text: kept verbatim for analysts, but made safe to store, log and display.

Alert titles and descriptions are attacker-influenced (a malicious user agent, a crafted bucket
name). We never interpret them; we only strip characters that can corrupt logs and terminals or
hide text (C0/C1 controls, bidi overrides, zero-width characters) and cap their length.

Before any of that, `scrub` makes a whole parsed payload storable: PostgreSQL cannot store NUL
(U+0000) in `text` or in `jsonb`, and a lone UTF-16 surrogate (`"\ud800"` in JSON) cannot be
encoded as UTF-8 at all. Both are replaced with U+FFFD everywhere (values and keys, `raw`
included), so one such character never loses an alert; the alert's `notes` say how many were
replaced. Numbers JSON cannot carry (NaN, infinities) and nesting deeper than `MAX_DEPTH` are
refused instead, as malformed input.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from acso_shared.alerts.common import ErrorCode, ItemError

TITLE_MAX = 512
DESCRIPTION_MAX = 8192
FIELD_MAX = 512
_ELLIPSIS = "…"

# Bidi embeddings/overrides/isolates and zero-width characters: used to make displayed text
# differ from stored text ("Trojan Source" style tricks).
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff"} | {
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
_SPACES = re.compile(r"[ \t]+")


def _keep(ch: str, multiline: bool) -> bool:
    if ch in _INVISIBLE:
        return False
    if multiline and ch in "\n\t":
        return True
    return unicodedata.category(ch) != "Cc"


def clean_text(value: str, *, max_len: int, multiline: bool = False) -> str:
    """Strip control and invisible characters and cap the length (an ellipsis marks a cut).

    Single-line text (titles, types, names) turns newlines and tabs into spaces first, so a title
    can never forge a second log line. Multi-line text (descriptions) keeps newlines and tabs.
    """
    if not multiline:
        value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    else:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = "".join(ch for ch in value if _keep(ch, multiline))
    if not multiline:
        cleaned = _SPACES.sub(" ", cleaned)
    cleaned = cleaned.strip()
    if len(cleaned) > max_len:
        cleaned = cleaned[: max_len - 1] + _ELLIPSIS
    return cleaned


def clean_title(value: str) -> str:
    """A title: one line, at most `TITLE_MAX` characters."""
    return clean_text(value, max_len=TITLE_MAX)


def clean_description(value: str) -> str:
    """A description: newlines kept, at most `DESCRIPTION_MAX` characters."""
    return clean_text(value, max_len=DESCRIPTION_MAX, multiline=True)


def clean_field(value: str, max_len: int = FIELD_MAX) -> str:
    """A short single-line field (type, product, resource name)."""
    return clean_text(value, max_len=max_len)


REPLACEMENT = "\ufffd"
#: Real findings nest about 12 levels deep (an ASFF resource's details); anything far deeper is
#: hostile, and walking it would only risk the interpreter's recursion limit.
MAX_DEPTH = 64
#: Python refuses to render integers of more than 4300 digits; JSON parsers refuse them earlier.
_MAX_INT_DIGITS = 4000


def _storable(value: str) -> tuple[str, int]:
    """`value` with NULs and lone surrogates replaced, and how many were replaced."""
    if "\x00" not in value:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            pass
        else:
            return value, 0
    count = 0
    chars: list[str] = []
    for ch in value:
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            chars.append(REPLACEMENT)
            count += 1
        else:
            chars.append(ch)
    return "".join(chars), count


def scrub(obj: Any) -> tuple[Any, int]:
    """A copy of a parsed JSON value that PostgreSQL can store, and how many characters were replaced.

    Raises `ItemError(alert_invalid)` for nesting deeper than `MAX_DEPTH`, non-finite numbers and
    integers too long to render (none of which JSON can carry).
    """
    total = 0

    def walk(value: Any, depth: int, path: str) -> Any:
        nonlocal total
        if isinstance(value, str):
            cleaned, count = _storable(value)
            total += count
            return cleaned
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ItemError(ErrorCode.INVALID, "numbers must be finite", path)
            return value
        if isinstance(value, int):
            if value.bit_length() > _MAX_INT_DIGITS * 3:
                raise ItemError(ErrorCode.INVALID, "integer too large", path)
            return value
        if depth >= MAX_DEPTH:
            raise ItemError(ErrorCode.INVALID, f"nested deeper than {MAX_DEPTH} levels", path)
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                clean_key = walk(key, depth, path) if isinstance(key, str) else str(key)
                out[clean_key] = walk(item, depth + 1, f"{path}.{clean_key[:40]}" if path else clean_key[:40])
            return out
        if isinstance(value, list | tuple):
            return [walk(item, depth + 1, f"{path}[{i}]") for i, item in enumerate(value)]
        raise ItemError(ErrorCode.INVALID, f"{type(value).__name__} is not a JSON value", path)

    return walk(obj, 0, ""), total


def replaced_note(count: int) -> str:
    """The normalisation note for `count` replaced characters."""
    noun = "character" if count == 1 else "characters"
    return f"replaced {count} {noun} PostgreSQL cannot store (NUL, lone surrogates) with U+FFFD"
