"""The in-memory index: exact, CIDR, subdomain and URL-host matches, validity, incremental updates."""

from datetime import UTC, datetime, timedelta

import pytest

from acso_threat_hunter.intel.index import IndexedIndicator, IntelIndex
from acso_threat_hunter.intel.models import (
    IndicatorType,
    MatchKind,
    Observable,
    ObservableType,
    RelatedKind,
    RelatedObject,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 1, tzinfo=UTC)
ACTOR = RelatedObject(
    id="threat-actor--1", kind=RelatedKind.THREAT_ACTOR, name="Scattered Orbit", relationship="indicates"
)


def _ind(
    id_: int,
    itype: IndicatorType,
    value: str,
    *,
    until: datetime | None = None,
    source: str = "acme",
    confidence: int = 70,
    valid_from: datetime | None = None,
) -> IndexedIndicator:
    return IndexedIndicator(
        id=id_,
        source=source,
        external_id=f"indicator--{id_}",
        type=itype,
        value=value,
        confidence=confidence,
        valid_from=valid_from,
        valid_until=until,
        related=(ACTOR,),
    )


def _index(*indicators: IndexedIndicator) -> IntelIndex:
    index = IntelIndex()
    for ind in indicators:
        index.upsert(ind)
    return index


def _hits(index: IntelIndex, *observables: Observable, now: datetime = NOW) -> list[tuple[int, int, MatchKind]]:
    return [(m.observable_index, m.indicator_id, m.match_kind) for m in index.match(list(observables), now).matches]


def test_an_exact_ip_matches_with_source_confidence_and_context():
    index = _index(_ind(1, IndicatorType.IPV4, "203.0.113.45", confidence=85))
    match = index.match([Observable(type=ObservableType.IP, value="203.0.113.45")], NOW).matches[0]
    assert (match.source, match.confidence, match.external_id, match.match_kind) == (
        "acme",
        85,
        "indicator--1",
        MatchKind.EXACT,
    )
    assert match.related[0].name == "Scattered Orbit"


def test_an_address_inside_a_cidr_matches_as_cidr():
    index = _index(_ind(1, IndicatorType.IPV4, "10.0.0.0/8"))
    assert _hits(index, Observable(value="10.20.30.40")) == [(0, 1, MatchKind.CIDR)]


def test_an_address_outside_the_range_does_not_match():
    index = _index(_ind(1, IndicatorType.IPV4, "10.0.0.0/8"))
    assert _hits(index, Observable(value="11.0.0.1")) == []


def test_the_most_specific_range_is_reported_first():
    index = _index(_ind(1, IndicatorType.IPV4, "10.0.0.0/8"), _ind(2, IndicatorType.IPV4, "10.1.0.0/16"))
    assert [h[1] for h in _hits(index, Observable(value="10.1.2.3"))] == [2, 1]


def test_ipv6_ranges_match_ipv6_addresses():
    index = _index(_ind(1, IndicatorType.IPV6, "2001:db8:bad::/48"))
    assert _hits(index, Observable(value="2001:db8:bad:1::5")) == [(0, 1, MatchKind.CIDR)]


def test_domains_match_case_insensitively():
    index = _index(_ind(1, IndicatorType.DOMAIN, "evil.example"))
    assert _hits(index, Observable(type=ObservableType.DOMAIN, value="EVIL.example.")) == [(0, 1, MatchKind.EXACT)]


def test_a_wildcard_domain_matches_subdomains_but_not_itself():
    index = _index(_ind(1, IndicatorType.DOMAIN, "*.dyn-c2.example"))
    assert _hits(index, Observable(value="a.b.dyn-c2.example"), Observable(value="dyn-c2.example")) == [
        (0, 1, MatchKind.SUBDOMAIN)
    ]


def test_a_plain_domain_does_not_match_its_subdomains():
    index = _index(_ind(1, IndicatorType.DOMAIN, "evil.example"))
    assert _hits(index, Observable(value="www.evil.example")) == []


