"""Recognising an alert's format without being told, and unwrapping envelopes.

Rules, checked in this order on each JSON object:

1. EventBridge event: has `detail-type`, `source` and `detail`.
   - `source == "aws.guardduty"`, `detail-type == "GuardDuty Finding"`: `detail` is a GuardDuty finding.
   - `source == "aws.securityhub"`, `detail-type` `Security Hub Findings - Imported` or
     `Security Hub Findings - Custom Action`: every `detail.findings[]` entry is an ASFF finding.
   - `source == "aws.securityhub"`, `detail-type == "Findings Imported V2"`: every
     `detail.findings[]` entry is an OCSF finding (Security Hub's OCSF-based successor).
   - any other EventBridge event: `alert_format_unknown`.
2. GuardDuty finding: `schemaVersion`, `type`, and `service.serviceName == "guardduty"`.
3. ASFF finding: `SchemaVersion` and `ProductArn` (the version must then be `2018-10-08`).
4. OCSF: an integer `class_uid`; Detection Finding (2004), Compliance Finding (2003) and the
   deprecated Security Finding (2001) are accepted.
5. Splunk webhook alert action: a `result` object and a `sid`.
6. ACSO generic alert: `schema` starting with `acso.alert/` (see `models.GenericAlert`).

Batches (a JSON array, `{"alerts": [...]}`, or ASFF's `{"Findings": [...]}`) are handled by
`normalize.py`; an EventBridge Security Hub event also expands into one alert per finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acso_shared.alerts import generic, guardduty, ocsf, securityhub, splunk
from acso_shared.alerts.common import ErrorCode, ItemError
from acso_shared.alerts.models import SourceFormat

GUARDDUTY_DETAIL_TYPE = "GuardDuty Finding"
SECURITYHUB_ASFF_DETAIL_TYPES = frozenset({"Security Hub Findings - Imported", "Security Hub Findings - Custom Action"})
SECURITYHUB_OCSF_DETAIL_TYPE = "Findings Imported V2"
ACCEPTED = (
    "a GuardDuty finding, an ASFF finding, an OCSF Detection, Compliance or Security Finding (class_uid 2004, "
    "2003, 2001), a Splunk webhook "
    "alert action, an ACSO generic alert (schema acso.alert/v1), or an EventBridge event carrying a "
    "GuardDuty or Security Hub finding"
)


@dataclass(frozen=True)
class Unit:
    """One finding to parse: its format, the finding itself, what to keep as raw, and where it was."""

    fmt: SourceFormat
    item: dict[str, Any]
    raw: dict[str, Any]
    path: str = ""


def is_eventbridge(obj: dict[str, Any]) -> bool:
    """Detection rule 1: the EventBridge envelope keys."""
    return "detail-type" in obj and "source" in obj and "detail" in obj


def _short(value: Any, limit: int = 40) -> str:
    rendered = repr(value)
    return rendered if len(rendered) <= limit else rendered[: limit - 3] + "..."


def _findings(obj: dict[str, Any], fmt: SourceFormat) -> list[Unit]:
    findings = obj["detail"].get("findings")
    if not isinstance(findings, list) or not findings:
        raise ItemError(ErrorCode.INVALID, "a Security Hub event needs a non-empty list of findings", "detail.findings")
    units: list[Unit] = []
    for i, finding in enumerate(findings):
        path = f"detail.findings[{i}]"
        if not isinstance(finding, dict):
            raise ItemError(ErrorCode.INVALID, "each finding must be a JSON object", path)
        # Each alert keeps the envelope with only its own finding, so `raw` stays a faithful event.
        raw = obj if len(findings) == 1 else {**obj, "detail": {**obj["detail"], "findings": [finding]}}
        units.append(Unit(fmt, finding, raw, path))
    return units


def _eventbridge(obj: dict[str, Any]) -> list[Unit]:
    source, detail_type, detail = obj.get("source"), obj.get("detail-type"), obj.get("detail")
    if not isinstance(detail_type, str):
        detail_type = None
    if not isinstance(detail, dict):
        raise ItemError(ErrorCode.INVALID, "an EventBridge event's detail must be a JSON object", "detail")
    if source == "aws.guardduty" and detail_type == GUARDDUTY_DETAIL_TYPE:
        if not guardduty.looks_like_finding(detail):
            raise ItemError(
                ErrorCode.INVALID,
                "not a GuardDuty finding (needs schemaVersion, type and service.serviceName 'guardduty')",
                "detail",
            )
        return [Unit(SourceFormat.GUARDDUTY_EVENTBRIDGE, detail, obj, "detail")]
    if source == "aws.securityhub" and detail_type in SECURITYHUB_ASFF_DETAIL_TYPES:
        return _findings(obj, SourceFormat.SECURITYHUB_EVENTBRIDGE)
    if source == "aws.securityhub" and detail_type == SECURITYHUB_OCSF_DETAIL_TYPE:
        return _findings(obj, SourceFormat.SECURITYHUB_V2_EVENTBRIDGE)
    raise ItemError(
        ErrorCode.FORMAT_UNKNOWN,
        f"EventBridge event with source {_short(source)} and detail-type "
        f"{_short(detail_type)} is not an alert; expected GuardDuty Finding or Security Hub findings",
    )


def detect(obj: dict[str, Any]) -> list[Unit]:
    """The findings in one JSON object, each with its recognised format; ItemError when unrecognised."""
    if is_eventbridge(obj):
        return _eventbridge(obj)
    if guardduty.looks_like_finding(obj):
        return [Unit(SourceFormat.GUARDDUTY_FINDING, obj, obj)]
    if securityhub.looks_like_finding(obj):
        return [Unit(SourceFormat.ASFF, obj, obj)]
    if ocsf.looks_like_ocsf(obj):
        return [Unit(SourceFormat.OCSF_DETECTION_FINDING, obj, obj)]
    if splunk.looks_like_webhook(obj):
        return [Unit(SourceFormat.SPLUNK_WEBHOOK, obj, obj)]
    if generic.looks_like_generic(obj):
        return [Unit(SourceFormat.ACSO_GENERIC, obj, obj)]
    keys = ", ".join(_short(k, 32) for k in list(obj)[:8]) or "none"
    raise ItemError(
        ErrorCode.FORMAT_UNKNOWN, f"not a recognised alert format (top-level keys: {keys}); expected {ACCEPTED}"
    )
