"""The in-memory indicator index: the hot path of `POST /v1/intel/match`.

Exact values live in one dict per type; IP indicators (single addresses are /32 or /128
networks) live in one dict per prefix length keyed by the network number, so an address is
checked against every range with at most 33 (IPv4) or 129 (IPv6) dict probes, in practice the
handful of prefix lengths a feed uses. Validity is checked at match time, so an indicator stops
matching the second it expires, whether or not a refresh has run since.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from acso_shared.errors import Invalid

from .models import (
    IndicatorType,
    Match,
    MatchEngine,
    MatchKind,
    MatchResponse,
    Observable,
    RejectedObservable,
    RelatedObject,
)
from .normalize import IP_TYPES, observable_candidates, parse_ip, parse_network

_MAX_PREFIX = {4: 32, 6: 128}


class IndexedIndicator:
    """The slice of an indicator the matcher needs; slots keep a million of them affordable."""

    __slots__ = (
        "confidence",
        "external_id",
        "id",
        "labels",
        "related",
        "source",
        "type",
        "valid_from",
        "valid_until",
        "value",
    )

    def __init__(
        self,
        *,
        id: int,
        source: str,
        external_id: str,
        type: IndicatorType,
        value: str,
        confidence: int,
        valid_from: datetime | None,
        valid_until: datetime | None,
        labels: tuple[str, ...] = (),
        related: tuple[RelatedObject, ...] = (),
    ) -> None:
        self.id = id
        self.source = source
        self.external_id = external_id
        self.type = type
        self.value = value
        self.confidence = confidence
        self.valid_from = valid_from
        self.valid_until = valid_until
        self.labels = labels
        self.related = related

    def active(self, now: datetime) -> bool:
        """Inside its validity window now."""
        return (self.valid_until is None or self.valid_until > now) and (
            self.valid_from is None or self.valid_from <= now
        )


class IntelIndex:
    """Indicators by canonical value, updated in place by id (upsert/remove), queried in batches."""

    def __init__(self) -> None:
        self._by_id: dict[int, IndexedIndicator] = {}
        self._exact: dict[IndicatorType, dict[str, list[IndexedIndicator]]] = {}
        self._wildcard: dict[str, list[IndexedIndicator]] = {}
        # version -> prefix length -> (network number >> host bits) -> indicators
        self._nets: dict[int, dict[int, dict[int, list[IndexedIndicator]]]] = {4: {}, 6: {}}
        self._prefixes: dict[int, list[int]] = {4: [], 6: []}
        self._context_cache: dict[tuple[RelatedObject, ...], tuple[RelatedObject, ...]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def _bucket(self, ind: IndexedIndicator, create: bool) -> list[IndexedIndicator] | None:
        if ind.type in IP_TYPES:
            net = parse_network(ind.value)
            by_len = self._nets[net.version]
            plen = net.prefixlen
            if plen not in by_len:
                if not create:
                    return None
                by_len[plen] = {}
                # Longest prefixes first: the most specific range is reported first.
                self._prefixes[net.version] = sorted(by_len, reverse=True)
            key = int(net.network_address) >> (_MAX_PREFIX[net.version] - plen)
            table: dict[int, list[IndexedIndicator]] = by_len[plen]
            return table.setdefault(key, []) if create else table.get(key)
        if ind.type is IndicatorType.DOMAIN and ind.value.startswith("*."):
            key_s = ind.value[2:]
            return self._wildcard.setdefault(key_s, []) if create else self._wildcard.get(key_s)
        values = self._exact.setdefault(ind.type, {})
        return values.setdefault(ind.value, []) if create else values.get(ind.value)

    def upsert(self, ind: IndexedIndicator) -> None:
        """Add an indicator, replacing the one with the same id; context tuples are shared between rows."""
        self.remove(ind.id)
        ind.related = self._context_cache.setdefault(ind.related, ind.related)
        bucket = self._bucket(ind, create=True)
        assert bucket is not None  # create=True always yields a bucket
        bucket.append(ind)
        self._by_id[ind.id] = ind

    def remove(self, indicator_id: int) -> None:
        """Forget an indicator (revoked or deleted); unknown ids are ignored."""
        old = self._by_id.pop(indicator_id, None)
        if old is None:
            return
        bucket = self._bucket(old, create=False)
        if bucket is not None:
            bucket[:] = [i for i in bucket if i.id != indicator_id]

    def prune(self, now: datetime) -> int:
        """Drop expired indicators to bound memory; returns how many went."""
        expired = [i.id for i in self._by_id.values() if i.valid_until is not None and i.valid_until <= now]
        for ind_id in expired:
            self.remove(ind_id)
        return len(expired)

    def _ip_hits(self, addr_text: str, now: datetime, via_url: bool) -> Iterable[tuple[MatchKind, IndexedIndicator]]:
        addr = ipaddress.ip_address(addr_text)
        number = int(addr)
        maxlen = _MAX_PREFIX[addr.version]
        by_len = self._nets[addr.version]
        for plen in self._prefixes[addr.version]:
            for ind in by_len[plen].get(number >> (maxlen - plen), ()):
                if ind.active(now):
                    kind = MatchKind.URL_HOST if via_url else MatchKind.EXACT if plen == maxlen else MatchKind.CIDR
                    yield kind, ind

    def _domain_hits(self, domain: str, now: datetime, via_url: bool) -> Iterable[tuple[MatchKind, IndexedIndicator]]:
        for ind in self._exact.get(IndicatorType.DOMAIN, {}).get(domain, ()):
            if ind.active(now):
                yield (MatchKind.URL_HOST if via_url else MatchKind.EXACT), ind
        if self._wildcard:
            labels = domain.split(".")
            for i in range(1, len(labels) - 1):
                for ind in self._wildcard.get(".".join(labels[i:]), ()):
                    if ind.active(now):
                        yield (MatchKind.URL_HOST if via_url else MatchKind.SUBDOMAIN), ind

    def _hits(self, itype: IndicatorType, value: str, now: datetime) -> Iterable[tuple[MatchKind, IndexedIndicator]]:
        if itype in IP_TYPES:
            yield from self._ip_hits(value, now, via_url=False)
        elif itype is IndicatorType.DOMAIN:
            yield from self._domain_hits(value, now, via_url=False)
        else:
            for ind in self._exact.get(itype, {}).get(value, ()):
                if ind.active(now):
                    yield MatchKind.EXACT, ind
            if itype is IndicatorType.URL:
                # A URL on a known-bad host is evidence even when the exact URL is not listed.
                host = urlsplit(value).hostname or ""
                try:
                    yield from self._ip_hits(str(parse_ip(host)), now, via_url=True)
                except Invalid:
                    yield from self._domain_hits(host, now, via_url=True)

    def match(self, observables: Sequence[Observable], now: datetime) -> MatchResponse:
        """Match a batch; malformed observables are reported in `rejected`, not raised, so one bad value
        in an alert does not hide the hits of the others."""
        matches: list[Match] = []
        rejected: list[RejectedObservable] = []
        matched = 0
        for n, obs in enumerate(observables):
            try:
                itype, value = observable_candidates(obs.type, obs.value)
            except Invalid as err:
                rejected.append(RejectedObservable(observable_index=n, code=err.code, message=err.message))
                continue
            hit = False
            for kind, ind in self._hits(itype, value, now):
                hit = True
                matches.append(to_match(n, itype, value, kind, ind))
            matched += hit
        return MatchResponse(
            matches=matches,
            observables=len(observables),
            matched_observables=matched,
            rejected=rejected,
            engine=MatchEngine.MEMORY,
            as_of=now,
        )


def to_match(n: int, itype: IndicatorType, value: str, kind: MatchKind, ind: IndexedIndicator) -> Match:
    """The wire form of one hit; built without re-validation since every field is already canonical."""
    return Match.model_construct(
        observable_index=n,
        observable_type=itype,
        observable_value=value,
        match_kind=kind,
        indicator_id=ind.id,
        indicator_type=ind.type,
        indicator_value=ind.value,
        external_id=ind.external_id,
        source=ind.source,
        confidence=ind.confidence,
        valid_until=ind.valid_until,
        labels=list(ind.labels),
        related=list(ind.related),
    )
