"""Plain indicator feeds (one value per line) and CSV feeds with a column map."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from typing import Literal

from acso_shared.errors import Invalid

from .models import CsvColumns, IndicatorType
from .normalize import infer_indicator, network_text, normalize_indicator, parse_network
from .records import IndicatorRecord, ParsedFeed, default_expiry, merge_duplicates

# Spellings of indicator types found in real CSV exports (MISP, OTX, abuse.ch, STIX object types).
AnyIp = Literal["ip"]
_ANY_IP: AnyIp = "ip"
_TYPE_ALIASES: dict[str, IndicatorType | AnyIp] = {
    "ip": _ANY_IP,
    "ip-src": _ANY_IP,
    "ip-dst": _ANY_IP,
    "ipaddress": _ANY_IP,
    "ip_address": _ANY_IP,
    "ipv4": IndicatorType.IPV4,
    "ipv4-addr": IndicatorType.IPV4,
    "ipv6": IndicatorType.IPV6,
    "ipv6-addr": IndicatorType.IPV6,
    "cidr": _ANY_IP,
    "domain": IndicatorType.DOMAIN,
    "domain-name": IndicatorType.DOMAIN,
    "hostname": IndicatorType.DOMAIN,
    "fqdn": IndicatorType.DOMAIN,
    "url": IndicatorType.URL,
    "uri": IndicatorType.URL,
    "md5": IndicatorType.MD5,
    "sha1": IndicatorType.SHA1,
    "sha-1": IndicatorType.SHA1,
    "sha256": IndicatorType.SHA256,
    "sha-256": IndicatorType.SHA256,
    "sha512": IndicatorType.SHA512,
    "sha-512": IndicatorType.SHA512,
    "filehash-md5": IndicatorType.MD5,
    "filehash-sha1": IndicatorType.SHA1,
    "filehash-sha256": IndicatorType.SHA256,
}
_LABEL_SPLIT = re.compile(r"[|;]")


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise Invalid("feed_invalid", f"feed is not UTF-8 text: {err}") from err


def _typed(kind: IndicatorType | AnyIp | None, value: str, where: str) -> tuple[IndicatorType, str]:
    """Canonical (type, value); None infers the type, `ip` accepts an address or range of either family."""
    try:
        if kind is None:
            return infer_indicator(value)
        if kind == _ANY_IP:
            net = parse_network(value)
            return (IndicatorType.IPV4 if net.version == 4 else IndicatorType.IPV6), network_text(net)
        return IndicatorType(kind), normalize_indicator(IndicatorType(kind), value)
    except Invalid as err:
        raise Invalid("feed_invalid", f"{where}: {err.message}") from err


def parse_plain(
    data: bytes | str,
    *,
    indicator_type: IndicatorType | None,
    default_confidence: int,
    default_valid_days: int | None,
    now: datetime,
) -> ParsedFeed:
    """One indicator per line; `#` and `;` start comments (whole-line or after the value, as in DROP lists).

    Raises `Invalid("feed_invalid")` naming the first line that is not a valid indicator.
    """
    records: list[IndicatorRecord] = []
    feed = ParsedFeed()
    expiry = default_expiry(None, now, default_valid_days)
    for n, line in enumerate(_decode(data).splitlines(), start=1):
        text = re.split(r"\s[#;]|^[#;]", line, maxsplit=1)[0].strip()
        if not text:
            continue
        token = text.split()[0]
        kind, value = _typed(indicator_type, token, f"line {n}")
        records.append(
            IndicatorRecord(
                external_id=f"line {n}",
                type=kind,
                value=value,
                confidence=default_confidence,
                valid_until=expiry,
            )
        )
    feed.indicators = merge_duplicates(records)
    return feed


def _cell(row: dict[str, str | None], column: str | None) -> str | None:
    if column is None:
        return None
    value = row.get(column)
    return value.strip() if value and value.strip() else None


def _timestamp(text: str | None, where: str, column: str) -> datetime | None:
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise Invalid("feed_invalid", f"{where}: {column} {text!r} is not an ISO 8601 timestamp") from err
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_csv(
    data: bytes | str,
    *,
    columns: CsvColumns,
    delimiter: str,
    indicator_type: IndicatorType | None,
    default_confidence: int,
    default_valid_days: int | None,
    now: datetime,
) -> ParsedFeed:
    """A CSV feed with a header row; `columns` says which header holds which field.

    Without a type column (or `indicator_type`), each value's shape decides its type.
    Raises `Invalid("feed_invalid")` naming the missing column or the first bad row.
    """
    reader = csv.DictReader(io.StringIO(_decode(data), newline=""), delimiter=delimiter)
    header = reader.fieldnames or []
    wanted = {name: col for name, col in columns.model_dump().items() if col is not None}
    missing = sorted(col for col in wanted.values() if col not in header)
    if missing:
        raise Invalid("feed_invalid", f"CSV header {header} lacks column(s) {missing}")
    feed = ParsedFeed()
    records: list[IndicatorRecord] = []
    try:
        for row in reader:
            where = f"line {reader.line_num}"
            raw_value = _cell(row, columns.value)
            if raw_value is None:
                feed.warn(f"{where}: empty {columns.value}")
                continue
            kind: IndicatorType | AnyIp | None = indicator_type
            type_text = _cell(row, columns.type)
            if type_text is not None:
                key = type_text.lower()
                if key not in _TYPE_ALIASES:
                    raise Invalid("feed_invalid", f"{where}: unknown indicator type {type_text!r}")
                kind = _TYPE_ALIASES[key]
            itype, value = _typed(kind, raw_value, where)
            conf_text = _cell(row, columns.confidence)
            confidence = default_confidence
            if conf_text is not None:
                if not conf_text.isdigit() or int(conf_text) > 100:
                    raise Invalid("feed_invalid", f"{where}: confidence {conf_text!r} is not an integer 0-100")
                confidence = int(conf_text)
            first_seen = _timestamp(_cell(row, columns.first_seen), where, "first_seen")
            last_seen = _timestamp(_cell(row, columns.last_seen), where, "last_seen")
            valid_until = _timestamp(_cell(row, columns.valid_until), where, "valid_until")
            labels_text = _cell(row, columns.labels) or ""
            records.append(
                IndicatorRecord(
                    external_id=where,
                    type=itype,
                    value=value,
                    confidence=confidence,
                    valid_until=valid_until or default_expiry(last_seen, now, default_valid_days),
                    first_seen=first_seen,
                    last_seen=last_seen,
                    labels=tuple(s.strip() for s in _LABEL_SPLIT.split(labels_text) if s.strip())
                    if labels_text
                    else (),
                    description=_cell(row, columns.description),
                )
            )
    except csv.Error as err:
        raise Invalid("feed_invalid", f"line {reader.line_num}: {err}") from err
    feed.indicators = merge_duplicates(records)
    return feed
