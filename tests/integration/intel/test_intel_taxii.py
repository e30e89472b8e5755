"""The TAXII 2.1 client against medallion, the OASIS TAXII 2.1 server (PyPI `medallion`), run by
the tests on loopback with its memory backend: discovery, API root, collections, objects with
`added_after`, `limit`/`next`/`more` paging, the X-TAXII-Date-Added-First/Last headers, the
`application/taxii+json;version=2.1` media type and HTTP Basic auth, as the server implements them.

The collection holds the objects of `stix_bundle_cloudsnatch.json`, each added a minute after the
previous one (the memory backend's manifest carries each object's `date_added`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr
from werkzeug.serving import make_server

from acso_shared.errors import Upstream
from acso_threat_hunter.app import create_app
from acso_threat_hunter.intel.models import TaxiiSource
from acso_threat_hunter.intel.stix_import import parse_stix_bundle
from acso_threat_hunter.intel.taxii import fetch_taxii_bundle
from acso_threat_hunter.settings import Settings
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

TAXII = "application/taxii+json;version=2.1"
API_ROOT = "api1"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
FIXTURE = Path(__file__).parents[2] / "fixtures" / "intel" / "stix_bundle_cloudsnatch.json"
START = datetime(2026, 10, 1, 12, 0, 0, tzinfo=UTC)
USER, PASSWORD = "acso", "taxii-test-secret"


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Server:
    collection_url: str
    objects: list[tuple[datetime, dict[str, Any]]]
    requests: list[tuple[str, dict[str, list[str]], str]] = field(default_factory=list)


def _data(host: str, objects: list[tuple[datetime, dict[str, Any]]]) -> dict[str, Any]:
    """medallion's memory-backend document: discovery, one API root, one readable collection."""
    return {
        "/discovery": {
            "title": "ACME TAXII",
            "default": f"{host}/{API_ROOT}/",
            "api_roots": [f"{host}/{API_ROOT}/"],
        },
        API_ROOT: {
            "information": {"title": "API root", "versions": [TAXII], "max_content_length": 10_485_760},
            "status": [],
            "collections": [
                {
                    "id": COLLECTION_ID,
                    "title": "ACME cloud threats",
                    "can_read": True,
                    "can_write": False,
                    "media_types": ["application/stix+json;version=2.1"],
                    "objects": [obj for _, obj in objects],
                    "manifest": [
                        {
                            "id": obj["id"],
                            "date_added": _ts(added),
                            "version": obj.get("modified", obj.get("created")),
                            "media_type": "application/stix+json;version=2.1",
                        }
                        for added, obj in objects
                    ],
                }
            ],
        },
    }


def _recording(app: Callable[..., Iterable[bytes]], server: Server) -> Callable[..., Iterable[bytes]]:
    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        server.requests.append(
            (environ["PATH_INFO"], parse_qs(environ.get("QUERY_STRING", "")), environ.get("HTTP_ACCEPT", ""))
        )
        return app(environ, start_response)

    return wsgi


@pytest.fixture(scope="module")
def medallion_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """medallion's Flask app (a module global), configured once for this module."""
    from medallion import application_instance, register_blueprints, set_config

    config = {"users": {USER: PASSWORD}, "taxii": {"max_page_size": 100}}
    set_config(application_instance, "users", config)
    set_config(application_instance, "taxii", config)
    register_blueprints(application_instance)
    return application_instance


@pytest.fixture
def taxii(medallion_app: Any, tmp_path: Path) -> Iterator[Server]:
    from medallion import connect_to_backend

    objects = json.loads(FIXTURE.read_text())["objects"]
    added = [(START + timedelta(minutes=i), obj) for i, obj in enumerate(objects)]
    server = Server("", added)
    http = make_server("127.0.0.1", 0, _recording(medallion_app.wsgi_app, server), threaded=True)
    host = f"http://127.0.0.1:{http.server_port}"
    data_file = tmp_path / "taxii.json"
    data_file.write_text(json.dumps(_data(host, added)))
    medallion_app.medallion_backend = connect_to_backend(
        {"module_class": "MemoryBackend", "module": "medallion.backends.memory_backend", "filename": str(data_file)}
    )
    server.collection_url = f"{host}/{API_ROOT}/collections/{COLLECTION_ID}/"
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        http.shutdown()
        thread.join(timeout=5)


