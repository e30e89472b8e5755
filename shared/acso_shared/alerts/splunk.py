"""Splunk webhook alert action payloads: `{"result": {...first result row...}, "sid", "search_name",
"results_link", "owner", "app"}`.

The row's field names depend on the search, so we read the Splunk CIM names (`src_ip`, `dest`,
`user`, `file_hash`...), the CloudTrail names Splunk's AWS add-on extracts (`userIdentity.arn`,
`userIdentity.accessKeyId`, `sourceIPAddress`...) and ES names (`urgency`, `rule_title`,
`annotations.mitre_attack`). Multi-value fields arrive as JSON lists and are all read.

Identity: one search run (`sid`) sends one webhook per result row, so an alert is the `sid` plus
its row: the row's event address (`_cd`, index and offset) or result number (`_serial`) when the
search kept them, else a digest of the row. A redelivery of the same row is the same alert.
`detection` is the `search_name` (the saved search that fired), so two rows of one search on one
host are repeats, and two searches on one host are distinct alerts.

Mapping of the CIM's common fields: `host` (the machine that logged the event; not for API-pulled
sourcetypes such as `aws:cloudtrail`, where it names the collector), `dest` and `dest_host` become
`host` resources when they are host names; `src_ip`, `dest_ip` and IP-valued `src`/`dest` become
IP observables; `user`, `src_user` and `user_name` principals; `_raw` is the description when the
row carries no description field (it is appended otherwise) and its IP addresses are observables;
`severity`, else `urgency`, the severity. Splunk alerts carry no lifecycle: they are always active.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acso_shared.alerts import attack, severity
from acso_shared.alerts.common import ParseContext, invalid_from, parse_time, text
from acso_shared.alerts.models import (
    NormalizedAlert,
    ObservableType,
    Resource,
    ResourceType,
    SeverityId,
    SourceFormat,
    alert_id_for,
)
from acso_shared.alerts.observables import ObservableCollector, normalise
from acso_shared.alerts.text import clean_description, clean_field, clean_title

SOURCE = "splunk"

_TYPED_FIELDS: tuple[tuple[str, ObservableType], ...] = (
    ("src_ip", ObservableType.IP),
    ("dest_ip", ObservableType.IP),
    ("sourceIPAddress", ObservableType.IP),
    ("client_ip", ObservableType.IP),
    ("remote_ip", ObservableType.IP),
    ("userIdentity.arn", ObservableType.PRINCIPAL),
    ("user_arn", ObservableType.PRINCIPAL),
    ("userIdentity.userName", ObservableType.PRINCIPAL),
    ("user", ObservableType.PRINCIPAL),
    ("src_user", ObservableType.PRINCIPAL),
    ("user_name", ObservableType.PRINCIPAL),
    ("userIdentity.principalId", ObservableType.PRINCIPAL_ID),
    ("userIdentity.accessKeyId", ObservableType.ACCESS_KEY_ID),
    ("access_key_id", ObservableType.ACCESS_KEY_ID),
    ("instance_id", ObservableType.INSTANCE_ID),
    ("requestParameters.instanceId", ObservableType.INSTANCE_ID),
    ("url", ObservableType.URL),
    ("domain", ObservableType.DOMAIN),
    ("query", ObservableType.DOMAIN),
    ("dest_domain", ObservableType.DOMAIN),
    ("sender", ObservableType.EMAIL),
    ("recipient", ObservableType.EMAIL),
    ("md5", ObservableType.HASH_MD5),
    ("sha1", ObservableType.HASH_SHA1),
    ("sha256", ObservableType.HASH_SHA256),
)
# CIM fields that may hold an IP, a host name or a hash: typed by their value.
_UNTYPED_FIELDS = ("src", "dest", "dest_host", "src_host", "file_hash", "hash")
_TECHNIQUE_FIELDS = (
    "mitre_technique_id",
    "mitre_attack_id",
    "mitre_technique",
    "annotations.mitre_attack",
    "annotations.mitre_attack.mitre_technique_id",
)
_TITLE_FIELDS = ("rule_title", "rule_name", "signature")
_DESCRIPTION_FIELDS = ("description", "rule_description", "message")
_SEVERITY_FIELDS = ("severity", "urgency")
_BUCKET_FIELDS = ("bucketName", "requestParameters.bucketName")
_HOST_FIELDS = ("host", "dest", "dest_host")
# Sourcetypes pulled from cloud APIs: their `host` is the collector (a heavy forwarder, an add-on
# input name), shared by every event, so it would chain unrelated alerts together.
_COLLECTOR_SOURCETYPES = ("aws:", "azure:", "gcp:", "google:", "o365:", "ms:o365:", "ms:aad:", "okta:", "github:")
_HOST_NAME = re.compile(r"^[a-z0-9_](?:[a-z0-9_.-]{0,252})$")
_RAW_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
_RAW_SCAN_MAX = 16384
_ROW_ID_FIELDS = ("_cd", "_serial")
# A row names no primary resource; the most specific target goes first.
_RESOURCE_PRIORITY = (ResourceType.EC2_INSTANCE, ResourceType.S3_BUCKET, ResourceType.IAM_ACCESS_KEY, ResourceType.HOST)


class SplunkWebhook(BaseModel):
    """The webhook body Splunk's built-in webhook alert action sends."""

    model_config = ConfigDict(extra="ignore")

    result: dict[str, Any]
    sid: str = Field(min_length=1, max_length=1024)
    search_name: str | None = Field(default=None, max_length=1024)
    results_link: str | None = Field(default=None, max_length=4096)
    owner: str | None = None
    app: str | None = None


