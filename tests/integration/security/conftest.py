"""Fixtures of the security specs: the emulator's signing key, to forge tokens it would accept."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import moto
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey


@pytest.fixture(scope="session")
def emulator_key() -> RSAKey:
    """The emulator's private signing key (moto ships it): forged claims get a valid signature."""
    path = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-private.json.gz"
    return RSAKey.import_key(json.loads(gzip.decompress(path.read_bytes())))


@pytest.fixture(scope="session")
def mint() -> Callable[[RSAKey, dict[str, Any]], str]:
    """Sign claims as an RS256 JWT with `key` (header kid = the key's kid)."""

    def sign(key: RSAKey, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": "RS256", "kid": key.kid or "dummy"}, claims, key)

    return sign
