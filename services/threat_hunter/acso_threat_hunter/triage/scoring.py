"""The deterministic triage score: verdict, severity and confidence from the evidence found.

Rules (in order, the first that holds decides the verdict):
1. `malicious`: an active threat-intel match with confidence >= 70, or a finding type whose threat
   purpose is malicious in itself (GuardDuty `UnauthorizedAccess`, `CryptoCurrency`, `Trojan`,
   `Backdoor`, `Impact`, `CredentialAccess`, `Exfiltration`, `Execution`).
2. `suspicious`: any lower-confidence intel match, a suspicious threat purpose (`Recon`, `Discovery`,
   `Persistence`, `PrivilegeEscalation`, `DefenseEvasion`, `Stealth`, `Behavior`, `InitialAccess`,
   `Policy`, `Pentest`...), CloudTrail calls by the alert's principal that AWS denied, or a detector
   that rates the alert high or critical (uncorroborated, but not dismissed).
3. `benign` otherwise.

An intel match whose indicator value is on a MISP warning list (a public resolver, a top-site
domain, the hash of an empty file: `evidence.data["warninglists"]`) stays in the evidence but
supports no verdict and adds no weight: such a hit alone is no sign of compromise.

Severity never drops below the alert's own: malicious raises it to at least high (critical when
both intel and the finding type say malicious), suspicious to at least medium.

Confidence combines the weights of the evidence that supports the verdict as independent signals
(noisy-OR: 1 - prod(1 - w)). A benign verdict is the absence of such evidence, so its confidence is
1 minus the combined weight of whatever was found, kept within 0.2..0.8: no evidence is not proof.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from acso_shared.alerts.models import ID_BY_LABEL, NormalizedAlert, SeverityLabel
from acso_shared.contracts import EvidenceItem, Verdict

MALICIOUS_INTEL_CONFIDENCE = 70
MALICIOUS_PURPOSES = frozenset(
    {
        "unauthorizedaccess",
        "cryptocurrency",
        "trojan",
        "backdoor",
        "impact",
        "credentialaccess",
        "exfiltration",
        "execution",
    }
)
SUSPICIOUS_PURPOSES = frozenset(
    {
        "recon",
        "discovery",
        "persistence",
        "privilegeescalation",
        "defenseevasion",
        "stealth",
        "behavior",
        "initialaccess",
        "policy",
        "pentest",
        "maliciousip",
    }
)
PURPOSE_WEIGHT = {"malicious": 0.8, "suspicious": 0.5}
# What an uncorroborated detection is worth on its own, by the detector's severity.
SEVERITY_WEIGHT = {
    SeverityLabel.FATAL: 0.5,
    SeverityLabel.CRITICAL: 0.5,
    SeverityLabel.HIGH: 0.4,
    SeverityLabel.MEDIUM: 0.25,
    SeverityLabel.LOW: 0.1,
    SeverityLabel.INFORMATIONAL: 0.05,
    SeverityLabel.UNKNOWN: 0.1,
}
CONTEXT_WEIGHT = 0.1  # the principal was active in the window: the alert describes real activity
DENIED_WEIGHT = 0.3  # the principal tried calls it may not make
# `Purpose:ResourceType/ThreatFamily` (GuardDuty, and Security Hub relaying it).
_FINDING_TYPE = re.compile(r"^(?P<purpose>[A-Za-z]+):[A-Za-z0-9]+/")


@dataclass(frozen=True, slots=True)
class Signal:
    """One piece of evidence and what it says: its weight and the verdict it supports."""

    evidence: EvidenceItem
    weight: float
    supports: Verdict | None = None


@dataclass(frozen=True, slots=True)
class Score:
    verdict: Verdict
    severity: SeverityLabel
    confidence: float


def threat_purpose(alert_type: str) -> tuple[str, Verdict | None]:
    """The finding type's threat purpose and the verdict it implies on its own (None: neutral)."""
    found = _FINDING_TYPE.match(alert_type)
    if found is None:
        return "", None
    purpose = found["purpose"]
    key = purpose.lower()
    if key in MALICIOUS_PURPOSES:
        return purpose, "malicious"
    if key in SUSPICIOUS_PURPOSES:
        return purpose, "suspicious"
    return purpose, None


def noisy_or(weights: Iterable[float]) -> float:
    """Independent signals combined: 1 - prod(1 - w)."""
    remaining = 1.0
    for weight in weights:
        remaining *= 1.0 - min(max(weight, 0.0), 1.0)
    return 1.0 - remaining


def max_severity(*labels: SeverityLabel) -> SeverityLabel:
    """The most severe label."""
    return max(labels, key=lambda label: ID_BY_LABEL[label])


def on_warning_list(signal: Signal) -> bool:
    """An intel match on a value MISP warning lists name (see the module docstring)."""
    return signal.evidence.kind == "intel_match" and bool((signal.evidence.data or {}).get("warninglists"))


def score(alert: NormalizedAlert, signals: Sequence[Signal]) -> Score:
    """Verdict, severity and confidence from the signals (see the module docstring for the rules)."""
    signals = [Signal(s.evidence, 0.0, None) if on_warning_list(s) else s for s in signals]
    malicious = [s for s in signals if s.supports == "malicious"]
    suspicious = [s for s in signals if s.supports == "suspicious"]
    verdict: Verdict
    if malicious:
        verdict = "malicious"
        kinds = {s.evidence.kind for s in malicious}
        floor = SeverityLabel.CRITICAL if {"intel_match", "alert_source"} <= kinds else SeverityLabel.HIGH
        confidence = min(0.99, noisy_or(s.weight for s in (*malicious, *suspicious)))
    elif suspicious:
        verdict = "suspicious"
        floor = SeverityLabel.MEDIUM
        confidence = min(0.99, noisy_or(s.weight for s in suspicious))
    else:
        verdict = "benign"
        floor = SeverityLabel.INFORMATIONAL
        confidence = min(0.8, max(0.2, 1.0 - noisy_or(s.weight for s in signals)))
    return Score(verdict, max_severity(alert.severity.label, floor), round(confidence, 2))
