"""The pure rules of the front door: which address is the caller's, which token a request carries,
which CORS headers an origin gets, how a status reads in the audit log."""

from __future__ import annotations

import pytest

from acso_shared.audit.chain import AuditResult
from acso_shared.errors import Unauthorized
from acso_shared.web.auth import audit_result, request_token
from acso_shared.web.security import client_address, cors_headers, is_preflight

pytestmark = pytest.mark.unit


def test_without_trusted_proxies_a_forwarded_for_header_is_ignored() -> None:
    assert client_address("10.0.0.9", "1.2.3.4", 0) == "10.0.0.9"


def test_the_address_is_taken_as_many_hops_from_the_right_as_proxies_are_trusted() -> None:
    header = "6.6.6.6, 203.0.113.7, 10.0.1.2"
    assert client_address("10.0.0.9", header, 1) == "10.0.1.2"
    assert client_address("10.0.0.9", header, 2) == "203.0.113.7"


def test_a_short_forwarded_for_header_yields_its_leftmost_entry() -> None:
    assert client_address("10.0.0.9", "203.0.113.7", 3) == "203.0.113.7"


def test_the_stream_takes_its_token_from_the_subprotocol_pair() -> None:
    headers = {"Sec-WebSocket-Protocol": "bearer, tok.en.value"}
    assert request_token("GET", "/v1/stream", headers, {}) == "tok.en.value"


def test_the_stream_takes_its_token_from_the_query_parameter() -> None:
    assert request_token("GET", "/v1/stream", {}, {"access_token": "tok.en.q"}) == "tok.en.q"


def test_the_authorization_header_wins_over_other_forms() -> None:
    headers = {"Authorization": "Bearer from.head.er", "Sec-WebSocket-Protocol": "bearer, other"}
    assert request_token("GET", "/v1/stream", headers, {"access_token": "q"}) == "from.head.er"


@pytest.mark.parametrize(
    ("method", "template", "headers", "query"),
    [
        ("GET", "/v1/me", {}, {"access_token": "tok"}),
        ("GET", "/v1/me", {"Sec-WebSocket-Protocol": "bearer, tok"}, {}),
        ("GET", "/v1/stream", {"Sec-WebSocket-Protocol": "bearer"}, {}),
        ("GET", "/v1/stream", {}, {"access_token": " "}),
        ("POST", "/v1/stream", {}, {"access_token": "tok"}),
    ],
)
def test_other_routes_and_incomplete_forms_carry_no_token(
    method: str, template: str, headers: dict[str, str], query: dict[str, str]
) -> None:
    with pytest.raises(Unauthorized) as caught:
        request_token(method, template, headers, query)
    assert caught.value.code == "token_missing"


def test_an_allowed_origin_gets_cors_headers_and_others_get_none() -> None:
    allowed = {"https://console.example"}
    assert cors_headers("https://console.example", allowed, preflight=False)["Access-Control-Allow-Origin"] == (
        "https://console.example"
    )
    assert cors_headers("https://evil.example", allowed, preflight=True) == {}
    assert cors_headers(None, allowed, preflight=False) == {}
    assert "Access-Control-Allow-Credentials" not in cors_headers("https://console.example", allowed, preflight=True)


def test_a_preflight_is_an_options_request_with_origin_and_requested_method() -> None:
    assert is_preflight("OPTIONS", {"Origin": "o", "Access-Control-Request-Method": "GET"})
    assert not is_preflight("OPTIONS", {"Origin": "o"})
    assert not is_preflight("GET", {"Origin": "o", "Access-Control-Request-Method": "GET"})


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, AuditResult.SUCCESS),
        (204, AuditResult.SUCCESS),
        (401, AuditResult.DENIED),
        (403, AuditResult.DENIED),
        (400, AuditResult.FAILURE),
        (500, AuditResult.FAILURE),
    ],
)
def test_statuses_read_as_audit_results(status: int, result: AuditResult) -> None:
    assert audit_result(status) is result
