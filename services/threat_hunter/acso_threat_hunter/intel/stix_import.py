"""STIX 2.1 bundles to indicator records, with their threat actors, malware and attack patterns.

Every object is parsed and validated by the `stix2` library (required properties, timestamps,
vocabularies, pattern grammar), as the STIX version it declares: its own `spec_version`, else the
bundle's (STIX 2.0 bundles carry it there), else 2.1. A malformed object or an unparseable pattern
is skipped and reported with its reason, as MISP imports do, so one bad object does not cost the
feed's other indicators; `strict=True` keeps all-or-nothing (the first one rejects the bundle).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import stix2
from stix2.exceptions import STIXError

from acso_shared.errors import Invalid

from .models import RelatedKind, RelatedObject
from .records import IndicatorRecord, ParsedFeed, default_expiry, merge_duplicates
from .stix_pattern import UnsupportedPattern, pattern_values

_RELATED_KINDS = frozenset(k.value for k in RelatedKind)


def load_json(data: bytes | str | Mapping[str, Any], code: str) -> Any:
    """Decode a JSON document, or raise `Invalid(code)` saying where it breaks."""
    if isinstance(data, Mapping):
        return data
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise Invalid(code, f"not a JSON document: {err}") from err


def _describe(obj: Any, index: int) -> str:
    if isinstance(obj, Mapping) and isinstance(obj.get("id"), str):
        return str(obj["id"])
    return f"objects[{index}]"


_VERSIONS = frozenset({"2.0", "2.1"})


def _parse_objects(raw_objects: Sequence[Any], bundle_version: str, feed: ParsedFeed, *, strict: bool) -> list[Any]:
    parsed: list[Any] = []
    first_error: Invalid | None = None
    for i, raw in enumerate(raw_objects):
        try:
            if not isinstance(raw, Mapping) or not isinstance(raw.get("type"), str):
                raise Invalid("stix_invalid", f"objects[{i}] is not a STIX object (no `type`)")
            version = raw.get("spec_version", bundle_version)
            if version not in _VERSIONS:
                raise Invalid("stix_invalid", f"{_describe(raw, i)}: spec_version {version!r} is not 2.0 or 2.1")
            try:
                parsed.append(stix2.parse(dict(raw), allow_custom=True, version=version))
            except (STIXError, ValueError, TypeError, KeyError, AttributeError) as err:
                raise Invalid("stix_invalid", f"{_describe(raw, i)}: {err}") from err
        except Invalid as err:
            if strict:
                raise
            first_error = first_error or err
            feed.warn(f"skipped {err.message}")
    if first_error is not None and not parsed:
        # Nothing in the document is STIX: that is a malformed request, not a feed with gaps.
        raise Invalid(first_error.code, f"no valid STIX object in the bundle; the first: {first_error.message}")
    return parsed


def _external_id(sdo: Any) -> str | None:
    """ATT&CK id (T1566.001, G0016, S0154...) from the object's MITRE external reference."""
    for ref in sdo.get("external_references", None) or []:
        if str(ref.get("source_name", "")).startswith("mitre-") and ref.get("external_id"):
            return str(ref["external_id"])
    return None


def _related(sdo: Any, relationship: str) -> RelatedObject:
    return RelatedObject(
        id=str(sdo["id"]),
        kind=RelatedKind(sdo["type"]),
        name=str(sdo.get("name", sdo["id"])),
        external_id=_external_id(sdo),
        relationship=relationship,
    )


def _context(
    indicator_id: str, sdos: Mapping[str, Any], edges: Mapping[str, list[tuple[str, str]]]
) -> list[RelatedObject]:
    """Objects the indicator points to, and the objects those are linked with one hop further.

    `indicator indicates malware`, then `malware uses attack-pattern` and `intrusion-set uses
    malware`: triage wants the technique and the actor behind a hit, not only the malware name.
    """
    out: dict[str, RelatedObject] = {}
    for first_id, rel in edges.get(indicator_id, []):
        first = sdos.get(first_id)
        if first is None:
            continue
        out.setdefault(first_id, _related(first, rel))
        for second_id, rel2 in edges.get(first_id, []):
            second = sdos.get(second_id)
            if second is not None and second_id != indicator_id:
                out.setdefault(second_id, _related(second, rel2))
    return list(out.values())


