"""Canonical forms: both sides of a match go through them, so they decide what equals what."""

import pytest

from acso_shared.errors import Invalid
from acso_threat_hunter.intel.models import IndicatorType, ObservableType
from acso_threat_hunter.intel.normalize import infer_indicator, normalize_indicator, observable_candidates

pytestmark = pytest.mark.unit


def test_domains_are_lower_cased_without_the_root_dot():
    assert normalize_indicator(IndicatorType.DOMAIN, "Evil.EXAMPLE.") == "evil.example"


def test_internationalised_domains_become_punycode():
    assert normalize_indicator(IndicatorType.DOMAIN, "bücher.example") == "xn--bcher-kva.example"


def test_url_scheme_and_host_fold_case_but_the_path_keeps_it():
    assert normalize_indicator(IndicatorType.URL, "HTTP://Evil.Example:80/Payload.EXE#frag") == (
        "http://evil.example/Payload.EXE"
    )


def test_url_keeps_a_non_default_port():
    assert normalize_indicator(IndicatorType.URL, "https://evil.example:8443/x") == "https://evil.example:8443/x"


def test_hashes_are_lower_cased_and_typed_by_length():
    assert infer_indicator("8F722FF57B187A3E609F2EB851866C49") == (
        IndicatorType.MD5,
        "8f722ff57b187a3e609f2eb851866c49",
    )


def test_a_hash_of_the_wrong_length_for_its_declared_type_is_rejected():
    with pytest.raises(Invalid) as err:
        normalize_indicator(IndicatorType.SHA256, "8f722ff57b187a3e609f2eb851866c49")
    assert err.value.code == "invalid_hash"


def test_a_single_address_range_is_written_as_the_address():
    assert normalize_indicator(IndicatorType.IPV4, "203.0.113.45/32") == "203.0.113.45"


def test_a_cidr_with_host_bits_set_is_rejected():
    with pytest.raises(Invalid):
        normalize_indicator(IndicatorType.IPV4, "10.1.2.3/8")


def test_an_ipv4_mapped_ipv6_observable_is_the_ipv4_address():
    assert observable_candidates(ObservableType.IP, "::ffff:203.0.113.45") == (IndicatorType.IPV4, "203.0.113.45")


def test_an_observable_cannot_be_a_range():
    with pytest.raises(Invalid):
        observable_candidates(None, "10.0.0.0/8")


def test_untyped_values_are_recognised_by_shape():
    assert infer_indicator("2001:DB8::1")[0] is IndicatorType.IPV6
    assert infer_indicator("http://a.example/")[0] is IndicatorType.URL
    assert infer_indicator("a.example")[0] is IndicatorType.DOMAIN


def test_garbage_is_not_an_indicator():
    with pytest.raises(Invalid) as err:
        infer_indicator("not an indicator")
    assert err.value.code == "invalid_indicator"