def _source(url: str, **extra: Any) -> TaxiiSource:
    return TaxiiSource(collection_url=url, username=USER, password=SecretStr(PASSWORD), **extra)


def test_all_objects_are_fetched_across_pages_with_the_taxii_media_type(taxii: Server) -> None:
    result = fetch_taxii_bundle(_source(taxii.collection_url, page_size=4))
    assert sorted(o["id"] for o in result.bundle["objects"]) == sorted(obj["id"] for _, obj in taxii.objects)
    assert result.pages == -(-len(taxii.objects) // 4)
    object_requests = [r for r in taxii.requests if r[0].endswith("/objects/")]
    assert all(accept.replace(" ", "") == TAXII for _, _, accept in object_requests)
    # Every page after the first follows the server's `next` token.
    assert all("next" in query for _, query, _ in object_requests[1:])
    assert "next" not in object_requests[0][1]


def test_the_next_watermark_is_the_last_date_added(taxii: Server) -> None:
    result = fetch_taxii_bundle(_source(taxii.collection_url, page_size=5))
    assert result.date_added_last == taxii.objects[-1][0]


def test_added_after_fetches_only_newer_objects(taxii: Server) -> None:
    cutoff = taxii.objects[-4][0]
    result = fetch_taxii_bundle(_source(taxii.collection_url, added_after=cutoff))
    assert sorted(o["id"] for o in result.bundle["objects"]) == sorted(obj["id"] for _, obj in taxii.objects[-3:])


def test_a_fetched_bundle_imports_with_context_spread_over_pages(taxii: Server) -> None:
    result = fetch_taxii_bundle(_source(taxii.collection_url, page_size=3))
    feed = parse_stix_bundle(result.bundle, default_confidence=50, default_valid_days=None, now=START)
    c2 = next(r for r in feed.indicators if r.value == "203.0.113.45")
    assert {o.name for o in c2.related} == {"CloudSnatch", "Scattered Orbit", "Data from Cloud Storage"}


def test_nothing_new_gives_an_empty_bundle_and_no_watermark(taxii: Server) -> None:
    result = fetch_taxii_bundle(_source(taxii.collection_url, added_after=taxii.objects[-1][0]))
    assert result.bundle["objects"] == []
    assert result.date_added_last is None


def test_wrong_credentials_are_an_upstream_error(taxii: Server) -> None:
    with pytest.raises(Upstream) as err:
        fetch_taxii_bundle(TaxiiSource(collection_url=taxii.collection_url, username=USER, password=SecretStr("wrong")))
    assert err.value.code == "taxii_unavailable"


async def test_the_threat_hunter_imports_a_collection_through_its_api(stack: TestStack, taxii: Server) -> None:
    source = {"collection_url": taxii.collection_url, "username": USER, "password": PASSWORD, "page_size": 4}
    async with running(create_app(stack.service_settings(Settings))) as client:
        response = await client.post(
            "/v1/intel/imports?source=acme-taxii&format=taxii", json=source, headers=stack.auth("responder")
        )
        assert response.status == 202, await response.text()
        job_id = (await response.json())["id"]

        async def finished() -> dict[str, Any] | None:
            got = await (await client.get(f"/v1/intel/imports/{job_id}", headers=stack.auth("analyst"))).json()
            return got if got.get("status") in ("succeeded", "failed") else None

        job = await wait_until(finished, timeout_s=60)
        hits = await client.post(
            "/v1/intel/match", json={"observables": [{"value": "203.0.113.45"}]}, headers=stack.auth("analyst")
        )
        matches = (await hits.json())["matches"]

    assert job["status"] == "succeeded", job
    assert job["counts"]["parsed"] > 0
    assert any(m["source"] == "acme-taxii" and m["indicator_value"] == "203.0.113.45" for m in matches)
