"""SigV4 verification for the fakes of AWS APIs the emulator lacks (Bedrock runtime, Config).

The fakes recompute the signature from the request the way AWS does, so a client that signs for
the wrong service, region or key, or alters the body after signing, is refused as AWS refuses it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import quote

from aiohttp import web

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z-]+)"
    r"/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)


def sigv4_problem(request: web.Request, body: bytes, secrets: dict[str, str], *, service: str) -> str | None:
    """None when the SigV4 signature verifies, else the reason it does not."""
    match = _AUTH.match(request.headers.get("Authorization", ""))
    if match is None:
        return "missing or malformed SigV4 Authorization header"
    if match["service"] != service:
        return f"signed for service {match['service']}, expected {service}"
    secret = secrets.get(match["key"])
    if secret is None:
        return f"unknown access key {match['key']}"
    amz_date = request.headers.get("X-Amz-Date", "")
    signed = match["signed"].split(";")
    canonical_headers = "".join(f"{name}:{' '.join(request.headers.get(name, '').split())}\n" for name in signed)
    payload_hash = request.headers.get("X-Amz-Content-SHA256") or hashlib.sha256(body).hexdigest()
    query = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in request.query.items()))
    canonical = "\n".join(
        [
            request.method,
            quote(request.raw_path.split("?")[0], safe="/~"),
            query,
            canonical_headers,
            match["signed"],
            payload_hash,
        ]
    )
    scope = f"{match['date']}/{match['region']}/{match['service']}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret}".encode()
    for part in (match["date"], match["region"], match["service"], "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, match["sig"]):
        return "signature does not match"
    return None
