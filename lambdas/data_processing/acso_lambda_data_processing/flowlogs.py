"""VPC flow logs (the space-separated text format, default or custom field order, gzipped or not)
normalised into CloudTrail-shaped records the hunting rules can match.

Each flow becomes `{"eventSource": "vpc-flow-logs", "eventName": "NetworkFlow", "eventTime",
"recipientAccountId", "sourceIPAddress", "flow": {...}}` with the flow's fields under `flow`
(snake_case names, numbers as ints, `-` as null), so a Sigma rule selects
`eventName: NetworkFlow` and `flow.dstport: 22`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import IO, Any

from acso_shared.errors import Invalid
from acso_shared.hunting.cloudtrail import open_text

DEFAULT_FIELDS = [
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
]
_INT_FIELDS = frozenset(
    {"version", "srcport", "dstport", "protocol", "packets", "bytes", "start", "end", "tcp-flags", "traffic-type"}
)
EVENT_SOURCE = "vpc-flow-logs"
EVENT_NAME = "NetworkFlow"


def looks_like_flow_log(head: bytes) -> bool:
    """Whether the first bytes of an object (decompressed) are a flow log header line."""
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").split()
    return len(first) >= 3 and first[0] == "version" and "srcaddr" in first


def _value(name: str, raw: str) -> Any:
    if raw == "-":
        return None
    if name in _INT_FIELDS:
        try:
            return int(raw)
        except ValueError:
            return raw
    return raw


def _time(epoch: Any) -> str | None:
    if not isinstance(epoch, int):
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iter_flow_records(source: IO[bytes] | bytes) -> Iterator[dict[str, Any]]:
    """Yield one normalised record per flow line; a line with the wrong field count is `Invalid`."""
    text = open_text(source)
    fields: list[str] | None = None
    for number, line in enumerate(text, start=1):
        parts = line.split()
        if not parts:
            continue
        if fields is None:
            if parts[0] == "version":
                fields = parts
                continue
            fields = DEFAULT_FIELDS
        if len(parts) != len(fields):
            raise Invalid("flowlog_malformed", f"line {number}: {len(parts)} fields, the header names {len(fields)}")
        flow = {name.replace("-", "_"): _value(name, value) for name, value in zip(fields, parts, strict=True)}
        yield {
            "eventSource": EVENT_SOURCE,
            "eventName": EVENT_NAME,
            "eventTime": _time(flow.get("start")),
            "recipientAccountId": flow.get("account_id"),
            "sourceIPAddress": flow.get("srcaddr"),
            "flow": flow,
        }
