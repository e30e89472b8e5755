"""Front-door protections shared by every service: the caller's address, rate limits and CORS.

Rate limits are checked by the auth middleware (it knows the principal); this module builds the
limiter from the settings and finds the address to limit. CORS is its own middleware, placed
before authentication because browsers send preflight requests without credentials.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, Final

from aiohttp import web

from acso_shared.auth.ratelimit import BucketSpec, RateLimiter
from acso_shared.errors import Forbidden
from acso_shared.settings import ServiceSettings
from acso_shared.web.middlewares import REQUEST_ID_KEY, error_response

FORWARDED_FOR: Final = "X-Forwarded-For"
ALLOWED_METHODS: Final = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS: Final = "Authorization, Content-Type, X-Request-Id"
EXPOSED_HEADERS: Final = "X-Request-Id, Retry-After"
PREFLIGHT_MAX_AGE_S: Final = 600


def build_rate_limiter(settings: ServiceSettings) -> RateLimiter:
    """One limiter per app: a bucket per principal and one per source address."""
    return RateLimiter(
        per_principal=BucketSpec(settings.rate_limit_principal_burst, settings.rate_limit_principal_per_s),
        per_source=BucketSpec(settings.rate_limit_source_burst, settings.rate_limit_source_per_s),
    )


def client_address(peer: str | None, forwarded_for: str | None, trusted_hops: int) -> str:
    """The caller's address: the peer, or the entry `trusted_hops` from the right of X-Forwarded-For.

    Each trusted proxy appends the address it received the request from, so only the rightmost
    `trusted_hops` entries were written by our infrastructure; anything further left is whatever
    the client chose to send. With too few entries, the leftmost one our proxies vouch for is used.
    """
    if trusted_hops > 0 and forwarded_for:
        entries = [e.strip() for e in forwarded_for.split(",") if e.strip()]
        if entries:
            return entries[max(0, len(entries) - trusted_hops)]
    return peer or "unknown"


def source_of(request: web.Request, settings: ServiceSettings) -> str:
    """`client_address` for an aiohttp request."""
    return client_address(request.remote, request.headers.get(FORWARDED_FOR), settings.trusted_proxy_hops)


def cors_headers(origin: str | None, allowed: Collection[str], *, preflight: bool) -> dict[str, str]:
    """The CORS response headers for `origin`, or none when it is not on the allow-list.

    No `Access-Control-Allow-Credentials`: the API authenticates with bearer tokens, never
    cookies, so browsers need not send credentials cross-origin.
    """
    if not origin or origin not in allowed:
        return {}
    headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        headers.update(
            {
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S),
            }
        )
    else:
        headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return headers


def is_preflight(method: str, headers: Mapping[str, str]) -> bool:
    """An OPTIONS request a browser sends before a cross-origin call."""
    return method == "OPTIONS" and "Origin" in headers and "Access-Control-Request-Method" in headers


def build_cors_middleware(settings: ServiceSettings) -> Any:
    """Answer preflights for allowed origins (204) and refuse the others (403 `cors_origin_denied`);
    add `Access-Control-Allow-Origin` to responses for allowed origins only.

    It sits outside the error middleware so that error responses (a 401 to a browser) carry the
    CORS headers too; otherwise the page could not read why its call failed.
    """
    allowed = frozenset(settings.cors_allow_origins)

    @web.middleware
    async def cors_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if is_preflight(request.method, request.headers):
            headers = cors_headers(origin, allowed, preflight=True)
            if not headers:
                denied = Forbidden("cors_origin_denied", "this origin may not call the API")
                return error_response(denied, request.get(REQUEST_ID_KEY, ""))
            return web.Response(status=204, headers=headers)
        response: web.StreamResponse = await handler(request)
        if not response.prepared:
            response.headers.update(cors_headers(origin, allowed, preflight=False))
        return response

    return cors_middleware
