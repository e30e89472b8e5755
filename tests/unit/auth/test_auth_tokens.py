"""Specification of Cognito JWT verification: forged, stale and misdirected tokens are all 401."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from acso_shared.auth.models import PrincipalKind, Role, TokenUse
from acso_shared.auth.tokens import SyncTokenVerifier, TokenPolicy, TokenVerifier, bearer_token, parse_jwks
from acso_shared.errors import Unauthorized, Unavailable, Upstream

pytestmark = pytest.mark.unit

ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_TestPool"
CLIENT = "client-web"
MACHINE_CLIENT = "client-siem"
NOW = 1_800_000_000.0


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid}, private=True)


KEY = _key("k1")
OTHER_KEY = _key("k1")  # same kid, different key material: a forger's key
ROTATED_KEY = _key("k2")


def _jwks(*keys: RSAKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False, alg="RS256", use="sig") for k in keys]}


def _access_claims(**overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": "8a7f-user",
        "iss": ISSUER,
        "token_use": "access",
        "client_id": CLIENT,
        "scope": "aws.cognito.signin.user.admin",
        "username": "alice",
        "cognito:groups": ["responder", "not-a-role"],
        "auth_time": int(NOW) - 100,
        "iat": int(NOW) - 100,
        "exp": int(NOW) + 3500,
        "jti": "jti-1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _id_claims(**overrides: Any) -> dict[str, Any]:
    claims = _access_claims(token_use="id", aud=CLIENT, client_id=None, username=None, scope=None)
    claims["cognito:username"] = "alice"
    claims.update(overrides)
    return claims


def _sign(claims: dict[str, Any], key: RSAKey = KEY, kid: str | None = None) -> str:
    return jwt.encode({"alg": "RS256", "kid": kid or str(key.kid)}, claims, key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_token(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}.{_b64(signature)}"


class JwksSource:
    """An injected JWKS fetcher that counts calls and can be rotated."""

    def __init__(self, *keys: RSAKey) -> None:
        self.document = _jwks(*keys)
        self.calls = 0
        self.fail = False

    async def __call__(self) -> dict[str, Any]:
        await asyncio.sleep(0)  # a real fetch yields to other requests while it runs
        return self.get()

    def get(self) -> dict[str, Any]:
        self.calls += 1
        if self.fail:
            raise ConnectionError("jwks endpoint down")
        return self.document


class Clocks:
    def __init__(self) -> None:
        self.wall = NOW
        self.mono = 1000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
def source() -> JwksSource:
    return JwksSource(KEY)


@pytest.fixture
def verifier(source: JwksSource, clocks: Clocks) -> TokenVerifier:
    policy = TokenPolicy(issuer=ISSUER, client_ids=frozenset({CLIENT, MACHINE_CLIENT}))
    return TokenVerifier(policy, source, clock=clocks.time, monotonic=clocks.monotonic)


async def _code(verifier: TokenVerifier, token: str | None, **kwargs: Any) -> str:
    with pytest.raises(Unauthorized) as caught:
        await verifier.verify(token, **kwargs)
    return caught.value.code


async def test_a_valid_user_access_token_yields_a_user_principal_with_known_roles(verifier: TokenVerifier) -> None:
    principal = await verifier.verify(_sign(_access_claims()))

    assert principal.kind is PrincipalKind.USER
    assert principal.subject == "8a7f-user"
    assert principal.username == "alice"
    assert principal.roles == frozenset({Role.RESPONDER})
    assert principal.client_id == CLIENT
    assert principal.token_use is TokenUse.ACCESS
    assert principal.token_id == "jti-1"


async def test_a_client_credentials_token_yields_a_machine_principal_with_its_scopes(verifier: TokenVerifier) -> None:
    claims = _access_claims(
        sub=MACHINE_CLIENT, client_id=MACHINE_CLIENT, username=None, scope="acso/alerts.write acso/read"
    )
    del claims["cognito:groups"]

    principal = await verifier.verify(_sign(claims))

    assert principal.kind is PrincipalKind.MACHINE
    assert principal.scopes == frozenset({"acso/alerts.write", "acso/read"})
    assert principal.roles == frozenset()


async def test_a_missing_token_is_token_missing(verifier: TokenVerifier) -> None:
    assert await _code(verifier, None) == "token_missing"


async def test_alg_none_is_rejected_before_any_key_lookup(verifier: TokenVerifier, source: JwksSource) -> None:
    token = _raw_token({"alg": "none", "kid": "k1"}, _access_claims(), b"") + "x"

    assert await _code(verifier, token) == "token_invalid"
    assert source.calls == 0


async def test_an_unsigned_token_with_an_empty_signature_is_rejected(verifier: TokenVerifier) -> None:
    token = _raw_token({"alg": "none", "kid": "k1"}, _access_claims(), b"")

    assert await _code(verifier, token) == "token_invalid"


@pytest.mark.parametrize("encoding", ["pem", "jwk-json"])
async def test_hs256_signed_with_the_public_key_is_rejected(verifier: TokenVerifier, encoding: str) -> None:
    public = KEY.as_pem(private=False) if encoding == "pem" else json.dumps(KEY.as_dict(private=False)).encode()
    header = {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_access_claims()).encode())}"
    signature = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()

    assert await _code(verifier, f"{signing_input}.{_b64(signature)}") == "token_invalid"


@pytest.mark.parametrize("alg", ["RS512", "PS256", "ES256", "HS512", "RS256 "])
async def test_any_algorithm_other_than_rs256_is_rejected(verifier: TokenVerifier, alg: str) -> None:
    token = _raw_token({"alg": alg, "kid": "k1"}, _access_claims(), b"sig")

    assert await _code(verifier, token) == "token_invalid"


async def test_a_token_signed_by_another_key_with_the_same_kid_is_rejected(verifier: TokenVerifier) -> None:
    assert await _code(verifier, _sign(_access_claims(), key=OTHER_KEY)) == "token_invalid"


async def test_a_token_whose_payload_was_altered_after_signing_is_rejected(verifier: TokenVerifier) -> None:
    header, _, signature = _sign(_access_claims()).split(".")
    forged_payload = _b64(json.dumps(_access_claims(**{"cognito:groups": ["admin"]})).encode())

    assert await _code(verifier, f"{header}.{forged_payload}.{signature}") == "token_invalid"


@pytest.mark.parametrize("garbage", ["abc", "a.b", "a.b.c.d.e", "!!!.???.###", "e30.e30."])
async def test_malformed_tokens_are_token_invalid(verifier: TokenVerifier, garbage: str) -> None:
    assert await _code(verifier, garbage) == "token_invalid"


async def test_an_expired_token_is_token_expired(verifier: TokenVerifier) -> None:
    token = _sign(_access_claims(exp=int(NOW) - 61))

    assert await _code(verifier, token) == "token_expired"


async def test_a_token_expired_within_the_leeway_is_still_accepted(verifier: TokenVerifier) -> None:
    principal = await verifier.verify(_sign(_access_claims(exp=int(NOW) - 30)))

    assert principal.username == "alice"


async def test_a_token_without_exp_is_rejected(verifier: TokenVerifier) -> None:
    claims = _access_claims()
    del claims["exp"]

    assert await _code(verifier, _sign(claims)) == "token_invalid"


async def test_a_token_not_valid_before_a_future_time_is_rejected(verifier: TokenVerifier) -> None:
    assert await _code(verifier, _sign(_access_claims(nbf=int(NOW) + 120))) == "token_not_yet_valid"


async def test_a_token_issued_in_the_future_is_rejected(verifier: TokenVerifier) -> None:
    assert await _code(verifier, _sign(_access_claims(iat=int(NOW) + 600))) == "token_not_yet_valid"


async def test_an_access_token_for_another_client_is_token_wrong_audience(verifier: TokenVerifier) -> None:
    assert await _code(verifier, _sign(_access_claims(client_id="someone-else"))) == "token_wrong_audience"


async def test_a_token_from_another_issuer_is_token_wrong_issuer(verifier: TokenVerifier) -> None:
    other = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"

    assert await _code(verifier, _sign(_access_claims(iss=other))) == "token_wrong_issuer"


async def test_an_id_token_where_an_access_token_is_required_is_token_wrong_use(verifier: TokenVerifier) -> None:
    assert await _code(verifier, _sign(_id_claims())) == "token_wrong_use"


async def test_an_id_token_is_accepted_where_explicitly_allowed(verifier: TokenVerifier) -> None:
    principal = await verifier.verify(_sign(_id_claims()), accept={TokenUse.ID})

    assert principal.token_use is TokenUse.ID
    assert principal.username == "alice"
    assert principal.client_id == CLIENT


async def test_an_id_token_for_another_audience_is_token_wrong_audience(verifier: TokenVerifier) -> None:
    token = _sign(_id_claims(aud=["someone-else"]))

    assert await _code(verifier, token, accept={TokenUse.ID}) == "token_wrong_audience"


async def test_an_unknown_kid_refreshes_the_jwks_and_picks_up_a_rotated_key(
    verifier: TokenVerifier, source: JwksSource, clocks: Clocks
) -> None:
    await verifier.verify(_sign(_access_claims()))
    source.document = _jwks(KEY, ROTATED_KEY)
    clocks.mono += 31

    principal = await verifier.verify(_sign(_access_claims(), key=ROTATED_KEY))

    assert principal.username == "alice"
    assert source.calls == 2


async def test_known_keys_are_served_from_the_cache(verifier: TokenVerifier, source: JwksSource) -> None:
    for _ in range(3):
        await verifier.verify(_sign(_access_claims()))

    assert source.calls == 1


async def test_unknown_kids_do_not_refetch_more_often_than_the_refresh_interval(
    verifier: TokenVerifier, source: JwksSource
) -> None:
    await verifier.verify(_sign(_access_claims()))

    for _ in range(3):
        assert await _code(verifier, _sign(_access_claims(), key=ROTATED_KEY)) == "token_invalid"

    assert source.calls == 1


async def test_a_jwks_outage_with_no_cached_key_is_unavailable_not_unauthorized(
    verifier: TokenVerifier, source: JwksSource
) -> None:
    source.fail = True

    with pytest.raises(Unavailable) as caught:
        await verifier.verify(_sign(_access_claims()))

    assert caught.value.code == "jwks_unavailable"


async def test_a_jwks_outage_keeps_serving_cached_keys_after_they_go_stale(
    verifier: TokenVerifier, source: JwksSource, clocks: Clocks
) -> None:
    await verifier.verify(_sign(_access_claims()))
    source.fail = True
    clocks.mono += 7200

    principal = await verifier.verify(_sign(_access_claims()))

    assert principal.username == "alice"
    assert source.calls == 2


async def test_during_a_jwks_outage_fetches_are_retried_at_most_once_per_interval(
    verifier: TokenVerifier, source: JwksSource, clocks: Clocks
) -> None:
    await verifier.verify(_sign(_access_claims()))
    source.fail = True
    clocks.mono += 7200

    for _ in range(3):
        await verifier.verify(_sign(_access_claims()))
    clocks.mono += 31
    await verifier.verify(_sign(_access_claims()))

    assert source.calls == 3


async def test_before_any_successful_fetch_every_token_is_unavailable_and_the_next_request_fetches_again(
    verifier: TokenVerifier, source: JwksSource
) -> None:
    source.fail = True
    with pytest.raises(Unavailable):
        await verifier.verify(_sign(_access_claims()))

    with pytest.raises(Unavailable):
        await verifier.verify(_sign(_access_claims()))
    source.fail = False
    principal = await verifier.verify(_sign(_access_claims()))

    assert principal.username == "alice"
    assert source.calls == 3


async def test_concurrent_requests_share_one_jwks_fetch_and_wait_for_it(
    verifier: TokenVerifier, source: JwksSource
) -> None:
    results = await asyncio.gather(*(verifier.verify(_sign(_access_claims())) for _ in range(10)))

    assert {p.username for p in results} == {"alice"}
    assert source.calls == 1


async def test_readiness_fetches_the_keys_once_and_reports_them(verifier: TokenVerifier, source: JwksSource) -> None:
    assert await verifier.ensure_keys() is True
    assert await verifier.ensure_keys() is True
    assert source.calls == 1
    source.fail = True
    fresh = TokenVerifier(verifier.policy, source)
    assert await fresh.ensure_keys() is False


def test_the_sync_verifier_applies_the_same_checks(clocks: Clocks) -> None:
    source = JwksSource(KEY)
    policy = TokenPolicy(issuer=ISSUER, client_ids=frozenset({CLIENT}))
    verifier = SyncTokenVerifier(policy, source.get, clock=clocks.time, monotonic=clocks.monotonic)

    assert verifier.verify(_sign(_access_claims())).username == "alice"
    with pytest.raises(Unauthorized) as caught:
        verifier.verify(_sign(_access_claims(exp=int(NOW) - 3600)))
    assert caught.value.code == "token_expired"


def test_a_jwks_without_rs256_signing_keys_is_an_upstream_error() -> None:
    with pytest.raises(Upstream):
        parse_jwks({"keys": [{"kty": "oct", "kid": "x", "k": "c2VjcmV0"}]})


def test_jwks_keys_for_encryption_are_ignored() -> None:
    encryption_key = KEY.as_dict(private=False, use="enc")

    with pytest.raises(Upstream):
        parse_jwks({"keys": [encryption_key]})


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "])
def test_an_absent_or_non_bearer_authorization_header_is_token_missing(header: str | None) -> None:
    with pytest.raises(Unauthorized) as caught:
        bearer_token(header)

    assert caught.value.code == "token_missing"


def test_the_bearer_scheme_is_case_insensitive() -> None:
    assert bearer_token("bearer abc.def.ghi") == "abc.def.ghi"
