"""Cognito JWT verification: RS256 only, against the user pool's JWKS.

The verifier never trusts the token header beyond choosing a key: the algorithm is pinned to
RS256 before any cryptography runs (so `alg: none` and HS256-signed-with-the-public-key tokens
are refused outright), keys are looked up by `kid` in a cached JWKS that is refetched when an
unknown `kid` appears (key rotation), and the claims are checked one by one so every refusal has
a stable error code.

The JWKS URL and the issuer are configuration, not derived from each other: the local emulator
serves the JWKS itself but puts the real AWS issuer in its tokens.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from acso_shared.auth.models import AuthMethod, Principal, PrincipalKind, Role, TokenUse
from acso_shared.errors import AcsoError, Unauthorized, Unavailable, Upstream

ALGORITHM: Final = "RS256"
# A Cognito access token with many groups stays far below this; the cap bounds parsing work.
MAX_TOKEN_BYTES: Final = 16_384
_COLD_RETRY_S: Final = 1.0

JwksFetcher = Callable[[], Awaitable[Mapping[str, Any]]]
SyncJwksFetcher = Callable[[], Mapping[str, Any]]
Clock = Callable[[], float]


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must say to be accepted.

    `issuer` is `https://cognito-idp.<region>.amazonaws.com/<pool-id>`; `client_ids` are the app
    clients allowed to call this API (checked against `client_id` of access tokens and `aud` of
    id tokens).
    """

    issuer: str
    client_ids: frozenset[str]
    leeway_s: float = 60.0
    accepted_uses: frozenset[TokenUse] = frozenset({TokenUse.ACCESS})
    # Refetching on every unknown kid would let anyone make us hammer the JWKS endpoint.
    min_refresh_interval_s: float = 30.0
    # Keys also expire from the cache so a revoked key stops being trusted without a restart.
    max_jwks_age_s: float = 3600.0

    def __post_init__(self) -> None:
        if not self.issuer:
            raise ValueError("issuer must not be empty")
        if not self.client_ids:
            raise ValueError("at least one client id is required")
        if not self.accepted_uses:
            raise ValueError("at least one token use must be accepted")


@dataclass(frozen=True)
class _Unverified:
    kid: str


def bearer_token(authorization: str | None) -> str:
    """Extract the token from an `Authorization: Bearer <token>` header value.

    Raises `Unauthorized("token_missing")` when the header is absent, empty or another scheme.
    """
    if not authorization:
        raise Unauthorized("token_missing", "an Authorization: Bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("token_missing", "an Authorization: Bearer token is required")
    return token


def _b64url_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError) as err:
        raise Unauthorized("token_invalid", "the token is not a well-formed JWT") from err


