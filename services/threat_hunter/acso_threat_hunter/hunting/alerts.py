"""Hunt hits as ACSO generic alerts (`acso.alert/v1`) for the supervisor's ingestion.

The alert id is deterministic per (rule, event): `<rule id>:<event id>` for a single-event hit, and
`<rule id>:<sha256 of the group and the burst's first event id>` for a correlation, so re-running a
hunt over the same logs, or a later hunt that sees the same burst grow, yields the same ids and the
supervisor deduplicates them. Hits of other rules on the same event and detection were folded
into the hit before (`acso_shared.hunting.dedup`); the description names them.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from acso_shared.alerts.models import GENERIC_SCHEMA_ID, GenericAlert
from acso_shared.hunting.models import Hit, Level
from acso_threat_hunter.cloudtrail.events import resource_ids, user_name_of

ALERT_SOURCE = "acso.threat_hunter"
ALERT_INGEST = "alert.ingest"
EVIDENCE_EVENTS_PER_ALERT = 10
MAX_ENVELOPE_BYTES = 200_000  # SQS allows 256 KiB; leave room for the envelope itself
_LEVEL_SEVERITY = {
    Level.INFORMATIONAL: "informational",
    Level.LOW: "low",
    Level.MEDIUM: "medium",
    Level.HIGH: "high",
    Level.CRITICAL: "critical",
}


def hit_alert_id(hit: Hit) -> str:
    """`<rule id>:<event id>`; for a hit over several events, a digest of its group and first event.

    A correlation's burst keeps its first event when later events extend it (a burst that
    grows across scheduled hunts is found again from the same start), so its alert id stays the
    same and the supervisor folds the repeat instead of opening a second incident.
    """
    ids = sorted(set(hit.event_ids))
    if len(ids) == 1 and len(hit.events) == 1:
        return f"{hit.rule_id}:{ids[0]}"
    first = hit.events[0].get("eventID") if hit.events else None
    if isinstance(first, str):
        material = json.dumps({"group": hit.group, "first": first}, sort_keys=True, default=str)
    else:
        material = "\n".join(ids) if ids else json.dumps(hit.events, sort_keys=True, default=str)
    return f"{hit.rule_id}:{hashlib.sha256(material.encode()).hexdigest()[:32]}"


def _ip(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None  # AWS services call with their own name, e.g. `ec2.amazonaws.com`


def _identity(event: Mapping[str, Any]) -> Mapping[str, Any]:
    identity = event.get("userIdentity")
    return identity if isinstance(identity, Mapping) else {}


def hit_to_alert(hit: Hit, *, hunt_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The generic alert JSON of one hit (validated against `GenericAlert`)."""
    events = hit.events
    first = events[0] if events else {}
    identity = _identity(first)
    observables: list[dict[str, str]] = []
    resources: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()

    def observe(kind: str, value: str | None) -> None:
        if value and (kind, value) not in seen:
            seen.add((kind, value))
            observables.append({"type": kind, "value": value})

    for event in events:
        ident = _identity(event)
        observe("ip", _ip(event.get("sourceIPAddress")))
        observe("principal", ident.get("arn") if isinstance(ident.get("arn"), str) else None)
        observe("access_key_id", ident.get("accessKeyId") if isinstance(ident.get("accessKeyId"), str) else None)
        for rid in resource_ids(event):
            if rid.startswith("i-") and ("instance", rid) not in seen:
                seen.add(("instance", rid))
                resources.append({"type": "ec2_instance", "id": rid})
    arn = identity.get("arn")
    user = user_name_of(identity)
    if isinstance(arn, str) and user:
        kind = "iam_role" if identity.get("type") == "AssumedRole" else "iam_user"
        resources.insert(0, {"type": kind, "id": user, "arn": arn})
    elif identity.get("type") == "Root":
        resources.insert(0, {"type": "iam_root", "id": str(identity.get("accountId") or "root")})
    stamp = now or datetime.now(UTC)
    lines = [
        f"- {e.get('eventTime')} {e.get('eventSource')} {e.get('eventName')} by "
        f"{_identity(e).get('arn', '?')} from {e.get('sourceIPAddress', '?')} (eventID {e.get('eventID', '?')})"
        for e in events[:EVIDENCE_EVENTS_PER_ALERT]
    ]
    more = len(events) - len(lines)
    description = (
        f"Sigma rule {hit.title!r} ({hit.rule_id}) matched {len(events)} CloudTrail event(s) in hunt {hunt_id}:\n"
        + "\n".join(lines)
        + (f"\n... and {more} more" if more > 0 else "")
        + (f"\nAlso detected by rules: {', '.join(hit.also_matched)}" if hit.also_matched else "")
    )
    account = first.get("recipientAccountId") or identity.get("accountId")
    alert = {
        "schema": GENERIC_SCHEMA_ID,
        "source": ALERT_SOURCE,
        "id": hit_alert_id(hit),
        "title": hit.title,
        "description": description,
        "type": f"hunt.cloudtrail.{hit.rule_id}",
        "severity": _LEVEL_SEVERITY[hit.level],
        "occurred_at": (hit.last_seen or hit.first_seen or stamp).isoformat(),
        "first_seen": (hit.first_seen or stamp).isoformat(),
        "last_seen": (hit.last_seen or hit.first_seen or stamp).isoformat(),
        "account_id": account if isinstance(account, str) else None,
        "region": first.get("awsRegion") if isinstance(first.get("awsRegion"), str) else None,
        "product": "ACSO threat hunter",
        "resources": resources[:100],
        "observables": observables[:500],
        "attack_techniques": list(hit.techniques)[:50],
    }
    GenericAlert.model_validate(alert)
    return alert


def alert_batches(
    alerts: Sequence[dict[str, Any]], evidence: Mapping[str, list[dict[str, Any]]], *, max_alerts: int = 10
) -> list[dict[str, Any]]:
    """`alert.ingest` payloads: `{"alerts": [...], "evidence": {alert id: [events]}}`, each under the SQS size
    limit (evidence events are trimmed first; the hunt keeps the full list)."""
    payloads: list[dict[str, Any]] = []
    for start in range(0, len(alerts), max_alerts):
        chunk = list(alerts[start : start + max_alerts])
        keep = EVIDENCE_EVENTS_PER_ALERT
        while True:
            payload = {"alerts": chunk, "evidence": {a["id"]: evidence.get(a["id"], [])[:keep] for a in chunk}}
            if len(json.dumps(payload, default=str)) <= MAX_ENVELOPE_BYTES or keep == 0:
                break
            keep //= 2
        payloads.append(payload)
    return payloads
