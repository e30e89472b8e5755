"""OCSF 1.x findings, posted directly or carried in the `detail.findings` of a Security Hub
`Findings Imported V2` EventBridge event: Detection Finding (class_uid 2004), Compliance Finding
(2003, what Security Hub sends for its controls) and the deprecated Security Finding (2001, whose
finding details are in `finding` rather than `finding_info`).

Identity: `finding_info.uid`. What detected it (`detection`): `finding_info.analytic` (uid, else
name) qualified by `metadata.product.name`, else `compliance.control`, else the first of
`finding_info.types`, else the title. A Security Hub control (`compliance.control` in an event
from Security Hub) is typed `securityhub:control/<control>`, as its ASFF form is.

Lifecycle (`state`): resolved when `status_id` is 3 Suppressed, 4 Resolved, 5 Archived or 6 Deleted
(or `status` names one of them; OCSF 1.x finding status enum), when a 2001 `state_id` is 3 or 4,
when `activity_id` is 3 (Close), or when `compliance.status_id` is 1 (Pass).

Read: `finding_info` (uid, title, desc, types, first/last seen, attacks), `severity_id`, `time`,
`metadata.product`, `cloud` (account, region), `resources[]`, `observables[]` (by `type_id`),
`attacks[]` (technique and sub-technique uids), and the usual entity objects in `evidences[]`,
`actor` and `device`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acso_shared.alerts import attack, severity
from acso_shared.alerts.common import ErrorCode, ItemError, ParseContext, dicts, dig, invalid_from, parse_time, text
from acso_shared.alerts.models import (
    AlertState,
    NormalizedAlert,
    ObservableType,
    Resource,
    ResourceType,
    SourceFormat,
    alert_id_for,
)
from acso_shared.alerts.observables import ObservableCollector
from acso_shared.alerts.resources import resource_id, resource_kind
from acso_shared.alerts.text import clean_description, clean_field, clean_title

DETECTION_FINDING_CLASS_UID = 2004
SECURITY_FINDING_CLASS_UID = 2001
COMPLIANCE_FINDING_CLASS_UID = 2003
_FORMAT_BY_CLASS = {
    DETECTION_FINDING_CLASS_UID: SourceFormat.OCSF_DETECTION_FINDING,
    SECURITY_FINDING_CLASS_UID: SourceFormat.OCSF_SECURITY_FINDING,
    COMPLIANCE_FINDING_CLASS_UID: SourceFormat.OCSF_COMPLIANCE_FINDING,
}
_RESOLVED_STATUS = {3: "Suppressed", 4: "Resolved", 5: "Archived", 6: "Deleted"}
_RESOLVED_STATE = {3: "Suppressed", 4: "Resolved"}

# OCSF observable type_id -> our type. 8 (Hash) and 10 (Resource UID) are classified by value.
_OBSERVABLE_TYPES: dict[int, ObservableType] = {
    1: ObservableType.DOMAIN,  # Hostname
    2: ObservableType.IP,
    4: ObservableType.PRINCIPAL,  # User Name
    5: ObservableType.EMAIL,
    6: ObservableType.URL,
    19: ObservableType.ACCESS_KEY_ID,  # User Credential ID
}
_UNTYPED_OBSERVABLE_IDS = {8, 10}
_TIME_KEYS = ("first_seen_time", "last_seen_time", "created_time", "modified_time")


class FindingInfo(BaseModel):
    """OCSF `finding_info` (uid is required by the schema; title is what analysts see)."""

    model_config = ConfigDict(extra="ignore")

    uid: str = Field(min_length=1, max_length=1024)
    title: str | None = Field(default=None, max_length=65536)
    desc: str | None = Field(default=None, max_length=65536)
    types: list[str] = Field(default_factory=list, max_length=50)
    first_seen_time: int | float | str | None = None
    last_seen_time: int | float | str | None = None
    created_time: int | float | str | None = None
    modified_time: int | float | str | None = None
    attacks: list[dict[str, Any]] = Field(default_factory=list)
    analytic: dict[str, Any] | None = None


class DetectionFindingCore(BaseModel):
    """The Detection Finding attributes ACSO requires."""

    model_config = ConfigDict(extra="ignore")

    class_uid: int
    severity_id: int = Field(ge=0, le=99)
    severity: str | None = Field(default=None, max_length=64)
    time: int | float | str
    finding_info: FindingInfo
    message: str | None = Field(default=None, max_length=65536)
    metadata: dict[str, Any] = Field(default_factory=dict)
    cloud: dict[str, Any] = Field(default_factory=dict)
    resources: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    observables: list[dict[str, Any]] = Field(default_factory=list, max_length=1000)
    attacks: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    compliance: dict[str, Any] = Field(default_factory=dict)
    status_id: int | None = None
    status: str | None = Field(default=None, max_length=64)
    state_id: int | None = None
    activity_id: int | None = None


def _lifecycle(core: DetectionFindingCore) -> tuple[AlertState, str | None]:
    """(state, reason) from the finding status, the 2001 state, the activity and the compliance result."""
    if core.status_id in _RESOLVED_STATUS:
        return AlertState.RESOLVED, f"status_id {core.status_id} ({_RESOLVED_STATUS[core.status_id]})"
    status = (core.status or "").strip().capitalize()
    if core.status_id in (None, 0, 99) and status in _RESOLVED_STATUS.values():
        return AlertState.RESOLVED, f"status {status}"
    if core.class_uid == SECURITY_FINDING_CLASS_UID and core.state_id in _RESOLVED_STATE:
        return AlertState.RESOLVED, f"state_id {core.state_id} ({_RESOLVED_STATE[core.state_id]})"
    if core.activity_id == 3:
        return AlertState.RESOLVED, "activity_id 3 (Close)"
    compliance_id = core.compliance.get("status_id")
    compliance_status = (text(core.compliance.get("status")) or "").lower()
    if compliance_id == 1 or (compliance_id in (None, 0, 99) and compliance_status in ("pass", "passed")):
        return AlertState.RESOLVED, "compliance.status_id 1 (Pass)"
    return AlertState.ACTIVE, None


def _identity(core: DetectionFindingCore, types: list[str], source: str) -> tuple[str, str] | None:
    """(type, detection): see the module docstring; None when nothing names what was detected."""
    info = core.finding_info
    analytic = text(dig(info.analytic, "uid")) or text(dig(info.analytic, "name"))
    control = text(core.compliance.get("control"))
    product = text(dig(core.metadata, "product", "name"))
    first = types[0] if types else None
    if control and (source == "aws.securityhub" or (product or "").lower() == "security hub"):
        control = clean_field(control, 128)
        return f"securityhub:control/{control}", control
    if analytic:
        detection = clean_field(f"{product}/{analytic}" if product else analytic)
        return clean_field(first or text(dig(info.analytic, "name")) or analytic), detection
    for candidate in (control, first, info.title):
        if candidate:
            return clean_field(first or candidate), clean_field(candidate)
    return None


def looks_like_ocsf(obj: dict[str, Any]) -> bool:
    """Detection rule: an integer `class_uid` (the class decides whether we accept it)."""
    value = obj.get("class_uid")
    return isinstance(value, int) and not isinstance(value, bool)


def _techniques(attacks: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for entry in attacks:
        for key in ("technique", "sub_technique"):
            uid = text(dig(entry, key, "uid"))
            if uid and attack.techniques_in_text(uid) == [uid]:
                found.append(uid)
    return found


def _resources(
    core: DetectionFindingCore, obs: ObservableCollector, account: str | None, region: str | None
) -> list[Resource]:
    out: list[Resource] = []
    for i, res in enumerate(core.resources):
        raw_id = text(res.get("uid")) or text(res.get("name"))
        if raw_id is None:
            continue
        kind = resource_kind(text(res.get("type")))
        ident, arn = resource_id(kind, raw_id)
        name = text(res.get("name"))
        base = f"resources[{i}]"
        if kind is ResourceType.EC2_INSTANCE:
            obs.add(ObservableType.INSTANCE_ID, ident, f"{base}.uid")
        elif kind is ResourceType.IAM_ACCESS_KEY:
            obs.add(ObservableType.ACCESS_KEY_ID, ident, f"{base}.uid")
        elif kind in (ResourceType.IAM_USER, ResourceType.IAM_ROLE):
            obs.add(ObservableType.PRINCIPAL, arn or ident, f"{base}.uid")
        tags = {
            clean_field(k, 128): clean_field(str(v), 256)
            for tag in dicts(res.get("tags"))
            if (k := text(tag.get("name"))) and (v := tag.get("value")) is not None
        }
        out.append(
            Resource(
                type=kind,
                id=clean_field(ident, 2048),
                arn=arn,
                name=clean_field(name, 1024) if name else None,
                region=text(res.get("region")) or region,
                account_id=text(dig(res, "owner", "account", "uid")) or account,
                tags=tags,
            )
        )
    return out


def _user_observables(user: Any, prefix: str, obs: ObservableCollector, *, names: bool) -> None:
    uid = text(dig(user, "uid"))
    if uid and uid.startswith("arn:"):
        obs.add(ObservableType.PRINCIPAL, uid, f"{prefix}.uid")
    if names:
        obs.add(ObservableType.PRINCIPAL, dig(user, "name"), f"{prefix}.name")
    obs.add(ObservableType.ACCESS_KEY_ID, dig(user, "credential_uid"), f"{prefix}.credential_uid")
    obs.add(ObservableType.EMAIL, dig(user, "email_addr"), f"{prefix}.email_addr")


def _entity_observables(obj: Any, base: str, obs: ObservableCollector) -> None:
    """Observables from the OCSF entity objects an evidence block (or the finding itself) holds."""
    for endpoint in ("src_endpoint", "dst_endpoint"):
        obs.add(ObservableType.IP, dig(obj, endpoint, "ip"), f"{base}{endpoint}.ip")
        obs.add(ObservableType.DOMAIN, dig(obj, endpoint, "domain"), f"{base}{endpoint}.domain")
        obs.add(ObservableType.INSTANCE_ID, dig(obj, endpoint, "instance_uid"), f"{base}{endpoint}.instance_uid")
    # Only the finding's own actor names a cloud identity; user names inside evidences are usually
    # OS accounts (www-data, root) that would chain unrelated incidents together.
    _user_observables(dig(obj, "actor", "user"), f"{base}actor.user", obs, names=not base)
    _user_observables(dig(obj, "user"), f"{base}user", obs, names=not base)
    obs.add(ObservableType.DOMAIN, dig(obj, "query", "hostname"), f"{base}query.hostname")
    obs.add(ObservableType.URL, dig(obj, "url", "url_string"), f"{base}url.url_string")
    for path in (("file", "hashes"), ("process", "file", "hashes")):
        for j, h in enumerate(dicts(dig(obj, *path))):
            obs.add_untyped(h.get("value"), f"{base}{'.'.join(path)}[{j}].value")
    obs.add(ObservableType.INSTANCE_ID, dig(obj, "device", "instance_uid"), f"{base}device.instance_uid")
    obs.add(ObservableType.IP, dig(obj, "device", "ip"), f"{base}device.ip")


def _observables(item: dict[str, Any], core: DetectionFindingCore, obs: ObservableCollector) -> None:
    for i, entry in enumerate(core.observables):
        type_id = entry.get("type_id")
        if not isinstance(type_id, int):
            continue
        value = entry.get("value")
        name = f"observables[{i}] ({text(entry.get('name')) or 'unnamed'})"
        if type_id in _OBSERVABLE_TYPES:
            obs.add(_OBSERVABLE_TYPES[type_id], value, name)
        elif type_id in _UNTYPED_OBSERVABLE_IDS:
            raw = text(value)
            # Hashes may be written "SHA-256:abc..." (OCSF's own example style).
            obs.add_untyped(raw.split(":", 1)[1] if raw and type_id == 8 and ":" in raw else raw, name)
    _entity_observables(item, "", obs)
    for i, evidence in enumerate(dicts(item.get("evidences"))):
        _entity_observables(evidence, f"evidences[{i}].", obs)


def parse(
    item: dict[str, Any], ctx: ParseContext, *, fmt: SourceFormat, raw: dict[str, Any], source: str = "ocsf"
) -> NormalizedAlert:
    """Normalise one OCSF finding (2001, 2003 or 2004); `source` is `aws.securityhub` for Security Hub v2 events."""
    if item.get("class_uid") == SECURITY_FINDING_CLASS_UID and "finding_info" not in item:
        # OCSF 1.0 Security Finding: the same finding details, under `finding`.
        item = {**item, "finding_info": item.get("finding")}
    try:
        core = DetectionFindingCore.model_validate(item)
    except ValidationError as err:
        raise invalid_from(err, "OCSF Detection Finding") from None
    if core.class_uid not in _FORMAT_BY_CLASS:
        raise ItemError(
            ErrorCode.FORMAT_UNKNOWN,
            f"OCSF class_uid {core.class_uid} is not accepted; only Detection Finding "
            f"({DETECTION_FINDING_CLASS_UID}), Compliance Finding ({COMPLIANCE_FINDING_CLASS_UID}) and "
            f"Security Finding ({SECURITY_FINDING_CLASS_UID}) are",
            "class_uid",
        )
    if fmt is SourceFormat.OCSF_DETECTION_FINDING:
        fmt = _FORMAT_BY_CLASS[core.class_uid]
    info = core.finding_info
    types = [t for t in info.types if isinstance(t, str) and t.strip()]
    identity = _identity(core, types, source)
    if identity is None:
        raise ItemError(
            ErrorCode.INVALID,
            "needs finding_info.types, finding_info.analytic, compliance.control or finding_info.title "
            "to know what was detected",
            "finding_info",
        )
    finding_type, detection = identity
    state, state_reason = _lifecycle(core)
    guardduty_types = [t for t in types if attack.is_guardduty_type(t)]
    techniques = attack.merge(
        _techniques(core.attacks),
        _techniques(info.attacks),
        *(attack.techniques_for_guardduty_type(t) for t in guardduty_types),
    )

    account = text(dig(core.cloud, "account", "uid"))
    region = text(core.cloud.get("region"))
    obs = ObservableCollector()
    resources = _resources(core, obs, account, region)
    _observables(item, core, obs)

    event_time = parse_time(core.time, "time")
    seen = {k: parse_time(getattr(info, k), f"finding_info.{k}") for k in _TIME_KEYS if getattr(info, k) is not None}
    first = seen.get("first_seen_time") or seen.get("created_time") or event_time
    last = seen.get("last_seen_time") or seen.get("modified_time") or event_time
    if "last_seen_time" not in seen:
        last = max(last, event_time)
    first, last = min(first, last), max(first, last)
    product = text(dig(core.metadata, "product", "name"))

    return NormalizedAlert(
        alert_id=alert_id_for(source, info.uid),
        source=source,
        source_format=fmt,
        source_id=info.uid,
        product=clean_field(product, 256) if product else None,
        title=clean_title(info.title or finding_type),
        description=clean_description(info.desc or core.message or ""),
        type=finding_type,
        severity=severity.from_ocsf(core.severity_id, core.severity),
        occurred_at=event_time,
        first_seen=first,
        last_seen=last,
        account_id=account,
        region=region,
        resources=resources,
        observables=obs.result(),
        attack_techniques=techniques,
        state=state,
        state_reason=state_reason,
        detection=detection,
        raw=raw,
    )
