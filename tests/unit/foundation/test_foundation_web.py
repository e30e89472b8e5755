"""Strict JSON parsing and the OpenAPI document (no I/O)."""

from __future__ import annotations

import pytest
from aiohttp import web
from pydantic import BaseModel

from acso_shared.errors import Invalid
from acso_shared.web.api import ApiRouter, loads_strict
from acso_shared.web.openapi import build_openapi

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "raw",
    [b'{"a": 1, "a": 2}', b'{"a": NaN}', b'{"a": Infinity}', b"\xff\xfe", b"{", b""],
)
def test_strict_json_rejects_ambiguous_or_broken_input(raw: bytes) -> None:
    with pytest.raises(Invalid) as caught:
        loads_strict(raw)
    assert caught.value.code == "json_invalid"


def test_strict_json_accepts_plain_json() -> None:
    assert loads_strict(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


class Thing(BaseModel):
    name: str


def test_openapi_documents_bodies_errors_and_security() -> None:
    router = ApiRouter("things")

    @router.route("POST", "/v1/things/{id}", summary="Make a thing", request=Thing, response=Thing, status=201)
    async def make(request: web.Request) -> web.Response:
        return web.json_response({})

    document = build_openapi("test", "1", router.endpoints)
    operation = document["paths"]["/v1/things/{id}"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Thing"}
    assert set(operation["responses"]) >= {"201", "400", "401", "403", "413"}
    assert operation["parameters"][0]["name"] == "id"
    assert operation["security"] == [{"bearerAuth": []}]
    assert "ErrorBody" in document["components"]["schemas"]
