"""The deterministic triage score and the evidence triage gathers (fakes for intel and the event store)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from acso_shared.alerts import normalize_payload
from acso_shared.alerts.models import NormalizedAlert, SeverityLabel
from acso_shared.contracts import EvidenceItem, TriageRequest
from acso_shared.errors import Unavailable
from acso_threat_hunter.attack.catalog import load_catalog
from acso_threat_hunter.cloudtrail.events import EventRow, event_row
from acso_threat_hunter.cloudtrail.lookup import LookupKey
from acso_threat_hunter.cloudtrail.store import ContextKeys
from acso_threat_hunter.intel.models import (
    IndicatorType,
    Match,
    MatchEngine,
    MatchKind,
    MatchRequest,
    MatchResponse,
    RelatedKind,
    RelatedObject,
)
from acso_threat_hunter.triage.scoring import Signal, noisy_or, score, threat_purpose
from acso_threat_hunter.triage.service import TriageService, context_keys, intel_observables, lookup_attributes
from tests.fixtures.cloudtrail.samples import iam_user, record

pytestmark = pytest.mark.unit

ALERTS = Path(__file__).parents[2] / "fixtures" / "alerts"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def fixture_alert(name: str) -> NormalizedAlert:
    return normalize_payload(json.loads((ALERTS / name).read_text()))[0]


def generic(**changes: Any) -> NormalizedAlert:
    payload = {**json.loads((ALERTS / "generic_alert.json").read_text()), **changes}
    return normalize_payload(payload)[0]


def match(value: str, confidence: int, *, index: int = 0, related: Sequence[RelatedObject] = ()) -> Match:
    return Match(
        observable_index=index,
        observable_type=IndicatorType.IPV4,
        observable_value=value,
        match_kind=MatchKind.EXACT,
        indicator_id=index + 1,
        indicator_type=IndicatorType.IPV4,
        indicator_value=value,
        external_id=f"indicator--{index}",
        source="acme",
        confidence=confidence,
        related=list(related),
    )


class FakeIntel:
    def __init__(self, hits: dict[str, int]) -> None:
        self.hits = hits
        self.requests: list[MatchRequest] = []

    async def match(self, request: MatchRequest) -> MatchResponse:
        self.requests.append(request)
        found = [
            match(o.value, self.hits[o.value], index=i)
            for i, o in enumerate(request.observables)
            if o.value in self.hits
        ]
        return MatchResponse(
            matches=found,
            observables=len(request.observables),
            matched_observables=len(found),
            engine=MatchEngine.MEMORY,
            as_of=NOW,
        )


class FakeStore:
    def __init__(self, rows: Sequence[EventRow] = ()) -> None:
        self.rows = list(rows)
        self.queries: list[tuple[ContextKeys, datetime, datetime]] = []

    async def context(self, keys: ContextKeys, start: datetime, end: datetime, limit: int) -> list[EventRow]:
        self.queries.append((keys, start, end))
        return self.rows[:limit]


class FailingLookup:
    async def lookup(
        self, attributes: Sequence[tuple[LookupKey, str]], start: datetime, end: datetime, limit: int
    ) -> list[EventRow]:
        raise Unavailable("aws_throttled", "cloudtrail:LookupEvents: ThrottlingException")


def signal(kind: str, weight: float, supports: Any = None) -> Signal:
    return Signal(EvidenceItem(kind=kind, summary="s"), weight, supports)


@pytest.mark.parametrize(
    ("alert_type", "expected"),
    [
        ("UnauthorizedAccess:EC2/TorIPCaller", ("UnauthorizedAccess", "malicious")),
        ("CryptoCurrency:EC2/BitcoinTool.B!DNS", ("CryptoCurrency", "malicious")),
        ("Recon:EC2/PortProbeUnprotectedPort", ("Recon", "suspicious")),
        ("Policy:S3/BucketBlockPublicAccessDisabled", ("Policy", "suspicious")),
        ("network.ssh_bruteforce.outbound", ("", None)),
    ],
)
def test_the_finding_types_threat_purpose_implies_a_verdict(alert_type: str, expected: tuple[str, Any]) -> None:
    assert threat_purpose(alert_type) == expected


def test_independent_signals_combine_as_noisy_or() -> None:
    assert noisy_or([]) == 0
    assert noisy_or([0.5, 0.5]) == pytest.approx(0.75)
    assert noisy_or([1.0, 0.2]) == 1.0


def test_a_high_confidence_intel_match_is_malicious_and_raises_the_severity_to_high() -> None:
    result = score(generic(severity="low"), [signal("intel_match", 0.85, "malicious")])
    assert (result.verdict, result.severity, result.confidence) == ("malicious", SeverityLabel.HIGH, 0.85)


def test_intel_and_a_malicious_finding_type_together_make_it_critical() -> None:
    signals = [signal("intel_match", 0.7, "malicious"), signal("alert_source", 0.8, "malicious")]
    result = score(generic(severity="medium"), signals)
    assert result.severity is SeverityLabel.CRITICAL
    assert result.confidence == pytest.approx(0.94)


def test_a_low_confidence_match_is_suspicious_and_never_lowers_the_alerts_severity() -> None:
    result = score(generic(severity="critical"), [signal("intel_match", 0.4, "suspicious")])
    assert (result.verdict, result.severity, result.confidence) == ("suspicious", SeverityLabel.CRITICAL, 0.4)


def test_without_supporting_evidence_the_verdict_is_benign_with_bounded_confidence() -> None:
    assert score(generic(severity="low"), [signal("alert_source", 0.1)]).confidence == 0.8
    assert score(generic(severity="low"), [signal("alert_source", 0.9)]).confidence == 0.2
    assert score(generic(severity="low"), []).verdict == "benign"


def test_observables_for_intel_are_the_matchable_kinds_only() -> None:
    alert = fixture_alert("guardduty_instance_credential_exfiltration.json")
    values = {(o.type.value if o.type else None, o.value) for o in intel_observables(alert)}
    assert ("ip", "203.0.113.77") in values
    assert not any(v == "AKIAIOSFODNN7EXAMPLE" for _, v in values)


def test_context_keys_come_from_principal_key_and_resource_observables() -> None:
    keys = context_keys(fixture_alert("guardduty_instance_credential_exfiltration.json"))
    assert "AKIAIOSFODNN7EXAMPLE" in keys.access_key_ids
    assert "svc-deploy" in keys.user_names
    assert lookup_attributes(keys)[0] == ("AccessKeyId", "AKIAIOSFODNN7EXAMPLE")


async def test_a_guardduty_tor_finding_is_malicious_by_its_type_alone() -> None:
    triage = TriageService(FakeIntel({}), FakeStore(), load_catalog())
    alert = fixture_alert("guardduty_tor_ip_caller.json")
    result = await triage.triage(TriageRequest(incident_id="inc-1", alert=alert))
    assert result.verdict == "malicious"
    assert result.severity == "high"
    assert result.reasoning == "deterministic"
    assert "T1090.003" in result.techniques
    assert result.evidence[0].kind == "alert_source"


async def test_source_ips_of_the_context_events_are_matched_too_and_linked_techniques_kept() -> None:
    identity = iam_user("svc-deploy")
    rows = [
        row
        for row in (event_row(record("iam.amazonaws.com", "CreateAccessKey", {"userName": "bob"}, identity=identity)),)
        if row
    ]
    intel = FakeIntel({"203.0.113.24": 90})
    triage = TriageService(intel, FakeStore(rows), load_catalog(), lookup=FailingLookup())
    alert = generic(type="identity.odd", severity="low", observables=[{"type": "principal", "value": "svc-deploy"}])
    result = await triage.triage(TriageRequest(incident_id="inc-2", alert=alert))

    assert [o.value for o in intel.requests[0].observables] == ["203.0.113.24"]
    hit = next(e for e in result.evidence if e.kind == "intel_match")
    assert hit.data["found_in"] == "cloudtrail sourceIPAddress"
    assert result.verdict == "malicious"
    assert any(e.kind == "cloudtrail" and e.data.get("event_name") == "CreateAccessKey" for e in result.evidence)
    mapped = load_catalog().for_cloudtrail_event("iam.amazonaws.com", "CreateAccessKey")
    assert mapped
    assert mapped[0].id in result.techniques


async def test_an_attack_pattern_linked_to_the_matched_indicator_becomes_a_technique() -> None:
    pattern = RelatedObject(
        id="attack-pattern--1",
        kind=RelatedKind.ATTACK_PATTERN,
        name="Data from Cloud Storage",
        external_id="T1530",
        relationship="indicates",
    )

    class LinkedIntel(FakeIntel):
        async def match(self, request: MatchRequest) -> MatchResponse:
            response = await super().match(request)
            response.matches = [m.model_copy(update={"related": [pattern]}) for m in response.matches]
            return response

    triage = TriageService(LinkedIntel({"203.0.113.45": 85}), FakeStore(), load_catalog())
    alert = generic(attack_techniques=[], observables=[{"type": "ip", "value": "203.0.113.45"}])
    result = await triage.triage(TriageRequest(incident_id="inc-4", alert=alert))
    assert result.techniques == ["T1530"]
    assert next(e for e in result.evidence if e.kind == "attack_technique").data["name"] == "Data from Cloud Storage"


async def test_a_denied_call_by_the_principal_makes_an_otherwise_quiet_alert_suspicious() -> None:
    denied = event_row(
        record(
            "iam.amazonaws.com",
            "AttachUserPolicy",
            {"userName": "svc-deploy"},
            identity=iam_user("svc-deploy"),
            error="AccessDenied",
        )
    )
    assert denied is not None
    triage = TriageService(FakeIntel({}), FakeStore([denied]), load_catalog())
    alert = generic(type="identity.odd", severity="low", observables=[{"type": "principal", "value": "svc-deploy"}])
    result = await triage.triage(TriageRequest(incident_id="inc-3", alert=alert))
    assert result.verdict == "suspicious"
    assert result.severity == "medium"


async def test_a_hit_on_a_misp_warning_listed_value_alone_does_not_raise_the_verdict() -> None:
    class ResolverIntel(FakeIntel):
        async def match(self, request: MatchRequest) -> MatchResponse:
            response = await super().match(request)
            lists = ["List of known IPv4 public DNS resolvers"]
            response.matches = [m.model_copy(update={"warninglists": lists}) for m in response.matches]
            return response

    alert = generic(type="network.dns.odd", severity="low", observables=[{"type": "ip", "value": "8.8.8.8"}])
    flagged = await TriageService(ResolverIntel({"8.8.8.8": 95}), FakeStore(), load_catalog()).triage(
        TriageRequest(incident_id="inc-wl", alert=alert)
    )
    unflagged = await TriageService(FakeIntel({"8.8.8.8": 95}), FakeStore(), load_catalog()).triage(
        TriageRequest(incident_id="inc-nwl", alert=alert)
    )

    hit = next(e for e in flagged.evidence if e.kind == "intel_match")
    assert hit.data["warninglists"] == ["List of known IPv4 public DNS resolvers"]
    assert flagged.verdict == "benign"
    assert flagged.severity == "low"
    assert unflagged.verdict == "malicious"
