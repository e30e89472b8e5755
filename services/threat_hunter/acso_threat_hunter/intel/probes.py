"""Observables to look-up probes for the SQL match path (the same semantics as `IntelIndex`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from acso_shared.errors import Invalid

from .models import IndicatorType, Observable, RejectedObservable
from .normalize import IP_TYPES, observable_candidates, parse_ip


class ProbeKind(StrEnum):
    EXACT = "exact"
    IP = "ip"
    WILDCARD = "wildcard"


@dataclass(frozen=True, slots=True)
class Probe:
    """One look-up: `n` is the observable's index in the batch."""

    n: int
    kind: ProbeKind
    type: IndicatorType
    value: str
    via_url: bool = False


def _parents(domain: str) -> list[str]:
    """Parent domains a `*.parent` indicator would cover (never a bare TLD)."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels) - 1)]


def _domain_probes(n: int, domain: str, via_url: bool) -> list[Probe]:
    return [
        Probe(n, ProbeKind.EXACT, IndicatorType.DOMAIN, domain, via_url),
        *(Probe(n, ProbeKind.WILDCARD, IndicatorType.DOMAIN, parent, via_url) for parent in _parents(domain)),
    ]


def build_probes(observables: Sequence[Observable]) -> tuple[list[Probe], list[RejectedObservable]]:
    """Probes for a batch; the first probe of each observable carries its canonical type and value."""
    probes: list[Probe] = []
    rejected: list[RejectedObservable] = []
    for n, obs in enumerate(observables):
        try:
            itype, value = observable_candidates(obs.type, obs.value)
        except Invalid as err:
            rejected.append(RejectedObservable(observable_index=n, code=err.code, message=err.message))
            continue
        if itype in IP_TYPES:
            probes.append(Probe(n, ProbeKind.IP, itype, value))
        elif itype is IndicatorType.DOMAIN:
            probes.extend(_domain_probes(n, value, via_url=False))
        else:
            probes.append(Probe(n, ProbeKind.EXACT, itype, value))
        if itype is IndicatorType.URL:
            host = urlsplit(value).hostname or ""
            try:
                addr = parse_ip(host)
            except Invalid:
                probes.extend(_domain_probes(n, host, via_url=True))
            else:
                family = IndicatorType.IPV4 if addr.version == 4 else IndicatorType.IPV6
                probes.append(Probe(n, ProbeKind.IP, family, str(addr), via_url=True))
    return probes, rejected
