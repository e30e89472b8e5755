"""Triage of one alert: gather the evidence, then score it (`scoring.py`). No web imports.

Evidence comes from: the alert itself (finding type, severity, techniques it names), threat-intel
matches of its observables and of the source IPs its principal used, and the CloudTrail events
of its principals, access keys and resources in the window around it (the local event store, and
`cloudtrail:LookupEvents` when enabled).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from acso_shared.alerts.models import NormalizedAlert, ObservableType, ResourceType
from acso_shared.contracts import EvidenceItem, TriageRequest, TriageResult, Verdict
from acso_shared.errors import AcsoError, NotFound
from acso_shared.logging import get_logger
from acso_threat_hunter.attack.catalog import AttackCatalog
from acso_threat_hunter.cloudtrail.events import EventRow
from acso_threat_hunter.cloudtrail.lookup import LookupKey
from acso_threat_hunter.cloudtrail.store import ContextKeys, dedupe
from acso_threat_hunter.intel.models import Match, MatchRequest, MatchResponse
from acso_threat_hunter.intel.models import Observable as IntelObservable
from acso_threat_hunter.intel.models import ObservableType as IntelType

from .scoring import (
    CONTEXT_WEIGHT,
    DENIED_WEIGHT,
    MALICIOUS_INTEL_CONFIDENCE,
    PURPOSE_WEIGHT,
    SEVERITY_WEIGHT,
    Signal,
    score,
    threat_purpose,
)

log = get_logger(__name__)

_INTEL_TYPES = {
    ObservableType.IP: IntelType.IP,
    ObservableType.DOMAIN: IntelType.DOMAIN,
    ObservableType.URL: IntelType.URL,
    ObservableType.HASH_MD5: IntelType.MD5,
    ObservableType.HASH_SHA1: IntelType.SHA1,
    ObservableType.HASH_SHA256: IntelType.SHA256,
    ObservableType.HASH_SHA512: IntelType.SHA512,
}
_DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Client.UnauthorizedOperation"}
)
MAX_CONTEXT_EVIDENCE = 20  # events listed individually; the rest are counted


class Matcher(Protocol):
    async def match(self, request: MatchRequest) -> MatchResponse: ...


class ContextStore(Protocol):
    async def context(self, keys: ContextKeys, start: datetime, end: datetime, limit: int) -> list[EventRow]: ...


class Lookup(Protocol):
    async def lookup(
        self, attributes: Sequence[tuple[LookupKey, str]], start: datetime, end: datetime, limit: int
    ) -> list[EventRow]: ...


def intel_observables(alert: NormalizedAlert) -> list[IntelObservable]:
    """The alert's observables the intel store can match (IPs, domains, URLs, hashes), deduplicated."""
    seen: dict[tuple[IntelType, str], IntelObservable] = {}
    for obs in alert.observables:
        itype = _INTEL_TYPES.get(obs.type)
        if itype is not None:
            seen.setdefault((itype, obs.value), IntelObservable(type=itype, value=obs.value))
    return list(seen.values())


def context_keys(alert: NormalizedAlert) -> ContextKeys:
    """Principals (ARNs and names), access keys and resource ids the alert names."""
    arns: list[str] = []
    names: list[str] = []
    for value in alert.observables_of(ObservableType.PRINCIPAL):
        (arns if value.startswith("arn:") else names).append(value)
    keys = alert.observables_of(ObservableType.ACCESS_KEY_ID)
    resources: list[str] = list(alert.observables_of(ObservableType.INSTANCE_ID))
    for resource in alert.resources:
        if resource.type is ResourceType.IAM_ACCESS_KEY:
            keys.append(resource.id)
        elif resource.type in (ResourceType.IAM_USER, ResourceType.IAM_ROLE):
            names.append(resource.name or resource.id)
            if resource.arn:
                arns.append(resource.arn)
        elif resource.type not in (ResourceType.AWS_ACCOUNT, ResourceType.IAM_ROOT, ResourceType.OTHER):
            resources.append(resource.id)
            if resource.arn:
                resources.append(resource.arn)
    return ContextKeys(_unique(arns), _unique(names), _unique(keys), _unique(resources))


