"""The outbound ITSM URL allow-list."""

from __future__ import annotations

import pytest

from acso_service_orchestration.itsm.urlpolicy import UrlPolicy, host_matches, validate_url
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit

JIRA = UrlPolicy(host_patterns=("*.atlassian.net",))


def test_a_site_on_the_allow_list_is_normalised_without_trailing_slash():
    assert str(validate_url("https://Acme.atlassian.net/", JIRA)) == "https://acme.atlassian.net"


@pytest.mark.parametrize(
    "url",
    [
        "https://0x7f000001",
        "https://127.1",
        "https://0177.0.0.1",
        "https://[::ffff:169.254.169.254]",
        "https://10.0.0.5",
        "https://acme.atlassian.net.",
        "https://a.b.atlassian.net",
        "https://atlassian.net",
        "https://evilatlassian.net",
        "https://acme.atlassian.net/?next=http://evil",
        "https://acme.atlassian.net/rest",
        "ftp://acme.atlassian.net",
        "//acme.atlassian.net",
        "https://u@acme.atlassian.net",
    ],
)
def test_forged_or_ambiguous_urls_are_rejected(url):
    with pytest.raises(Invalid) as caught:
        validate_url(url, JIRA)
    assert caught.value.code == "itsm_url_not_allowed"


def test_loopback_http_only_when_the_policy_allows_it():
    with pytest.raises(Invalid):
        validate_url("http://127.0.0.1:8080", JIRA)
    loopback = UrlPolicy(host_patterns=(), allow_loopback_http=True)
    assert validate_url("http://127.0.0.1:8080", loopback).port == 8080


def test_an_allowed_port_is_accepted():
    policy = UrlPolicy(host_patterns=("jira.corp.example",), allowed_ports=frozenset({8443}))
    assert validate_url("https://jira.corp.example:8443", policy).port == 8443


def test_webhook_urls_may_carry_a_path():
    policy = UrlPolicy(host_patterns=("hooks.example.com",), allow_path=True)
    assert validate_url("https://hooks.example.com/acso/in", policy).path == "/acso/in"


def test_wildcard_matches_exactly_one_label():
    assert host_matches("acme.service-now.com", "*.service-now.com")
    assert not host_matches("service-now.com", "*.service-now.com")
    assert not host_matches("-bad.service-now.com", "*.service-now.com")
