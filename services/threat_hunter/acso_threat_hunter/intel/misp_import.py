"""MISP event JSON to indicator records, with confidence from tags and context from galaxies.

pymisp's `MISPEvent` validates the event (required fields, attribute types against MISP's own
describeTypes); only attributes flagged `to_ids` become indicators, the rest are context.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pymisp import MISPAttribute, MISPEvent
from pymisp.exceptions import PyMISPError

from acso_shared.errors import Invalid

from .models import IndicatorType, RelatedKind, RelatedObject
from .normalize import network_text, normalize_domain, normalize_hash, normalize_url, parse_network
from .records import IndicatorRecord, ParsedFeed, default_expiry, merge_duplicates
from .stix_import import load_json

# MISP attribute type -> which part of a composite `a|b` value is which indicator kind.
_IP = "ip"
_TYPE_PARTS: dict[str, tuple[str | None, ...]] = {
    "ip-src": (_IP,),
    "ip-dst": (_IP,),
    "ip-src|port": (_IP, None),
    "ip-dst|port": (_IP, None),
    "domain": ("domain",),
    "hostname": ("domain",),
    "hostname|port": ("domain", None),
    "domain|ip": ("domain", _IP),
    "url": ("url",),
    "md5": ("md5",),
    "sha1": ("sha1",),
    "sha256": ("sha256",),
    "sha512": ("sha512",),
    "filename|md5": (None, "md5"),
    "filename|sha1": (None, "sha1"),
    "filename|sha256": (None, "sha256"),
    "filename|sha512": (None, "sha512"),
}

# Galaxy types (MISP galaxy `type`) that describe the threat behind an indicator.
_GALAXY_KINDS: dict[str, RelatedKind] = {
    "mitre-attack-pattern": RelatedKind.ATTACK_PATTERN,
    "mitre-enterprise-attack-attack-pattern": RelatedKind.ATTACK_PATTERN,
    "mitre-intrusion-set": RelatedKind.INTRUSION_SET,
    "mitre-enterprise-attack-intrusion-set": RelatedKind.INTRUSION_SET,
    "threat-actor": RelatedKind.THREAT_ACTOR,
    "mitre-malware": RelatedKind.MALWARE,
    "mitre-enterprise-attack-malware": RelatedKind.MALWARE,
    "malpedia": RelatedKind.MALWARE,
    "ransomware": RelatedKind.MALWARE,
    "botnet": RelatedKind.MALWARE,
    "rat": RelatedKind.MALWARE,
    "stealer": RelatedKind.MALWARE,
    "backdoor": RelatedKind.MALWARE,
    "banker": RelatedKind.MALWARE,
    "mitre-tool": RelatedKind.TOOL,
    "mitre-enterprise-attack-tool": RelatedKind.TOOL,
    "tool": RelatedKind.TOOL,
}
_ATTACK_ID = re.compile(r"\b(T\d{4}(?:\.\d{3})?|[GS]\d{4})\b")

# STIX 2.1 spec, Appendix A (confidence scales): the Words of Estimative Probability and
# Admiralty Credibility mappings to 0-100, and MISP's own confidence-level taxonomy on the same footing.
_TAG_CONFIDENCE: dict[str, int] = {
    'estimative-language:likelihood-probability="almost-no-chance"': 5,
    'estimative-language:likelihood-probability="very-unlikely"': 5,
    'estimative-language:likelihood-probability="unlikely"': 20,
    'estimative-language:likelihood-probability="roughly-even-chance"': 50,
    'estimative-language:likelihood-probability="likely"': 70,
    'estimative-language:likelihood-probability="very-likely"': 90,
    'estimative-language:likelihood-probability="almost-certain"': 95,
    'admiralty-scale:information-credibility="1"': 100,
    'admiralty-scale:information-credibility="2"': 80,
    'admiralty-scale:information-credibility="3"': 50,
    'admiralty-scale:information-credibility="4"': 30,
    'admiralty-scale:information-credibility="5"': 10,
    'misp:confidence-level="completely-confident"': 100,
    'misp:confidence-level="usually-confident"': 75,
    'misp:confidence-level="fairly-confident"': 50,
    'misp:confidence-level="rarely-confident"': 25,
    'misp:confidence-level="unconfident"': 0,
}


def _confidence(tags: Iterable[str]) -> int | None:
    """Confidence from the most specific confidence tag; several on one level: the most cautious."""
    scores = [_TAG_CONFIDENCE[t] for t in tags if t in _TAG_CONFIDENCE]
    return min(scores) if scores else None


def _galaxy_context(galaxies: Iterable[Any]) -> list[RelatedObject]:
    out: list[RelatedObject] = []
    for galaxy in galaxies:
        kind = _GALAXY_KINDS.get(str(getattr(galaxy, "type", "")))
        if kind is None:
            continue
        for cluster in getattr(galaxy, "clusters", []):
            value = str(cluster.value)
            meta = getattr(cluster, "meta", None) or {}
            ext_ids = meta.get("external_id") if isinstance(meta, Mapping) else None
            found = _ATTACK_ID.search(value)
            external_id = str(ext_ids[0]) if ext_ids else (found.group(1) if found else None)
            # ATT&CK clusters are named "Phishing - T1566"; the id is carried separately.
            name = value.rsplit(" - ", 1)[0] if external_id and value.endswith(f" - {external_id}") else value
            out.append(
                RelatedObject(
                    id=f"{kind.value}--{cluster.uuid}",
                    kind=kind,
                    name=name,
                    external_id=external_id,
                    relationship="indicates",
                )
            )
    return out


def _values(attr_type: str, value: str) -> list[tuple[IndicatorType, str]]:
    parts_spec = _TYPE_PARTS[attr_type]
    parts = value.split("|") if len(parts_spec) > 1 else [value]
    if len(parts) != len(parts_spec):
        raise Invalid("misp_invalid", f"value {value!r} does not have the {len(parts_spec)} parts of {attr_type}")
    out: list[tuple[IndicatorType, str]] = []
    for spec, part in zip(parts_spec, parts, strict=True):
        if spec is None:
            continue
        if spec == _IP:
            net = parse_network(part)
            out.append((IndicatorType.IPV4 if net.version == 4 else IndicatorType.IPV6, network_text(net)))
        elif spec == "domain":
            out.append((IndicatorType.DOMAIN, normalize_domain(part)))
        elif spec == "url":
            out.append((IndicatorType.URL, normalize_url(part)))
        else:
            out.append(normalize_hash(part, IndicatorType(spec)))
    return out


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _load_event(raw: Any, where: str) -> MISPEvent:
    event = MISPEvent()
    try:
        # pymisp consumes the dicts it loads; keep the original to name a bad attribute afterwards.
        event.load(copy.deepcopy(raw))
    except PyMISPError as err:
        # pymisp's message for a bad type lists every known type: keep the start, which names the problem.
        raise Invalid("misp_invalid", f"{where}{_first_bad_attribute(raw)}: {str(err)[:160]}") from err
    except (TypeError, ValueError, KeyError) as err:
        raise Invalid("misp_invalid", f"{where}: not a MISP event ({err})") from err
    return event


def _first_bad_attribute(raw: Any) -> str:
    """Name the attribute pymisp rejected, since its error does not say which one."""
    body = raw.get("Event", raw) if isinstance(raw, Mapping) else {}
    attrs = body.get("Attribute", []) if isinstance(body, Mapping) else []
    for i, attr in enumerate(attrs if isinstance(attrs, list) else []):
        try:
            MISPAttribute().from_dict(**attr)
        except (PyMISPError, TypeError):
            ref = attr.get("uuid") if isinstance(attr, Mapping) else None
            return f" (Attribute[{i}]{' ' + str(ref) if ref else ''})"
    return ""


def _events(doc: Any) -> Sequence[Any]:
    if isinstance(doc, list):
        return doc
    if isinstance(doc, Mapping) and isinstance(doc.get("response"), list):
        return list(doc["response"])  # the shape of MISP's restSearch
    return [doc]


def parse_misp(
    data: bytes | str | Mapping[str, Any],
    *,
    default_confidence: int,
    default_valid_days: int | None,
    now: datetime,
) -> ParsedFeed:
    """Parse MISP event JSON (one event, a list, or a restSearch response) into indicator records.

    Raises `Invalid("misp_invalid")` naming the event or attribute that is malformed.
    """
    doc = load_json(data, "misp_invalid")
    feed = ParsedFeed()
    records: list[IndicatorRecord] = []
    for n, raw in enumerate(_events(doc)):
        if not isinstance(raw, Mapping):
            raise Invalid("misp_invalid", f"event[{n}] is not a JSON object")
        event = _load_event(raw, f"event[{n}]")
        event_ref = str(event.get("uuid") or f"event[{n}]")
        event_tags = [t.name for t in event.tags]
        event_context = _galaxy_context(event.galaxies)
        event_conf = _confidence(event_tags)
        attributes = [*event.attributes, *(a for obj in event.objects for a in obj.attributes)]
        for attr in attributes:
            attr_ref = f"{event_ref}/{getattr(attr, 'uuid', None) or attr.value}"
            if getattr(attr, "deleted", False) or not attr.to_ids:
                feed.skipped += 1
                continue
            if attr.type not in _TYPE_PARTS:
                feed.warn(f"{attr_ref}: MISP type {attr.type} is not matched")
                continue
            try:
                values = _values(attr.type, str(attr.value))
            except Invalid as err:
                raise Invalid("misp_invalid", f"attribute {attr_ref} ({attr.type}): {err.message}") from err
            tags = [t.name for t in attr.tags]
            conf = _confidence(tags)
            first_seen = _aware(getattr(attr, "first_seen", None))
            last_seen = _aware(getattr(attr, "last_seen", None))
            related = tuple(dict.fromkeys([*_galaxy_context(attr.galaxies), *event_context]))
            base = last_seen or _aware(getattr(attr, "timestamp", None)) or now
            confidence = next(c for c in (conf, event_conf, default_confidence) if c is not None)
            for itype, value in values:
                records.append(
                    IndicatorRecord(
                        external_id=str(getattr(attr, "uuid", None) or attr_ref),
                        type=itype,
                        value=value,
                        confidence=confidence,
                        valid_until=default_expiry(base, now, default_valid_days),
                        first_seen=first_seen,
                        last_seen=last_seen,
                        labels=tuple(dict.fromkeys([*event_tags, *tags])),
                        description=str(getattr(attr, "comment", None) or event.info),
                        related=related,
                    )
                )
    feed.indicators = merge_duplicates(records)
    return feed