def _inspect_header(token: str) -> _Unverified:
    """Check the parts of the header we act on before any key is chosen."""
    if len(token) > MAX_TOKEN_BYTES:
        raise Unauthorized("token_invalid", "the token is too large")
    parts = token.split(".")
    # Five parts would be a JWE; Cognito only issues signed compact JWS.
    if len(parts) != 3 or not all(parts):
        raise Unauthorized("token_invalid", "the token is not a signed compact JWT")
    header = _b64url_json(parts[0])
    if not isinstance(header, dict):
        raise Unauthorized("token_invalid", "the token header is not a JSON object")
    if header.get("alg") != ALGORITHM:
        raise Unauthorized("token_invalid", f"the token algorithm must be {ALGORITHM}")
    if "crit" in header:
        raise Unauthorized("token_invalid", "critical header extensions are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Unauthorized("token_invalid", "the token header has no key id")
    return _Unverified(kid=kid)


def parse_jwks(document: Mapping[str, Any]) -> dict[str, RSAKey]:
    """Keep the RSA signing keys of a JWKS document, by `kid`.

    Keys for encryption, for another algorithm or without a `kid` are skipped; a document with no
    usable key is an upstream error (a misconfigured JWKS URL must not look like a bad token).
    """
    raw_keys = document.get("keys")
    if not isinstance(raw_keys, list):
        raise Upstream("jwks_invalid", "the JWKS document has no 'keys' list")
    keys: dict[str, RSAKey] = {}
    for raw in raw_keys:
        if not isinstance(raw, dict) or raw.get("kty") != "RSA":
            continue
        kid = raw.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        if raw.get("use", "sig") != "sig" or raw.get("alg", ALGORITHM) != ALGORITHM:
            continue
        public = {k: raw[k] for k in ("kty", "kid", "n", "e") if k in raw}
        try:
            keys[kid] = RSAKey.import_key(public)
        except (JoseError, ValueError, TypeError):
            continue
    if not keys:
        raise Upstream("jwks_invalid", "the JWKS document has no RS256 signing key")
    return keys


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    # bool is an int subclass; `"exp": true` is not a time.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized("token_invalid", f"the '{name}' claim is not a number")
    return float(value)


def _string(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Unauthorized("token_invalid", f"the '{name}' claim is not a string")
    return value


def _check_use(claims: Mapping[str, Any], accept: Collection[TokenUse]) -> TokenUse:
    raw = claims.get("token_use")
    if raw not in {u.value for u in TokenUse}:
        raise Unauthorized("token_wrong_use", "the token has no valid 'token_use'")
    use = TokenUse(raw)
    if use not in accept:
        raise Unauthorized("token_wrong_use", f"a {use.value} token is not accepted here")
    return use


def _check_times(claims: Mapping[str, Any], now: float, leeway_s: float) -> float:
    exp = _number(claims, "exp")
    if exp is None:
        raise Unauthorized("token_invalid", "the token has no 'exp' claim")
    if now > exp + leeway_s:
        raise Unauthorized("token_expired", "the token has expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now + leeway_s < nbf:
        raise Unauthorized("token_not_yet_valid", "the token is not valid yet")
    iat = _number(claims, "iat")
    if iat is not None and now + leeway_s < iat:
        raise Unauthorized("token_not_yet_valid", "the token was issued in the future")
    return exp


def _check_client(claims: Mapping[str, Any], use: TokenUse, client_ids: frozenset[str]) -> str:
    # Cognito access tokens carry the app client in `client_id` and have no `aud`; id tokens use `aud`.
    if use is TokenUse.ACCESS:
        client_id = _string(claims, "client_id")
        if client_id is None or client_id not in client_ids:
            raise Unauthorized("token_wrong_audience", "the token was issued to another client")
        return client_id
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    for audience in audiences:
        if isinstance(audience, str) and audience in client_ids:
            return audience
    raise Unauthorized("token_wrong_audience", "the token was issued to another client")


def _check_claims(
    claims: Mapping[str, Any], policy: TokenPolicy, now: float, accept: Collection[TokenUse]
) -> Principal:
    if claims.get("iss") != policy.issuer:
        raise Unauthorized("token_wrong_issuer", "the token was issued by another identity provider")
    use = _check_use(claims, accept)
    exp = _check_times(claims, now, policy.leeway_s)
    client_id = _check_client(claims, use, policy.client_ids)

    subject = _string(claims, "sub")
    if not subject:
        raise Unauthorized("token_invalid", "the token has no subject")

    username = _string(claims, "username" if use is TokenUse.ACCESS else "cognito:username")
    raw_groups = claims.get("cognito:groups", [])
    if not isinstance(raw_groups, list):
        raise Unauthorized("token_invalid", "the 'cognito:groups' claim is not a list")
    known_roles = {r.value for r in Role}
    roles = frozenset(Role(g) for g in raw_groups if isinstance(g, str) and g in known_roles)
    scope = _string(claims, "scope") or ""
    # A client-credentials token names no user: it is the integration itself calling.
    kind = PrincipalKind.USER if username else PrincipalKind.MACHINE
    return Principal(
        subject=subject,
        username=username,
        kind=kind,
        auth_method=AuthMethod.BEARER,
        roles=roles if kind is PrincipalKind.USER else frozenset(),
        scopes=frozenset(scope.split()),
        client_id=client_id,
        token_use=use,
        token_id=_string(claims, "jti"),
        expires_at=int(exp),
    )


@dataclass
class _KeyCache:
    policy: TokenPolicy
    monotonic: Clock
    keys: dict[str, RSAKey] = field(default_factory=dict)
    fetched_at: float | None = None
    attempted_at: float | None = None

    def needs_fetch(self, kid: str, cold_retry_s: float = _COLD_RETRY_S) -> bool:
        now = self.monotonic()
        # At most one fetch per interval, successful or not: unknown kids sent by a forger and a
        # JWKS outage must not turn every request into a call to the identity provider.
        # Until a first fetch has succeeded no token can be checked at all, so a failed first
        # attempt (a cold start racing the identity provider) is retried after a second.
        interval = self.policy.min_refresh_interval_s if self.fetched_at is not None else cold_retry_s
        if self.attempted_at is not None and now - self.attempted_at < interval:
            return False
        if self.fetched_at is None or now - self.fetched_at > self.policy.max_jwks_age_s:
            return True
        return kid not in self.keys

    def attempt(self) -> None:
        self.attempted_at = self.monotonic()

    def store(self, document: Mapping[str, Any]) -> None:
        self.store_keys(parse_jwks(document))

    def store_keys(self, keys: dict[str, RSAKey]) -> None:
        self.keys = keys
        self.fetched_at = self.monotonic()

    def warm(self) -> bool:
        """Keys fetched and not yet due for a refresh."""
        return self.fetched_at is not None and self.monotonic() - self.fetched_at <= self.policy.max_jwks_age_s

    def fetch_failed(self, kid: str, err: Exception) -> None:
        """Keep serving a known key through a JWKS outage; without one we cannot decide at all."""
        if kid not in self.keys:
            raise Unavailable("jwks_unavailable", "the signing keys could not be fetched") from err

    def key_for(self, kid: str) -> RSAKey:
        key = self.keys.get(kid)
        if key is None:
            if self.fetched_at is None:
                raise Unavailable("jwks_unavailable", "the signing keys have not been fetched yet")
            raise Unauthorized("token_invalid", "the token was signed with an unknown key")
        return key


def _verify_signature(token: str, key: RSAKey) -> Mapping[str, Any]:
    try:
        decoded = jwt.decode(token, key, algorithms=[ALGORITHM])
    except JoseError as err:
        raise Unauthorized("token_invalid", "the token signature or payload is invalid") from err
    return decoded.claims


class _VerifierBase:
    def __init__(self, policy: TokenPolicy, *, clock: Clock, monotonic: Clock) -> None:
        self.policy = policy
        self._clock = clock
        self._cache = _KeyCache(policy, monotonic)

    def _accept(self, accept: Collection[TokenUse] | None) -> Collection[TokenUse]:
        return self.policy.accepted_uses if accept is None else accept

    def _finish(self, token: str, kid: str, accept: Collection[TokenUse] | None) -> Principal:
        claims = _verify_signature(token, self._cache.key_for(kid))
        return _check_claims(claims, self.policy, self._clock(), self._accept(accept))


class TokenVerifier(_VerifierBase):
    """Verifies Cognito JWTs in async services; the JWKS fetch is injected.

    `fetch_jwks` returns the JWKS document (`{"keys": [...]}`); the lead backs it with an HTTP GET
    of the pool's `/.well-known/jwks.json` (or the emulator's). Concurrent requests that need the
    keys share one fetch and wait for it, at most `fetch_wait_s`, instead of failing while it runs;
    `ensure_keys` runs the same fetch for `/readyz`, so a service is ready only once it has keys.
    """

    def __init__(
        self,
        policy: TokenPolicy,
        fetch_jwks: JwksFetcher,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
        fetch_wait_s: float = 10.0,
    ) -> None:
        super().__init__(policy, clock=clock, monotonic=monotonic)
        self._fetch = fetch_jwks
        self._fetch_wait_s = fetch_wait_s
        self._inflight: asyncio.Task[dict[str, RSAKey]] | None = None

    async def _load(self) -> dict[str, RSAKey]:
        return parse_jwks(await self._fetch())

    def _loaded(self, task: asyncio.Task[dict[str, RSAKey]]) -> None:
        # Stored by the task's callback, not by a waiter: the keys land even if every waiter gave up.
        self._inflight = None
        if not task.cancelled() and task.exception() is None:
            self._cache.store_keys(task.result())

    async def _refresh(self, kid: str) -> None:
        """Fetch the keys once for every request that needs them now (one task, many waiters)."""
        task = self._inflight
        if task is None:
            # Before any key was fetched nothing can be served, and one fetch at a time is in flight
            # (the others wait for it): a request after a failed cold fetch tries again at once.
            if not self._cache.needs_fetch(kid, cold_retry_s=0.0):
                return
            self._cache.attempt()
            task = self._inflight = asyncio.create_task(self._load(), name="jwks-fetch")
            task.add_done_callback(self._loaded)
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=self._fetch_wait_s)
        except Upstream:
            if kid not in self._cache.keys:
                raise  # a JWKS without a usable key is a misconfiguration, not an outage
        except Exception as err:
            self._cache.fetch_failed(kid, err)

    async def ensure_keys(self) -> bool:
        """Whether signing keys are at hand, fetching them (shared with requests) when there are
        none yet or they went stale; for `/readyz`."""
        if not self._cache.warm():
            with contextlib.suppress(AcsoError):
                await self._refresh("")
        return bool(self._cache.keys)

    async def verify(self, token: str | None, *, accept: Collection[TokenUse] | None = None) -> Principal:
        """Verify `token` and return its principal, or raise `Unauthorized` with a stable code.

        `accept` overrides the policy's accepted token uses for one call (e.g. `{TokenUse.ID}`
        where an id token is explicitly allowed).
        """
        if not token:
            raise Unauthorized("token_missing", "a bearer token is required")
        header = _inspect_header(token)
        if self._inflight is not None or self._cache.needs_fetch(header.kid, cold_retry_s=0.0):
            await self._refresh(header.kid)
        return self._finish(token, header.kid, accept)


class SyncTokenVerifier(_VerifierBase):
    """The same verification for synchronous callers such as the API Gateway authorizer Lambda,
    whose JWKS cache lives as long as the warm execution environment.
    """

    def __init__(
        self,
        policy: TokenPolicy,
        fetch_jwks: SyncJwksFetcher,
        *,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        super().__init__(policy, clock=clock, monotonic=monotonic)
        self._fetch = fetch_jwks

    def verify(self, token: str | None, *, accept: Collection[TokenUse] | None = None) -> Principal:
        """Verify `token` and return its principal, or raise `Unauthorized` with a stable code."""
        if not token:
            raise Unauthorized("token_missing", "a bearer token is required")
        header = _inspect_header(token)
        if self._cache.needs_fetch(header.kid):
            self._cache.attempt()
            try:
                document = self._fetch()
            except Exception as err:
                self._cache.fetch_failed(header.kid, err)
            else:
                self._cache.store(document)
        return self._finish(token, header.kid, accept)