def _unique(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


def lookup_attributes(keys: ContextKeys) -> list[tuple[LookupKey, str]]:
    """LookupEvents attributes for the keys: one call each, so the most specific go first."""
    attributes: list[tuple[LookupKey, str]] = [("AccessKeyId", k) for k in keys.access_key_ids]
    attributes += [("Username", n) for n in keys.user_names]
    attributes += [("ResourceName", r) for r in keys.resource_ids]
    return attributes


def _match_signal(match: Match, via: str) -> Signal:
    related = ", ".join(f"{r.kind.value} {r.name}" for r in match.related[:5])
    summary = (
        f"{match.observable_value} ({via}) matches {match.indicator_type.value} indicator {match.indicator_value} "
        f"({match.match_kind.value}) from feed {match.source}, confidence {match.confidence}"
        + (f"; related: {related}" if related else "")
    )
    evidence = EvidenceItem(
        kind="intel_match",
        summary=summary,
        source=match.source,
        confidence=match.confidence / 100,
        data={
            "observable": match.observable_value,
            "observable_type": match.observable_type.value,
            "found_in": via,
            "indicator_id": match.indicator_id,
            "indicator_value": match.indicator_value,
            "indicator_external_id": match.external_id,
            "match_kind": match.match_kind.value,
            "labels": list(match.labels),
            "related": [r.model_dump(mode="json") for r in match.related],
            "warninglists": list(match.warninglists),
        },
    )
    supports: Verdict = "malicious" if match.confidence >= MALICIOUS_INTEL_CONFIDENCE else "suspicious"
    return Signal(evidence, match.confidence / 100, supports)


def _alert_signals(alert: NormalizedAlert) -> list[Signal]:
    purpose, implied = threat_purpose(alert.type)
    severity = alert.severity.label
    source = alert.product or alert.source
    if implied is not None:
        summary = f"finding type {alert.type}: threat purpose {purpose} is {implied} in itself"
        evidence = EvidenceItem(kind="alert_source", summary=summary, source=source, data={"type": alert.type})
        return [Signal(evidence, PURPOSE_WEIGHT[implied], implied)]
    weight = SEVERITY_WEIGHT[severity]
    high = severity.value in ("high", "critical", "fatal")
    summary = f"{source} rates the alert {severity.value} ({alert.type})" + (
        "; no corroboration needed to investigate" if high else ""
    )
    evidence = EvidenceItem(kind="alert_source", summary=summary, source=source, data={"type": alert.type})
    return [Signal(evidence, weight, "suspicious" if high else None)]


def _context_signals(rows: Sequence[EventRow], keys: ContextKeys) -> list[Signal]:
    if not rows:
        return []
    signals: list[Signal] = []
    for row in rows[:MAX_CONTEXT_EVIDENCE]:
        error = row.raw.get("errorCode")
        evidence = EvidenceItem(
            kind="cloudtrail",
            summary=f"{row.event_time.isoformat()} {row.event_source} {row.event_name} by "
            f"{row.principal_arn or row.user_name or '?'} from {row.source_ip or '?'}"
            + (f" failed: {error}" if error else ""),
            source="cloudtrail",
            data={
                "event_id": row.event_id,
                "event_time": row.event_time.isoformat(),
                "event_source": row.event_source,
                "event_name": row.event_name,
                "principal_arn": row.principal_arn,
                "access_key_id": row.access_key_id,
                "source_ip": row.source_ip,
                "error_code": error,
            },
        )
        denied = error in _DENIED_CODES
        signals.append(Signal(evidence, DENIED_WEIGHT if denied else 0.0, "suspicious" if denied else None))
    overview = EvidenceItem(
        kind="cloudtrail",
        summary=f"{len(rows)} CloudTrail events of the alert's principals/resources in the window",
        source="cloudtrail",
        data={"events": len(rows), "listed": min(len(rows), MAX_CONTEXT_EVIDENCE), "keys": _keys_data(keys)},
    )
    return [Signal(overview, CONTEXT_WEIGHT), *signals]


def _keys_data(keys: ContextKeys) -> dict[str, list[str]]:
    return {
        "principal_arns": list(keys.principal_arns),
        "user_names": list(keys.user_names),
        "access_key_ids": list(keys.access_key_ids),
        "resource_ids": list(keys.resource_ids),
    }


class TriageService:
    """Triage one alert; every dependency is injected so unit tests run without I/O."""

    def __init__(
        self,
        matcher: Matcher,
        store: ContextStore,
        catalog: AttackCatalog,
        *,
        lookup: Lookup | None = None,
        window: timedelta = timedelta(hours=1),
        context_limit: int = 50,
    ) -> None:
        self._matcher = matcher
        self._store = store
        self._catalog = catalog
        self._lookup = lookup
        self._window = window
        self._limit = context_limit

    async def triage(self, request: TriageRequest) -> TriageResult:
        """The verdict on `request.alert`, with the evidence it rests on."""
        alert = request.alert
        signals = _alert_signals(alert)
        rows = await self._context(alert)
        keys = context_keys(alert)
        signals += _context_signals(rows, keys)
        signals += await self._intel_signals(alert, rows)
        techniques, technique_signals = self._techniques(alert, signals, rows)
        signals += technique_signals
        result = score(alert, signals)
        evidence = [s.evidence for s in signals]
        intel_hits = sum(1 for s in signals if s.evidence.kind == "intel_match")
        summary = (
            f"{result.verdict} ({result.confidence:.2f}): {intel_hits} intel matches, "
            f"{len(rows)} CloudTrail events in context, techniques {', '.join(techniques) or 'none'}"
        )
        return TriageResult(
            incident_id=request.incident_id,
            alert_id=str(alert.alert_id),
            verdict=result.verdict,
            severity=result.severity,
            confidence=result.confidence,
            techniques=techniques,
            evidence=evidence,
            summary=summary,
            reasoning="deterministic",
        )

    async def _context(self, alert: NormalizedAlert) -> list[EventRow]:
        keys = context_keys(alert)
        if not keys:
            return []
        start, end = alert.first_seen - self._window, alert.last_seen + self._window
        rows = await self._store.context(keys, start, end, self._limit)
        if self._lookup is not None:
            try:
                rows += await self._lookup.lookup(lookup_attributes(keys), start, end, self._limit)
            except AcsoError as err:
                # LookupEvents is an extra source: the stored events still make a complete triage.
                log.warning("cloudtrail_lookup_failed", code=err.code, error=err.message)
        return dedupe(rows)[: self._limit]

    async def _intel_signals(self, alert: NormalizedAlert, rows: Sequence[EventRow]) -> list[Signal]:
        observables = intel_observables(alert)
        origin = ["alert"] * len(observables)
        known = {o.value for o in observables}
        for ip in dict.fromkeys(r.source_ip for r in rows if r.source_ip):
            if ip not in known:
                observables.append(IntelObservable(type=IntelType.IP, value=ip))
                origin.append("cloudtrail sourceIPAddress")
        if not observables:
            return []
        response = await self._matcher.match(MatchRequest(observables=observables))
        best: dict[tuple[int, int], Match] = {}
        for match in response.matches:
            best.setdefault((match.observable_index, match.indicator_id), match)
        return [_match_signal(m, origin[m.observable_index]) for m in best.values()]

    def _techniques(
        self, alert: NormalizedAlert, signals: Sequence[Signal], rows: Sequence[EventRow]
    ) -> tuple[list[str], list[Signal]]:
        found: dict[str, str] = {}
        for technique_id in alert.attack_techniques:
            found.setdefault(technique_id, f"named by {alert.product or alert.source}")
        for signal in signals:
            for related in signal.evidence.data.get("related", ()):
                if related.get("kind") == "attack-pattern" and related.get("external_id"):
                    found.setdefault(related["external_id"], f"linked to intel indicator ({signal.evidence.source})")
        for row in rows:
            mapped = self._catalog.for_cloudtrail_event(row.event_source, row.event_name)
            if mapped:
                found.setdefault(mapped[0].id, f"CloudTrail {row.event_source} {row.event_name}")
        out: list[Signal] = []
        for technique_id, why in found.items():
            try:
                technique = self._catalog.technique(technique_id)
                name, url = technique.display_name, technique.url
            except NotFound:
                name, url = technique_id, None
            evidence = EvidenceItem(
                kind="attack_technique",
                summary=f"{technique_id} {name}: {why}",
                source="mitre-attack",
                data={"technique": technique_id, "name": name, "url": url},
            )
            out.append(Signal(evidence, 0.0))
        return list(found), out
