"""What the event store keeps of a CloudTrail record: the columns triage queries by, plus the record.

Pure functions, no I/O: a record without an eventID or a parsable eventTime cannot be stored
idempotently or placed in a window, so it is skipped (and counted by the caller).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from acso_shared.hunting.values import parse_time

# requestParameters keys that name the resource a call acts on, for resource-scoped look-ups.
_RESOURCE_KEYS = (
    "instanceId",
    "bucketName",
    "userName",
    "roleName",
    "groupId",
    "keyId",
    "secretId",
    "functionName",
    "snapshotId",
    "volumeId",
    "accessKeyId",
    "name",
)


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of `cloudtrail_events`."""

    event_id: str
    event_time: datetime
    event_source: str
    event_name: str
    principal_arn: str | None
    user_name: str | None
    access_key_id: str | None
    source_ip: str | None
    resources: tuple[str, ...]
    raw: Mapping[str, Any]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def user_name_of(identity: Mapping[str, Any]) -> str | None:
    """The IAM user name, or for an assumed role the role name (its session issuer's userName)."""
    name = _text(identity.get("userName"))
    if name:
        return name
    issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
    return _text(issuer.get("userName")) if isinstance(issuer, Mapping) else None


def resource_ids(record: Mapping[str, Any]) -> tuple[str, ...]:
    """ARNs from `resources` and the ids requestParameters name (instances, buckets, users...)."""
    found: list[str] = []
    for item in record.get("resources") or ():
        if isinstance(item, Mapping) and _text(item.get("ARN")):
            found.append(item["ARN"])
    params = record.get("requestParameters")
    if isinstance(params, Mapping):
        for key in _RESOURCE_KEYS:
            value = _text(params.get(key))
            if value:
                found.append(value)
        items = (
            (params.get("instancesSet") or {}).get("items") if isinstance(params.get("instancesSet"), Mapping) else None
        )
        for item in items or ():
            if isinstance(item, Mapping) and _text(item.get("instanceId")):
                found.append(item["instanceId"])
    return tuple(dict.fromkeys(found))


def event_row(record: Mapping[str, Any]) -> EventRow | None:
    """The row for one record, or None when it has no eventID or no parsable eventTime."""
    event_id = _text(record.get("eventID"))
    event_time = parse_time(record.get("eventTime"))
    if event_id is None or event_time is None:
        return None
    identity = record.get("userIdentity")
    identity = identity if isinstance(identity, Mapping) else {}
    return EventRow(
        event_id=event_id,
        event_time=event_time,
        event_source=_text(record.get("eventSource")) or "",
        event_name=_text(record.get("eventName")) or "",
        principal_arn=_text(identity.get("arn")),
        user_name=user_name_of(identity),
        access_key_id=_text(identity.get("accessKeyId")),
        source_ip=_text(record.get("sourceIPAddress")),
        resources=resource_ids(record),
        raw=record,
    )