def looks_like_webhook(obj: dict[str, Any]) -> bool:
    """Detection rule: a `result` object and a `sid` (`search_name` may be null for ad hoc searches)."""
    return isinstance(obj.get("result"), dict) and "sid" in obj


def _values(row: dict[str, Any], field: str) -> list[str]:
    value = row.get(field)
    items = value if isinstance(value, list) else [value]
    return [v for v in (text(i) for i in items[:100]) if v is not None]


def _first(row: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    for field in fields:
        values = _values(row, field)
        if values:
            return values[0]
    return None


def _host(value: str) -> str | None:
    """A host name (single-label names included), or None for IPs and anything else."""
    lowered = value.strip().lower().rstrip(".")
    if not _HOST_NAME.match(lowered) or normalise(ObservableType.IP, lowered) is not None:
        return None
    return lowered


def _hosts(row: dict[str, Any]) -> list[Resource]:
    sourcetype = (_first(row, ("sourcetype",)) or "").lower()
    found: list[Resource] = []
    for field in _HOST_FIELDS:
        if field == "host" and sourcetype.startswith(_COLLECTOR_SOURCETYPES):
            continue
        for value in _values(row, field):
            host = _host(value)
            if host is not None:
                found.append(Resource(type=ResourceType.HOST, id=host, name=host))
    # `host` is often the short name of the `dest` FQDN (WKS-0042, wks-0042.corp.example.com): one host.
    qualified = {r.id.split(".", 1)[0] for r in found if "." in r.id}
    return [r for r in found if "." in r.id or r.id not in qualified]


def _row_key(row: dict[str, Any]) -> str:
    """What tells this result row apart from the search run's other rows (see the module docstring)."""
    for field in _ROW_ID_FIELDS:
        value = _first(row, (field,))
        if value:
            return f"{field}={clean_field(value, 128)}"
    return hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]


def parse(item: dict[str, Any], ctx: ParseContext, *, fmt: SourceFormat, raw: dict[str, Any]) -> NormalizedAlert:
    """Normalise one Splunk webhook body."""
    try:
        hook = SplunkWebhook.model_validate(item)
    except ValidationError as err:
        raise invalid_from(err, "Splunk webhook") from None
    row = hook.result

    obs = ObservableCollector()
    resources: list[Resource] = []
    for field, kind in _TYPED_FIELDS:
        for value in _values(row, field):
            found = obs.add(kind, value, f"result.{field}")
            if found and kind is ObservableType.INSTANCE_ID:
                resources.append(Resource(type=ResourceType.EC2_INSTANCE, id=found))
            elif found and kind is ObservableType.ACCESS_KEY_ID:
                resources.append(Resource(type=ResourceType.IAM_ACCESS_KEY, id=found))
    for field in _UNTYPED_FIELDS:
        for value in _values(row, field):
            obs.add_untyped(value, f"result.{field}")
    for field in _BUCKET_FIELDS:
        for value in _values(row, field):
            resources.append(Resource(type=ResourceType.S3_BUCKET, id=clean_field(value, 255)))
    resources.extend(_hosts(row))
    raw_event = _first(row, ("_raw",))
    if raw_event:
        for i, address in enumerate(_RAW_IPV4.findall(raw_event[:_RAW_SCAN_MAX])[:50]):
            obs.add(ObservableType.IP, address, f"result._raw (address {i})")
    unique: dict[tuple[ResourceType, str], Resource] = {}
    for res in sorted(resources, key=lambda r: _RESOURCE_PRIORITY.index(r.type)):
        unique.setdefault((res.type, res.id), res)

    techniques = attack.merge(*(attack.techniques_in_text(v) for f in _TECHNIQUE_FIELDS for v in _values(row, f)))
    label = _first(row, _SEVERITY_FIELDS)
    sev = severity.from_label(label) if label else severity.from_id(SeverityId.UNKNOWN)

    time_value = _first(row, ("_time",))
    occurred = parse_time(time_value, "result._time") if time_value else ctx.received_at
    first_value, last_value = _first(row, ("firstTime",)), _first(row, ("lastTime",))
    first = parse_time(first_value, "result.firstTime") if first_value else occurred
    last = parse_time(last_value, "result.lastTime") if last_value else occurred
    first, last = min(first, last, occurred), max(first, last, occurred)

    search = text(hook.search_name)
    finding_type = clean_field(search or _first(row, _TITLE_FIELDS) or "splunk_adhoc_search")
    title = _first(row, _TITLE_FIELDS) or search or f"Splunk alert {hook.sid}"
    # One search run (sid) can send one webhook per result row: the row is part of the identity.
    source_id = f"{hook.sid}:{_row_key(row)}"
    description = _first(row, _DESCRIPTION_FIELDS) or ""
    if raw_event:
        description = f"{description}\n\n_raw: {raw_event}" if description else raw_event
    account = _first(row, ("aws_account_id", "recipientAccountId", "vendor_account"))
    region = _first(row, ("awsRegion", "aws_region", "vendor_region"))

    return NormalizedAlert(
        alert_id=alert_id_for(SOURCE, source_id),
        source=SOURCE,
        source_format=fmt,
        source_id=source_id,
        product="Splunk",
        title=clean_title(title),
        description=clean_description(description),
        type=finding_type,
        severity=sev,
        occurred_at=occurred,
        first_seen=first,
        last_seen=last,
        account_id=clean_field(account, 64) if account else None,
        region=clean_field(region, 64) if region else None,
        resources=list(unique.values()),
        observables=obs.result(),
        attack_techniques=techniques,
        detection=finding_type,
        raw=raw,
    )
