"""Hunting hits as ACSO generic alerts (`acso.alert/v1`), the supervisor's ingestion format."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from acso_shared.alerts.models import GENERIC_SCHEMA_ID, TECHNIQUE_PATTERN, GenericAlert, ObservableType
from acso_shared.alerts.observables import ObservableCollector
from acso_shared.hunting.fields import resolve
from acso_shared.hunting.models import Hit, Level

SOURCE = "acso.hunting"
PRODUCT = "ACSO threat hunting"
# Observables come from at most this many of a hit's events (a correlation can carry hundreds).
MAX_EVENTS_FOR_OBSERVABLES = 20

SEVERITY: dict[Level, str] = {
    Level.INFORMATIONAL: "informational",
    Level.LOW: "low",
    Level.MEDIUM: "medium",
    Level.HIGH: "high",
    Level.CRITICAL: "critical",
}

_OBSERVABLE_PATHS: tuple[tuple[str, ObservableType], ...] = (
    ("sourceIPAddress", ObservableType.IP),
    ("userIdentity.arn", ObservableType.PRINCIPAL),
    ("userIdentity.principalId", ObservableType.PRINCIPAL_ID),
    ("userIdentity.accessKeyId", ObservableType.ACCESS_KEY_ID),
    ("flow.dstaddr", ObservableType.IP),
)


def _first(event: Mapping[str, Any], path: str) -> Any:
    values = resolve(event, path)
    return values[0] if values else None


def _alert_id(hit: Hit) -> str:
    """Stable across retries of the same object, so the supervisor deduplicates a redelivery."""
    basis: Any = sorted(hit.event_ids) if hit.event_ids else hit.events
    digest = hashlib.sha256(json.dumps([hit.rule_id, basis, hit.group], sort_keys=True, default=str).encode())
    return f"{hit.rule_id}:{digest.hexdigest()[:32]}"


def _aware(value: datetime) -> datetime:
    # CloudTrail times are UTC; a time without a zone would be refused by the alert schema.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _occurred_at(hit: Hit, fallback: datetime) -> datetime:
    if hit.first_seen is not None:
        return _aware(hit.first_seen)
    raw = _first(hit.events[0], "eventTime") if hit.events else None
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return fallback
        return _aware(parsed)
    return fallback


def alert_from_hit(hit: Hit, origin: str, fallback_time: datetime) -> dict[str, Any]:
    """The generic alert for one hit, validated against the schema the supervisor reads."""
    events = hit.events[:MAX_EVENTS_FOR_OBSERVABLES]
    observables = ObservableCollector()  # lenient: an odd field in a log record is skipped, not fatal
    for event in events:
        for path, kind in _OBSERVABLE_PATHS:
            observables.add(kind, _first(event, path), path)
    first = hit.events[0] if hit.events else {}
    account = _first(first, "recipientAccountId")
    region = _first(first, "awsRegion")
    names = sorted({str(n) for e in events if (n := _first(e, "eventName")) is not None})
    description = f"Rule {hit.rule_id} matched {len(hit.events)} event(s) in {origin}"
    if names:
        description += f" ({', '.join(names)[:500]})"
    document = {
        "schema": GENERIC_SCHEMA_ID,
        "source": SOURCE,
        "id": _alert_id(hit),
        "title": hit.title,
        "description": description + ".",
        "type": f"hunting/{hit.rule_id}",
        "severity": SEVERITY[hit.level],
        "occurred_at": _occurred_at(hit, fallback_time).isoformat(),
        "last_seen": _aware(hit.last_seen).isoformat() if hit.last_seen else None,
        "account_id": str(account) if account is not None else None,
        "region": str(region) if region is not None else None,
        "product": PRODUCT,
        "observables": [{"type": o.type.value, "value": o.value} for o in observables.result()],
        "attack_techniques": sorted({t.upper() for t in hit.techniques if re.fullmatch(TECHNIQUE_PATTERN, t.upper())}),
    }
    alert = GenericAlert.model_validate({k: v for k, v in document.items() if v is not None})
    return alert.model_dump(mode="json", by_alias=True, exclude_none=True)
