"""The TAXII 2.1 client against a small TAXII 2.1 server (discovery, API root, collections, objects).

The server implements what the spec (TAXII 2.1, sections 4.1-4.2, 5.1-5.3) requires of these
endpoints: the `application/taxii+json;version=2.1` media type (406 for another Accept), Basic
auth, `added_after`, `limit`/`next`/`more` paging, and the X-TAXII-Date-Added-First/Last headers.
"""

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import SecretStr

from acso_shared.errors import Upstream
from acso_threat_hunter.intel.models import TaxiiSource
from acso_threat_hunter.intel.stix_import import parse_stix_bundle
from acso_threat_hunter.intel.taxii import fetch_taxii_bundle

pytestmark = pytest.mark.integration

TAXII = "application/taxii+json;version=2.1"
COLLECTION_ID = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
FIXTURE = Path(__file__).parents[2] / "fixtures" / "intel" / "stix_bundle_cloudsnatch.json"
START = datetime(2026, 10, 1, 12, 0, 0, tzinfo=UTC)
USER, PASSWORD = "acso", "taxii-test-secret"


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class TaxiiState:
    objects: list[tuple[datetime, dict[str, Any]]]
    requests: list[tuple[str, dict[str, list[str]], str]] = field(default_factory=list)


def _handler(state: TaxiiState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            pass

        def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", TAXII)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            state.requests.append((url.path, query, self.headers.get("Accept", "")))
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._send(401, {"title": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="taxii"'})
                return
            if self.headers.get("Accept", "").replace(" ", "") != TAXII:
                self._send(406, {"title": "Not Acceptable"})
                return
            host = f"http://{self.headers['Host']}"
            collection = {
                "id": COLLECTION_ID,
                "title": "ACME cloud threats",
                "can_read": True,
                "can_write": False,
                "media_types": ["application/stix+json;version=2.1"],
            }
            if url.path == "/taxii2/":
                self._send(200, {"title": "ACME TAXII", "default": f"{host}/api1/", "api_roots": [f"{host}/api1/"]})
            elif url.path == "/api1/":
                self._send(200, {"title": "API root", "versions": [TAXII], "max_content_length": 10_485_760})
            elif url.path == "/api1/collections/":
                self._send(200, {"collections": [collection]})
            elif url.path == f"/api1/collections/{COLLECTION_ID}/":
                self._send(200, collection)
            elif url.path == f"/api1/collections/{COLLECTION_ID}/objects/":
                self._objects(query)
            else:
                self._send(404, {"title": "Not Found"})

        def _objects(self, query: dict[str, list[str]]) -> None:
            items = state.objects
            if "added_after" in query:
                after = datetime.fromisoformat(query["added_after"][0].replace("Z", "+00:00"))
                items = [(added, obj) for added, obj in items if added > after]
            offset = int(query.get("next", ["0"])[0])
            limit = int(query.get("limit", ["100"])[0])
            page = items[offset : offset + limit]
            more = offset + limit < len(items)
            body: dict[str, Any] = {"more": more, "objects": [obj for _, obj in page]}
            if more:
                body["next"] = str(offset + limit)
            headers = {}
            if page:
                headers = {"X-TAXII-Date-Added-First": _ts(page[0][0]), "X-TAXII-Date-Added-Last": _ts(page[-1][0])}
            self._send(200, body, headers)

    return Handler


@pytest.fixture
def taxii() -> Iterator[tuple[str, TaxiiState]]:
    objects = json.loads(FIXTURE.read_text())["objects"]
    state = TaxiiState(objects=[(START + timedelta(minutes=i), obj) for i, obj in enumerate(objects)])
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api1/collections/{COLLECTION_ID}/", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _source(url: str, **extra: Any) -> TaxiiSource:
    return TaxiiSource(collection_url=url, username=USER, password=SecretStr(PASSWORD), **extra)


def test_all_objects_are_fetched_across_pages_with_the_taxii_media_type(taxii):
    url, state = taxii
    result = fetch_taxii_bundle(_source(url, page_size=4))
    assert len(result.bundle["objects"]) == len(state.objects)
    assert result.pages == -(-len(state.objects) // 4)
    object_requests = [r for r in state.requests if r[0].endswith("/objects/")]
    assert all(accept == TAXII for _, _, accept in object_requests)
    assert [q.get("next") for _, q, _ in object_requests][1:] == [[str(n)] for n in range(4, len(state.objects), 4)]


def test_the_next_watermark_is_the_last_date_added(taxii):
    url, state = taxii
    result = fetch_taxii_bundle(_source(url, page_size=5))
    assert result.date_added_last == state.objects[-1][0]


def test_added_after_fetches_only_newer_objects(taxii):
    url, state = taxii
    cutoff = state.objects[-4][0]
    result = fetch_taxii_bundle(_source(url, added_after=cutoff))
    assert [o["id"] for o in result.bundle["objects"]] == [obj["id"] for _, obj in state.objects[-3:]]


def test_a_fetched_bundle_imports_with_context_spread_over_pages(taxii):
    url, _ = taxii
    result = fetch_taxii_bundle(_source(url, page_size=3))
    feed = parse_stix_bundle(result.bundle, default_confidence=50, default_valid_days=None, now=START)
    c2 = next(r for r in feed.indicators if r.value == "203.0.113.45")
    assert {o.name for o in c2.related} == {"CloudSnatch", "Scattered Orbit", "Data from Cloud Storage"}


def test_nothing_new_gives_an_empty_bundle_and_no_watermark(taxii):
    url, state = taxii
    result = fetch_taxii_bundle(_source(url, added_after=state.objects[-1][0]))
    assert result.bundle["objects"] == []
    assert result.date_added_last is None


def test_wrong_credentials_are_an_upstream_error(taxii):
    url, _ = taxii
    with pytest.raises(Upstream) as err:
        fetch_taxii_bundle(TaxiiSource(collection_url=url, username=USER, password=SecretStr("wrong")))
    assert err.value.code == "taxii_unavailable"
