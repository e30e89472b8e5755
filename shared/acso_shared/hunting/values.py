"""Sigma values (after pySigma applied the modifiers) compiled to Python predicates.

pySigma turns `field|modifier: value` into typed values: wildcard strings, regular expressions,
CIDR networks, numeric comparisons, field references, existence checks. Each becomes one closure
over an `EventView`. Strings are matched case-insensitively unless `|cased`, as the Sigma spec
asks; wildcard strings are classified so the common shapes (exact, prefix, suffix, substring)
use plain `str` operations and only mixed wildcards fall back to a compiled regular expression.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import re2  # type: ignore[import-untyped]
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
    TimestampPart,
)

from acso_shared.hunting.fields import ABSENT, EventView, plain_text

Predicate = Callable[[EventView], bool]
TextTest = Callable[[str], bool]


class UnsupportedValue(Exception):
    """A value the native engine cannot evaluate; collected and reported per rule."""


class RegexRejected(UnsupportedValue):
    """A `|re` pattern RE2 cannot run (backreferences, lookaround, too large): never run at all."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """A compiled field/value test. `exact` is set for plain string equality so that OR-ed
    alternatives on one field can be merged into a single set lookup."""

    predicate: Predicate
    exact: tuple[str, bool, str] | None = None  # (field, cased, value as compared)


def _text_test(value: SigmaString, cased: bool) -> tuple[TextTest, str | None]:
    """A test on one text value, plus the literal when the pattern is a plain string."""
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise UnsupportedValue(f"placeholder %{part.name}% (the expand modifier needs a processing pipeline)")
        if isinstance(part, str):
            parts.append(part if cased else part.lower())
        else:
            parts.append(part)
    star = SpecialChars.WILDCARD_MULTI
    plain = [p for p in parts if isinstance(p, str)]
    if not parts:
        return (lambda s: s == ""), ""
    if all(isinstance(p, str) for p in parts):
        literal = "".join(plain)
        return (lambda s: s == literal), literal
    if parts == [star]:
        return (lambda s: True), None
    if len(parts) == 2 and parts[1] == star and isinstance(parts[0], str):
        prefix = parts[0]
        return (lambda s: s.startswith(prefix)), None
    if len(parts) == 2 and parts[0] == star and isinstance(parts[1], str):
        suffix = parts[1]
        return (lambda s: s.endswith(suffix)), None
    if len(parts) == 3 and parts[0] == star and parts[2] == star and isinstance(parts[1], str):
        inner = parts[1]
        return (lambda s: inner in s), None
    pattern = "".join(re.escape(p) if isinstance(p, str) else (".*" if p == star else ".") for p in parts)
    rx = re2.compile(f"(?s){pattern}", _RE2_OPTIONS)  # RE2: mixed wildcards stay linear too
    return (lambda s: rx.fullmatch(s) is not None), None


def _string_leaf(field: str, value: SigmaString) -> Leaf:
    cased = isinstance(value, SigmaCasedString)
    test, literal = _text_test(value, cased)
    if cased:

        def cased_pred(ev: EventView) -> bool:
            return any(test(s) for s in ev.texts(field))

        return Leaf(cased_pred, (field, True, literal) if literal is not None else None)

    read = plain_text(field)

    def pred(ev: EventView) -> bool:
        text = read(ev.record)
        if text is ABSENT:
            return False
        if text is not None:
            return test(text.lower())
        return any(test(s) for s in ev.lowered(field))

    return Leaf(pred, (field, False, literal) if literal is not None else None)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


_COMPARE: dict[CompareOperators, Callable[[float, float], bool]] = {
    CompareOperators.LT: lambda a, b: a < b,
    CompareOperators.LTE: lambda a, b: a <= b,
    CompareOperators.GT: lambda a, b: a > b,
    CompareOperators.GTE: lambda a, b: a >= b,
    CompareOperators.NEQ: lambda a, b: a != b,
}


def parse_time(value: Any) -> datetime | None:
    """A timestamp from ISO 8601 text or epoch seconds; naive times are taken as UTC."""
    if type(value) is str:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


_TIME_PART: dict[TimestampPart, Callable[[datetime], int]] = {
    TimestampPart.MINUTE: lambda d: d.minute,
    TimestampPart.HOUR: lambda d: d.hour,
    TimestampPart.DAY: lambda d: d.day,
    TimestampPart.WEEK: lambda d: d.isocalendar().week,
    TimestampPart.MONTH: lambda d: d.month,
    TimestampPart.YEAR: lambda d: d.year,
}


def _ip_in(network: ipaddress.IPv4Network | ipaddress.IPv6Network, text: str) -> bool:
    try:
        return ipaddress.ip_address(text) in network
    except ValueError:  # sourceIPAddress is often a service name such as "ec2.amazonaws.com"
        return False


# RE2 runs in time linear in the input whatever the pattern, so a user's `(a+)+$` cannot stall the
# agent; what it cannot run (backreferences, lookaround) is refused when the rule is compiled.
# Sigma's `re` sub-modifiers `i`, `m` and `s` become RE2's inline flags of the same letters.
REGEX_MAX_MEM = 8 * 1024 * 1024  # RE2's compiled-program budget: a larger pattern is refused
_RE2_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: "i",
    SigmaRegularExpressionFlag.MULTILINE: "m",
    SigmaRegularExpressionFlag.DOTALL: "s",
}
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.max_mem = REGEX_MAX_MEM


class Regex:
    """A pattern compiled by RE2: `search` returns whether it matches anywhere in the text."""

    __slots__ = ("_rx", "pattern")

    def __init__(self, pattern: str, flags: str = "") -> None:
        self.pattern = pattern
        try:
            self._rx = re2.compile(f"(?{flags}){pattern}" if flags else pattern, _RE2_OPTIONS)
        except re2.error as err:
            reason = err.args[0].decode("utf-8", "replace") if err.args and isinstance(err.args[0], bytes) else str(err)
            raise ValueError(reason) from None

    def search(self, text: str) -> bool:
        """Whether the pattern matches somewhere in `text` (Sigma's `re` is unanchored)."""
        return self._rx.search(text) is not None


def compile_regex(where: str, value: SigmaRegularExpression) -> Regex:
    """RE2 form of a Sigma `|re` value; `RegexRejected` names the field and pattern when RE2 refuses it."""
    pattern = str(value.regexp)
    flags = "".join(sorted(_RE2_FLAGS[f] for f in value.flags))
    try:
        return Regex(pattern, flags)
    except ValueError as err:
        raise RegexRejected(
            f"{where}: regular expression {pattern!r} cannot run under RE2 ({err}); backreferences and "
            "lookaround are not supported, rewrite it without them"
        ) from None


def _field_reference(field: str, ref: SigmaFieldReference) -> Predicate:
    other = ref.field

    def test(a: str, b: str) -> bool:
        if ref.starts_with and ref.ends_with:
            return b in a
        if ref.starts_with:
            return a.startswith(b)
        if ref.ends_with:
            return a.endswith(b)
        return a == b

    def pred(ev: EventView) -> bool:
        theirs = ev.lowered(other)
        return any(test(mine, t) for mine in ev.lowered(field) for t in theirs)

    return pred


def compile_field_value(field: str, value: SigmaType) -> Leaf:
    """Compile `field: value` into a predicate. Raises UnsupportedValue for what it cannot do."""
    if isinstance(value, SigmaString):
        return _string_leaf(field, value)
    if isinstance(value, SigmaExpansion):
        subs = [compile_field_value(field, v).predicate for v in value.values]
        return Leaf(lambda ev: any(p(ev) for p in subs))
    if isinstance(value, SigmaTimestampPart):  # before SigmaNumber: it is a subclass
        part, wanted = _TIME_PART[value.timestamp_part], int(value.number)

        def time_pred(ev: EventView) -> bool:
            for raw in ev.values(field):
                parsed = parse_time(raw)
                if parsed is not None and part(parsed) == wanted:
                    return True
            return False

        return Leaf(time_pred)
    if isinstance(value, SigmaNumber):
        number, text = float(value.number), str(value.number)

        def number_pred(ev: EventView) -> bool:
            for raw in ev.values(field):
                n = _as_number(raw)
                if (n is not None and n == number) or raw == text:
                    return True
            return False

        return Leaf(number_pred)
    if isinstance(value, SigmaBool):
        wanted_bool, wanted_text = value.boolean, str(value.boolean).lower()
        return Leaf(
            lambda ev: any(
                (v is wanted_bool) or (isinstance(v, str) and v.lower() == wanted_text) for v in ev.values(field)
            )
        )
    if isinstance(value, SigmaNull):
        return Leaf(lambda ev: all(v is None for v in ev.values(field)))
    if isinstance(value, SigmaExists):
        read = plain_text(field)

        def present(ev: EventView) -> bool:
            text = read(ev.record)
            if text is ABSENT:
                return False
            return True if text is not None else ev.present(field)

        if value.exists:
            return Leaf(present)
        return Leaf(lambda ev: not present(ev))
    if isinstance(value, SigmaRegularExpression):
        rx = compile_regex(f"field {field!r}", value)
        return Leaf(lambda ev: any(rx.search(s) for s in ev.texts(field)))
    if isinstance(value, SigmaCIDRExpression):
        network = value.network
        return Leaf(lambda ev: any(_ip_in(network, s) for s in ev.texts(field)))
    if isinstance(value, SigmaCompareExpression):
        op, bound = _COMPARE[value.op], float(value.number.number)

        def compare_pred(ev: EventView) -> bool:
            for raw in ev.values(field):
                n = _as_number(raw)
                if n is not None and op(n, bound):
                    return True
            return False

        return Leaf(compare_pred)
    if isinstance(value, SigmaFieldReference):
        return Leaf(_field_reference(field, value))
    raise UnsupportedValue(f"value type {type(value).__name__} on field {field!r}")


def compile_keyword(value: SigmaType) -> Predicate:
    """Compile a keyword (a value without a field): a substring search over every value of the
    record, case-insensitive unless `|cased`. Wildcards inside the keyword keep their meaning."""
    if isinstance(value, SigmaExpansion):
        subs = [compile_keyword(v) for v in value.values]
        return lambda ev: any(p(ev) for p in subs)
    if isinstance(value, SigmaNumber):
        value = SigmaString(str(value.number))
    if isinstance(value, SigmaString):
        star = SpecialChars.WILDCARD_MULTI
        cased = isinstance(value, SigmaCasedString)
        wrapped = value if value.startswith(star) else star + value
        if not wrapped.endswith(star):
            wrapped = wrapped + star
        test, _ = _text_test(wrapped, cased)
        if cased:
            return lambda ev: any(test(s) for s in ev.all_texts())
        return lambda ev: any(test(s) for s in ev.all_lowered())
    if isinstance(value, SigmaRegularExpression):
        rx = compile_regex("keyword", value)
        return lambda ev: any(rx.search(s) for s in ev.all_texts())
    raise UnsupportedValue(f"keyword of type {type(value).__name__}")