def test_a_url_on_a_listed_host_matches_as_url_host():
    index = _index(_ind(1, IndicatorType.DOMAIN, "evil.example"), _ind(2, IndicatorType.IPV4, "192.0.2.0/24"))
    assert _hits(index, Observable(value="https://evil.example/x"), Observable(value="http://192.0.2.7:8080/")) == [
        (0, 1, MatchKind.URL_HOST),
        (1, 2, MatchKind.URL_HOST),
    ]


def test_urls_match_exactly_after_normalisation_but_paths_are_case_sensitive():
    index = _index(_ind(1, IndicatorType.URL, "http://evil.example/Payload.exe"))
    assert _hits(index, Observable(value="HTTP://EVIL.example:80/Payload.exe")) == [(0, 1, MatchKind.EXACT)]
    assert _hits(index, Observable(type=ObservableType.URL, value="http://evil.example/payload.exe")) == []


def test_a_hash_matches_in_any_case():
    index = _index(_ind(1, IndicatorType.MD5, "44d88612fea8a8f36de82e1278abb02f"))
    assert _hits(index, Observable(type=ObservableType.HASH, value="44D88612FEA8A8F36DE82E1278ABB02F")) == [
        (0, 1, MatchKind.EXACT)
    ]


def test_an_expired_indicator_does_not_match():
    index = _index(_ind(1, IndicatorType.IPV4, "192.0.2.10", until=NOW - timedelta(seconds=1)))
    assert _hits(index, Observable(value="192.0.2.10")) == []


def test_an_indicator_stops_matching_the_moment_it_expires():
    index = _index(_ind(1, IndicatorType.IPV4, "192.0.2.10", until=NOW + timedelta(hours=1)))
    assert _hits(index, Observable(value="192.0.2.10")) == [(0, 1, MatchKind.EXACT)]
    assert _hits(index, Observable(value="192.0.2.10"), now=NOW + timedelta(hours=1)) == []


def test_an_indicator_not_yet_valid_does_not_match():
    index = _index(_ind(1, IndicatorType.IPV4, "192.0.2.10", valid_from=NOW + timedelta(days=1)))
    assert _hits(index, Observable(value="192.0.2.10")) == []


def test_the_same_value_from_two_sources_gives_two_matches():
    index = _index(
        _ind(1, IndicatorType.IPV4, "192.0.2.10", source="a"), _ind(2, IndicatorType.IPV4, "192.0.2.10", source="b")
    )
    assert {m.source for m in index.match([Observable(value="192.0.2.10")], NOW).matches} == {"a", "b"}


def test_an_upsert_with_the_same_id_replaces_the_old_version():
    index = _index(_ind(1, IndicatorType.IPV4, "192.0.2.10", confidence=30))
    index.upsert(_ind(1, IndicatorType.IPV4, "192.0.2.10", confidence=90))
    assert [m.confidence for m in index.match([Observable(value="192.0.2.10")], NOW).matches] == [90]
    assert len(index) == 1


def test_a_removed_indicator_no_longer_matches():
    index = _index(_ind(1, IndicatorType.IPV4, "10.0.0.0/8"))
    index.remove(1)
    assert _hits(index, Observable(value="10.0.0.1")) == []


def test_prune_drops_expired_indicators_only():
    index = _index(
        _ind(1, IndicatorType.IPV4, "192.0.2.1", until=NOW - timedelta(days=1)),
        _ind(2, IndicatorType.IPV4, "192.0.2.2"),
    )
    assert index.prune(NOW) == 1
    assert len(index) == 1


def test_a_malformed_observable_is_reported_without_hiding_the_others():
    index = _index(_ind(1, IndicatorType.IPV4, "192.0.2.1"))
    response = index.match([Observable(type=ObservableType.IP, value="nope"), Observable(value="192.0.2.1")], NOW)
    assert [r.observable_index for r in response.rejected] == [0]
    assert response.matched_observables == 1
