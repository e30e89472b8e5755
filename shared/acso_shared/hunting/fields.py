"""Field access on nested CloudTrail records through dotted Sigma field names.

`userIdentity.type` walks into nested objects; a list on the way is fanned out, so
`requestParameters.ipPermissions.items.ipRanges.items.cidrIp` yields every CIDR of every
permission. A field matches when any of its values matches, as Sigma backends do for arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


def resolve(record: Mapping[str, Any], field: str) -> tuple[Any, ...]:
    """All leaf values at a dotted path; empty when the path is absent."""
    value = record.get(field, _MISSING)  # top-level fields; flattened records keep dotted keys there too
    if value is not _MISSING:
        return _flatten((value,)) if type(value) is list else (value,)
    parts = _PARTS.get(field) or _split(field)
    if len(parts) == 1:
        return ()
    node: Any = record
    # Fast path: plain nested objects, the shape of nearly every CloudTrail field.
    for depth, part in enumerate(parts):
        if type(node) is dict:
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return ()
        elif isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return ()
        if type(node) is list:
            return _fan_out(_flatten((node,)), parts[depth + 1 :])
    return (node,)


_MISSING = object()
_PARTS: dict[str, tuple[str, ...]] = {}


ABSENT = "\x00absent"  # plain_text's answer for a field the record does not have


def plain_text(field: str) -> Callable[[Mapping[str, Any]], str | None]:
    """A fast reader of a field that usually holds one string: the string; `ABSENT` when the
    record has no such field; None when the value is anything else (a list, a number, null), for
    the caller to fall back on `resolve`. The hot path of most rules: two or three dict look-ups,
    no allocation."""
    parts = tuple(field.split("."))
    if len(parts) == 1:

        def top(record: Mapping[str, Any]) -> str | None:
            value = record.get(field, ABSENT) if type(record) is dict else None
            return value if type(value) is str else None

        return top

    def nested(record: Mapping[str, Any]) -> str | None:
        node: Any = record
        for part in parts:
            if type(node) is not dict:
                return None
            node = node.get(part, _MISSING)
            if node is _MISSING:
                return None if field in record else ABSENT  # flattened records keep dotted keys
        return node if type(node) is str else None

    return nested


def _fan_out(nodes: tuple[Any, ...], parts: tuple[str, ...]) -> tuple[Any, ...]:
    current = nodes
    for part in parts:
        current = _flatten(tuple(n[part] for n in current if isinstance(n, Mapping) and part in n))
        if not current:
            return ()
    return current


def _split(field: str) -> tuple[str, ...]:
    parts = tuple(field.split("."))
    if len(_PARTS) < 4096:
        _PARTS[field] = parts
    return parts


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
        found = self._values.get(field)
        if found is None:
            found = self._values[field] = resolve(self.record, field)
        return found

    def texts(self, field: str) -> tuple[str, ...]:
        """Text forms of the scalar values of a field (case preserved)."""
        found = self._texts.get(field)
        if found is None:
            values = self._values.get(field)
            if values is None:
                values = self._values[field] = resolve(self.record, field)
            if len(values) == 1 and type(values[0]) is str:
                found = values
            else:
                found = tuple(t for t in map(as_text, values) if t is not None)
            self._texts[field] = found
        return found

    def lowered(self, field: str) -> tuple[str, ...]:
        """Lower-cased text forms, for Sigma's default case-insensitive matching."""
        found = self._lowered.get(field)
        if found is None:
            values = self._values.get(field)
            if values is None:
                values = self._values[field] = resolve(self.record, field)
            if len(values) == 1 and type(values[0]) is str:  # the common case, in one step
                found = (values[0].lower(),)
            else:
                found = tuple(t.lower() for t in self.texts(field))
            self._lowered[field] = found
        return found

    def present(self, field: str) -> bool:
        """Whether the field has a non-null value (Sigma's `|exists: true`)."""
        values = self._values.get(field)
        if values is None:
            values = self._values[field] = resolve(self.record, field)
        for value in values:  # noqa: SIM110 - the hot path: a loop beats any() over a generator
            if value is not None:
                return True
        return False

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
