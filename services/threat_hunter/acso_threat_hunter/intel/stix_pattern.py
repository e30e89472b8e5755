"""Turn a STIX 2.1 pattern into the atomic values the matcher can look up.

The pattern is parsed by the `stix2` library (its ANTLR grammar), never by regular expressions.
Only what one observable can satisfy alone is extracted: disjunctions of comparisons on IP,
domain, URL and file-hash properties. An AND inside one observation is kept when it pins a file
hash (the digest identifies the file; the other terms only narrow it). Patterns that need several
observations together (`[a] AND [b]`, `FOLLOWEDBY`) cannot be decided from one observable and are
reported as unsupported rather than approximated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import stix2.patterns as sp
from stix2.pattern_visitor import create_pattern_object

from acso_shared.errors import Invalid

from .models import IndicatorType
from .normalize import infer_indicator, normalize_domain, normalize_hash, normalize_indicator

_HASH_KEYS: dict[str, IndicatorType] = {
    "md5": IndicatorType.MD5,
    "sha-1": IndicatorType.SHA1,
    "sha1": IndicatorType.SHA1,
    "sha-256": IndicatorType.SHA256,
    "sha256": IndicatorType.SHA256,
    "sha-512": IndicatorType.SHA512,
    "sha512": IndicatorType.SHA512,
}
_VALUE_PATHS: dict[tuple[str, str], IndicatorType | None] = {
    ("ipv4-addr", "value"): IndicatorType.IPV4,
    ("ipv6-addr", "value"): IndicatorType.IPV6,
    ("domain-name", "value"): IndicatorType.DOMAIN,
    ("url", "value"): IndicatorType.URL,
    # Either IP family: the referenced object may be an ipv4-addr or ipv6-addr.
    ("network-traffic", "src_ref.value"): None,
    ("network-traffic", "dst_ref.value"): None,
}


class UnsupportedPattern(Exception):
    """The pattern is valid STIX but no single observable can satisfy it."""


@dataclass(frozen=True, slots=True)
class PatternValue:
    type: IndicatorType
    value: str


def _path(obj_path: sp.ObjectPath) -> tuple[str, str]:
    parts: list[str] = []
    for comp in obj_path.property_path:
        name = getattr(comp, "property_name", None)
        if not isinstance(name, str):
            return obj_path.object_type_name, "<list>"
        parts.append(name)
    return obj_path.object_type_name, ".".join(parts)


def _target(obj_path: sp.ObjectPath) -> tuple[IndicatorType | None, bool]:
    """Indicator type of a property path (None = IP of either family) and whether the path is supported."""
    obj_type, prop = _path(obj_path)
    if obj_type == "file" and prop.startswith("hashes."):
        kind = _HASH_KEYS.get(prop.removeprefix("hashes.").strip("'").lower())
        return kind, kind is not None
    if (obj_type, prop) in _VALUE_PATHS:
        return _VALUE_PATHS[(obj_type, prop)], True
    return None, False


def _canonical(kind: IndicatorType | None, raw: str) -> PatternValue:
    if kind is None:
        itype, text = infer_indicator(raw)
        if itype not in (IndicatorType.IPV4, IndicatorType.IPV6):
            raise Invalid("stix_invalid_pattern", f"{raw!r} is not an IP address")
        return PatternValue(itype, text)
    if kind in (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256, IndicatorType.SHA512):
        return PatternValue(kind, normalize_hash(raw, kind)[1])
    return PatternValue(kind, normalize_indicator(kind, raw))


def _string(const: Any) -> str:
    value = getattr(const, "value", None)
    if not isinstance(value, str):
        raise UnsupportedPattern(f"comparison with a non-string constant {value!r}")
    return value


def _comparison(expr: Any) -> list[PatternValue] | None:
    """Values of one comparison, or None when the comparison is on a property we do not match."""
    if getattr(expr, "negated", False):
        return None
    kind, supported = _target(expr.lhs)
    if not supported:
        return None
    if isinstance(expr, sp.EqualityComparisonExpression):
        return [_canonical(kind, _string(expr.rhs))]
    if isinstance(expr, sp.InComparisonExpression):
        return [_canonical(kind, _string(c)) for c in expr.rhs.value]
    if isinstance(expr, sp.IsSubsetComparisonExpression) and kind in (IndicatorType.IPV4, IndicatorType.IPV6, None):
        return [_canonical(kind, _string(expr.rhs))]
    if isinstance(expr, sp.LikeComparisonExpression) and kind is IndicatorType.DOMAIN:
        like = _string(expr.rhs)
        # `%.example.com` is the one LIKE shape that means "any subdomain of"; other wildcards are not values.
        if like.startswith("%.") and "%" not in like[2:] and "_" not in like[2:]:
            return [PatternValue(IndicatorType.DOMAIN, normalize_domain("*." + like[2:]))]
    return None


def _boolean(expr: Any) -> list[PatternValue]:
    if isinstance(expr, sp.ParentheticalExpression):
        return _boolean(expr.expression)
    if isinstance(expr, sp.OrBooleanExpression):
        out: list[PatternValue] = []
        for operand in expr.operands:
            out.extend(_boolean(operand))
        return out
    if isinstance(expr, sp.AndBooleanExpression):
        hashes = [
            v
            for operand in expr.operands
            if not isinstance(operand, (sp.AndBooleanExpression, sp.OrBooleanExpression, sp.ParentheticalExpression))
            for v in (_comparison(operand) or [])
            if v.type in (IndicatorType.MD5, IndicatorType.SHA1, IndicatorType.SHA256, IndicatorType.SHA512)
        ]
        if not hashes:
            raise UnsupportedPattern("an AND of comparisons that does not pin a file hash")
        return hashes
    return _comparison(expr) or []


def _observation(expr: Any) -> list[PatternValue]:
    if isinstance(expr, sp.ParentheticalExpression):
        return _observation(expr.expression)
    if isinstance(expr, sp.QualifiedObservationExpression):
        # WITHIN/REPEATS/START-STOP refine when the observation counts; the value itself is still the IOC.
        return _observation(expr.observation_expression)
    if isinstance(expr, sp.OrObservationExpression):
        out: list[PatternValue] = []
        for operand in expr.operands:
            out.extend(_observation(operand))
        return out
    if isinstance(expr, sp.ObservationExpression):
        return _boolean(expr.operand)
    raise UnsupportedPattern(f"{type(expr).__name__} needs several observations together")


def pattern_values(pattern: str) -> list[PatternValue]:
    """Atomic values of a STIX 2.1 pattern, deduplicated in order.

    Raises `Invalid("stix_invalid_pattern")` for a pattern that does not parse or carries a malformed
    value, and `UnsupportedPattern` for a valid one no single observable can satisfy.
    """
    try:
        tree = create_pattern_object(pattern, version="2.1")
    except Exception as err:  # the ANTLR front end raises bare ParseException/ValueError types
        raise Invalid("stix_invalid_pattern", f"pattern does not parse: {err}") from err
    try:
        values = _observation(tree)
    except Invalid as err:
        raise Invalid("stix_invalid_pattern", err.message) from err
    return list(dict.fromkeys(values))
