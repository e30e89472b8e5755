"""Text PostgreSQL cannot store, refused once for everything a person types.

PostgreSQL `text`/`jsonb` cannot hold U+0000, and a lone surrogate (`"\\ud800"` in JSON) has no
UTF-8 encoding at all: either one reaching the database is a 500 half-way through a request.
Request bodies parsed into a request model, query parameters and path segments are checked here
before any handler runs; the error names the offending field. Alert payloads are not checked here:
the normalisers replace such characters and note it, so an alert is never lost over a character.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from acso_shared.errors import Invalid

TEXT_INVALID: Final = "text_invalid"
_MAX_DEPTH: Final = 256


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as PostgreSQL text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate, which has no UTF-8 encoding"
    return None


def _label(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "body"


def find_invalid_text(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str, str] | None:
    """The first `(field, reason)` of a string (or object key) in `value` that cannot be stored."""
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return _label(where), problem
        elif isinstance(item, Mapping):
            for key, child in reversed(list(item.items())):
                if isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        return _label((*where, repr(key)[1:-1])), f"has a key that {problem}"
                stack.append((child, (*where, key)))
        elif isinstance(item, list | tuple) and len(where) < _MAX_DEPTH:
            stack.extend((child, (*where, index)) for index, child in reversed(list(enumerate(item))))
    return None


def require_storable_text(value: Any, *, where: str = "") -> None:
    """Raise `Invalid("text_invalid")` naming the first field whose text cannot be stored."""
    found = find_invalid_text(value)
    if found is None:
        return
    field, problem = found
    label = f"{where}.{field}" if where and field != "body" else (where or field)
    raise Invalid(TEXT_INVALID, f"{label}: the text {problem}, which cannot be stored")