def parse_stix_bundle(
    data: bytes | str | Mapping[str, Any],
    *,
    default_confidence: int,
    default_valid_days: int | None,
    now: datetime,
    strict: bool = False,
) -> ParsedFeed:
    """Parse a STIX 2.1 bundle (or a TAXII envelope: anything with `objects`) into indicator records.

    A malformed object, or an indicator whose pattern does not parse, is skipped with a warning
    naming it and the reason; with `strict`, it raises `Invalid("stix_invalid")` /
    `Invalid("stix_invalid_pattern")` instead. Indicators with non-STIX pattern languages, or
    patterns no single observable can satisfy, are skipped with a warning either way.
    """
    doc = load_json(data, "stix_invalid")
    if not isinstance(doc, Mapping) or not isinstance(doc.get("objects", []), list):
        raise Invalid("stix_invalid", "expected a STIX bundle: an object with an `objects` list")
    if "type" in doc and doc["type"] != "bundle":
        raise Invalid("stix_invalid", f"expected type `bundle`, got {doc['type']!r}")
    bundle_version = doc.get("spec_version", "2.1")
    if not isinstance(bundle_version, str) or bundle_version not in _VERSIONS:
        bundle_version = "2.1"
    feed = ParsedFeed()
    objects = _parse_objects(doc.get("objects", []), bundle_version, feed, strict=strict)

    sdos: dict[str, Any] = {}
    indicators: list[Any] = []
    # Relationships as an undirected adjacency list: context flows both ways (actor uses malware).
    edges: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for obj in objects:
        otype = obj.get("type")
        if otype == "indicator":
            indicators.append(obj)
        elif otype in _RELATED_KINDS and not obj.get("revoked", False):
            sdos[str(obj["id"])] = obj
        elif otype == "relationship" and not obj.get("revoked", False):
            src, tgt, rtype = str(obj["source_ref"]), str(obj["target_ref"]), str(obj["relationship_type"])
            edges[src].append((tgt, rtype))
            edges[tgt].append((src, rtype))

    records: list[IndicatorRecord] = []
    for ind in indicators:
        ind_id = str(ind["id"])
        # STIX 2.0 indicators have no pattern_type: their pattern is always a STIX pattern.
        if ind.get("pattern_type", "stix") != "stix":
            feed.warn(f"{ind_id}: pattern_type {ind.get('pattern_type')!r} is not matched, only `stix`")
            continue
        try:
            values = pattern_values(str(ind["pattern"]))
        except Invalid as err:
            if strict:
                raise Invalid(err.code, f"{ind_id}: {err.message}") from err
            feed.warn(f"skipped {ind_id}: {err.message}")
            continue
        except UnsupportedPattern as err:
            feed.warn(f"{ind_id}: pattern not matchable on one observable ({err})")
            continue
        if not values:
            feed.warn(f"{ind_id}: pattern has no IP, domain, URL or file-hash comparison")
            continue
        valid_from: datetime | None = ind.get("valid_from")
        valid_until: datetime | None = ind.get("valid_until")
        related = tuple(_context(ind_id, sdos, edges))
        labels = tuple(dict.fromkeys([*(ind.get("indicator_types") or []), *(ind.get("labels") or [])]))
        for pv in values:
            records.append(
                IndicatorRecord(
                    external_id=ind_id,
                    type=pv.type,
                    value=pv.value,
                    confidence=int(ind.get("confidence", default_confidence)),
                    valid_from=valid_from,
                    valid_until=valid_until or default_expiry(valid_from, now, default_valid_days),
                    revoked=bool(ind.get("revoked", False)),
                    labels=labels,
                    description=ind.get("description") or ind.get("name"),
                    pattern=str(ind["pattern"]),
                    related=related,
                )
            )
    feed.indicators = merge_duplicates(records)
    return feed
