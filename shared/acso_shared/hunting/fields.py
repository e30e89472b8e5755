"""Field access on nested CloudTrail records through dotted Sigma field names.

`userIdentity.type` walks into nested objects; a list on the way is fanned out, so
`requestParameters.ipPermissions.items.ipRanges.items.cidrIp` yields every CIDR of every
permission. A field matches when any of its values matches, as Sigma backends do for arrays.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any


def resolve(record: Mapping[str, Any], field: str) -> tuple[Any, ...]:
    """All leaf values at a dotted path; empty when the path is absent."""
    if field in record:  # flattened records keep dotted keys at the top level
        return _flatten((record[field],))
    parts = _split(field)
    node: Any = record
    # Fast path: plain nested objects, the shape of nearly every CloudTrail field.
    for depth, part in enumerate(parts):
        if not isinstance(node, Mapping) or part not in node:
            return ()
        node = node[part]
        if isinstance(node, list):
            return _fan_out(_flatten((node,)), parts[depth + 1 :])
    return _flatten((node,))


def _fan_out(nodes: tuple[Any, ...], parts: tuple[str, ...]) -> tuple[Any, ...]:
    current = nodes
    for part in parts:
        current = _flatten(tuple(n[part] for n in current if isinstance(n, Mapping) and part in n))
        if not current:
            return ()
    return current


@lru_cache(maxsize=4096)
def _split(field: str) -> tuple[str, ...]:
    return tuple(field.split("."))


def _flatten(values: tuple[Any, ...]) -> tuple[Any, ...]:
    if not any(isinstance(v, list) for v in values):
        return values
    out: list[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(_flatten(tuple(value)))
        else:
            out.append(value)
    return tuple(out)


def as_text(value: Any) -> str | None:
    """The text a Sigma string is compared with; None for nulls and containers.

    Booleans are rendered as JSON does (`true`), because rules written against the JSON record
    say `enable: 'false'` as often as `enable: false`.
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _walk_leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _walk_leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_leaves(value)
    else:
        yield node


class EventView:
    """One record plus per-field caches shared by every rule evaluated on it.

    Many rules test the same few fields (eventSource, eventName, userIdentity.type); resolving
    and lower-casing each once per event is most of what keeps the pack fast.
    """

    __slots__ = ("_lowered", "_texts", "_values", "record")

    def __init__(self, record: Mapping[str, Any]) -> None:
        self.record = record
        self._values: dict[str, tuple[Any, ...]] = {}
        self._texts: dict[str, tuple[str, ...]] = {}
        self._lowered: dict[str, tuple[str, ...]] = {}

    def values(self, field: str) -> tuple[Any, ...]:
        """Raw leaf values of a field."""
        try:
            return self._values[field]
        except KeyError:
            found = self._values[field] = resolve(self.record, field)
            return found

    def texts(self, field: str) -> tuple[str, ...]:
        """Text forms of the scalar values of a field (case preserved)."""
        try:
            return self._texts[field]
        except KeyError:
            found = tuple(t for t in map(as_text, self.values(field)) if t is not None)
            self._texts[field] = found
            return found

    def lowered(self, field: str) -> tuple[str, ...]:
        """Lower-cased text forms, for Sigma's default case-insensitive matching."""
        try:
            return self._lowered[field]
        except KeyError:
            found = self._lowered[field] = tuple(t.lower() for t in self.texts(field))
            return found

    def all_texts(self) -> tuple[str, ...]:
        """Every scalar value anywhere in the record, for keyword searches."""
        key = "\x00keywords"  # cannot collide with a field name from YAML
        try:
            return self._texts[key]
        except KeyError:
            found = tuple(t for t in map(as_text, _walk_leaves(self.record)) if t is not None)
            self._texts[key] = found
            return found

    def all_lowered(self) -> tuple[str, ...]:
        """Lower-cased `all_texts`."""
        key = "\x00keywords"
        try:
            return self._lowered[key]
        except KeyError:
            found = self._lowered[key] = tuple(t.lower() for t in self.all_texts())
            return found
