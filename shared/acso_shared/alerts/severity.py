"""Mapping each source's severity onto OCSF severity_id, keeping the source's own value."""

from __future__ import annotations

import math

from acso_shared.alerts.models import ID_BY_LABEL, LABEL_BY_ID, Severity, SeverityId, SeverityLabel

# Common spellings SIEMs use for the OCSF captions.
_LABEL_ALIASES: dict[str, SeverityLabel] = {
    "info": SeverityLabel.INFORMATIONAL,
    "informational": SeverityLabel.INFORMATIONAL,
    "information": SeverityLabel.INFORMATIONAL,
    "low": SeverityLabel.LOW,
    "medium": SeverityLabel.MEDIUM,
    "moderate": SeverityLabel.MEDIUM,
    "high": SeverityLabel.HIGH,
    "critical": SeverityLabel.CRITICAL,
    "fatal": SeverityLabel.FATAL,
    "unknown": SeverityLabel.UNKNOWN,
}


def _short(original: str | None) -> str | None:
    return original[:64] if original else None


def from_id(severity_id: SeverityId, *, score: float | None = None, original: str | None = None) -> Severity:
    """A Severity from an OCSF id."""
    return Severity(id=severity_id, label=LABEL_BY_ID[severity_id], score=score, original=_short(original))


def from_guardduty_score(score: float) -> Severity:
    """GuardDuty: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0 (AWS GuardDuty guide).

    0 is reserved by GuardDuty; we call anything below 1.0 informational rather than invent a level.
    """
    if not math.isfinite(score):
        return from_id(SeverityId.UNKNOWN, original=str(score))
    if score >= 9.0:
        sid = SeverityId.CRITICAL
    elif score >= 7.0:
        sid = SeverityId.HIGH
    elif score >= 4.0:
        sid = SeverityId.MEDIUM
    elif score >= 1.0:
        sid = SeverityId.LOW
    else:
        sid = SeverityId.INFORMATIONAL
    return from_id(sid, score=score, original=str(score))


def from_asff(label: str | None, normalized: float | None, original: str | None = None) -> Severity | None:
    """ASFF `Severity`: `Label` wins; else `Normalized` 0 / 1-39 / 40-69 / 70-89 / 90-100 (ASFF spec).

    None when neither is usable (ASFF itself calls such a finding invalid).
    """
    if label is not None:
        mapped = _LABEL_ALIASES.get(label.strip().lower())
        if mapped is not None and mapped is not SeverityLabel.FATAL:
            return Severity(id=ID_BY_LABEL[mapped], label=mapped, score=normalized, original=_short(original or label))
    if normalized is not None and math.isfinite(normalized) and 0 <= normalized <= 100:
        if normalized >= 90:
            sid = SeverityId.CRITICAL
        elif normalized >= 70:
            sid = SeverityId.HIGH
        elif normalized >= 40:
            sid = SeverityId.MEDIUM
        elif normalized >= 1:
            sid = SeverityId.LOW
        else:
            sid = SeverityId.INFORMATIONAL
        return from_id(sid, score=normalized, original=original or label)
    return None


def from_ocsf(severity_id: int, caption: str | None) -> Severity:
    """OCSF severity_id; 99 (Other) and unknown ids become UNKNOWN with the caption kept."""
    try:
        sid = SeverityId(severity_id)
    except ValueError:
        return from_id(SeverityId.UNKNOWN, original=caption or str(severity_id))
    return from_id(sid, original=caption)


def from_label(value: str) -> Severity:
    """A free-text label (Splunk `severity`/`urgency`); unrecognised text is UNKNOWN, kept as original."""
    mapped = _LABEL_ALIASES.get(value.strip().lower())
    original = _short(value)
    if mapped is None:
        return from_id(SeverityId.UNKNOWN, original=original)
    return Severity(id=ID_BY_LABEL[mapped], label=mapped, original=original)
