"""Intel hygiene through the threat hunter's API, on the real emulator and PostgreSQL (issue 18):
over-broad ranges are refused with a warning, values on MISP warning lists are kept but flagged
and score nothing alone, and a STIX bundle imports every valid object and reports each skipped one.

`stix_poisonivy_oasis_excerpt.json` is an excerpt of the OASIS CTI example bundle
`examples/example_json/poisonivy.json` (oasis-open/cti-documentation, the FireEye Poison Ivy
report as STIX, `spec_version` 2.0 on the bundle): its marking, identity, malware, campaign and
vulnerability objects and 12 of its 25 indicators, verbatim, including the one whose pattern
(`[file:name = 'CPiShellPutDoc']`) no matcher can use. The whole bundle used to be refused (its
2.0 objects were read as 2.1), so 0 indicators were imported.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from acso_shared.db import Database
from acso_threat_hunter.app import create_app
from acso_threat_hunter.intel.models import FeedFormat, ImportJob, ImportStatus
from acso_threat_hunter.intel.repository import IntelRepository
from acso_threat_hunter.settings import Settings
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

POISONIVY = (Path(__file__).parents[2] / "fixtures" / "intel" / "stix_poisonivy_oasis_excerpt.json").read_bytes()
CREATED = "2026-11-02T10:00:00.000Z"


def _indicator(pattern: str, name: str) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{uuid.uuid4()}",
        "created": CREATED,
        "modified": CREATED,
        "name": name,
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": CREATED,
        "confidence": 90,
    }


def _bundle(*objects: dict[str, Any]) -> bytes:
    return json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}).encode()


async def _import(client: TestClient[Any, Any], stack: TestStack, body: bytes, query: str) -> dict[str, Any]:
    response = await client.post(f"/v1/intel/imports?{query}", data=body, headers=stack.auth("responder"))
    assert response.status == 202, await response.text()
    job = await response.json()

    async def finished() -> dict[str, Any] | None:
        got = await (await client.get(f"/v1/intel/imports/{job['id']}", headers=stack.auth("analyst"))).json()
        assert "status" in got, got
        return got if got["status"] in ("succeeded", "failed") else None

    return dict(await wait_until(finished, timeout_s=30))


async def _match(client: TestClient[Any, Any], stack: TestStack, *values: str) -> list[dict[str, Any]]:
    response = await client.post(
        "/v1/intel/match", json={"observables": [{"value": v} for v in values]}, headers=stack.auth("analyst")
    )
    assert response.status == 200, await response.text()
    matches: list[dict[str, Any]] = (await response.json())["matches"]
    return matches


async def test_ranges_broader_than_the_prefix_are_refused_each_with_a_warning(stack: TestStack) -> None:
    bundle = _bundle(
        _indicator("[ipv4-addr:value = '0.0.0.0/0']", "everything"),
        _indicator("[ipv6-addr:value = '2000::/3']", "the whole IPv6 internet"),
        _indicator("[ipv4-addr:value = '100.64.0.0/10']", "a carrier-grade NAT range"),
        _indicator("[ipv4-addr:value = '198.51.100.23']", "one C2 host"),
    )
    app = create_app(stack.service_settings(Settings))
    async with running(app) as client:
        job = await _import(client, stack, bundle, "source=broad-ranges&format=stix")
        anywhere = await _match(client, stack, "203.0.113.77", "2001:db8::1")
        inside = await _match(client, stack, "100.64.3.4", "198.51.100.23")

    assert job["status"] == "succeeded", job
    assert job["counts"]["parsed"] == 2
    refused = [w for w in job["warnings"] if w.startswith("refused")]
    assert len(refused) == 2
    assert any("0.0.0.0/0 is broader than /8" in w for w in refused)
    assert any("2000::/3 is broader than /32" in w for w in refused)
    assert [m for m in anywhere if m["source"] == "broad-ranges"] == []
    assert {m["indicator_value"] for m in inside if m["source"] == "broad-ranges"} == {"100.64.0.0/10", "198.51.100.23"}


async def test_the_prefix_limit_is_configurable(stack: TestStack) -> None:
    bundle = _bundle(_indicator("[ipv4-addr:value = '100.64.0.0/10']", "a carrier-grade NAT range"))
    app = create_app(stack.service_settings(Settings, intel_min_ipv4_prefix=16))
    async with running(app) as client:
        job = await _import(client, stack, bundle, "source=broad-16&format=stix")

    assert job["counts"]["parsed"] == 0
    assert "100.64.0.0/10 is broader than /16" in job["warnings"][0]


async def test_values_on_misp_warning_lists_are_kept_but_flagged(stack: TestStack) -> None:
    bundle = _bundle(
        _indicator("[ipv4-addr:value = '8.8.8.8']", "a public resolver"),
        _indicator("[domain-name:value = 'google.com']", "a top site"),
        _indicator("[ipv4-addr:value = '198.51.100.99']", "a real C2"),
    )
    app = create_app(stack.service_settings(Settings))
    async with running(app) as client:
        job = await _import(client, stack, bundle, "source=warninglisted&format=stix")
        found = await _match(client, stack, "8.8.8.8", "google.com", "198.51.100.99")
        matches = {m["indicator_value"]: m for m in found if m["source"] == "warninglisted"}
        listed = await client.get("/v1/intel/indicators?value=8.8.8.8", headers=stack.auth("analyst"))
        listed_body = await listed.json()

    assert job["counts"]["parsed"] == 3
    assert any(w.startswith("flagged 8.8.8.8") for w in job["warnings"])
    assert "List of known IPv4 public DNS resolvers" in matches["8.8.8.8"]["warninglists"]
    assert matches["google.com"]["warninglists"]
    assert matches["198.51.100.99"]["warninglists"] == []
    assert "List of known IPv4 public DNS resolvers" in listed_body["items"][0]["warninglists"]


async def test_the_oasis_poisonivy_bundle_imports_its_valid_indicators_and_reports_the_unusable_one(
    stack: TestStack,
) -> None:
    app = create_app(stack.service_settings(Settings))
    async with running(app) as client:
        job = await _import(client, stack, POISONIVY, "source=poisonivy&format=stix")
        matches = await _match(client, stack, "maofajapa.3322.org", "60.10.1.121", "3q.wubangtu.info")

    assert job["status"] == "succeeded", job
    # 11 usable indicators: 11 domains and 4 distinct addresses.
    assert job["counts"]["parsed"] == 15
    assert job["counts"]["skipped"] == 1
    assert any("indicator--0b71628d-31dd-4eb8-baee-39f19c0a14b0" in w for w in job["warnings"])
    found = {m["indicator_value"] for m in matches if m["source"] == "poisonivy"}
    assert found == {"maofajapa.3322.org", "60.10.1.121", "3q.wubangtu.info"}


async def test_a_bundle_with_one_malformed_object_imports_the_rest_unless_strict(stack: TestStack) -> None:
    broken = _indicator("[ipv4-addr:value = '198.51.100.150']", "no pattern type")
    del broken["pattern_type"]
    bundle = _bundle(broken, _indicator("[ipv4-addr:value = '198.51.100.151']", "fine"))
    app = create_app(stack.service_settings(Settings))
    async with running(app) as client:
        lenient = await _import(client, stack, bundle, "source=half-valid&format=stix")
        strict = await client.post(
            "/v1/intel/imports?source=half-valid-strict&format=stix&strict=true",
            data=bundle,
            headers=stack.auth("responder"),
        )
        strict_body = await strict.json()

    assert lenient["status"] == "succeeded"
    assert lenient["counts"]["parsed"] == 1
    assert lenient["counts"]["skipped"] == 1
    assert broken["id"] in lenient["warnings"][0]
    assert "pattern_type" in lenient["warnings"][0]
    assert strict.status == 400
    assert strict_body["error"]["code"] == "stix_invalid"
    assert broken["id"] in strict_body["error"]["message"]


async def test_an_import_read_before_its_first_progress_save_is_its_queued_job(stack: TestStack) -> None:
    # A poll can arrive between the job's insert (column defaults) and its first save: it read as a 500.
    db = Database(stack.database_url)
    await db.connect()
    try:
        repository = IntelRepository(db.pool)
        job = ImportJob(
            id=uuid.uuid4(),
            source="early-poll",
            format=FeedFormat.STIX,
            status=ImportStatus.QUEUED,
            submitted_at=datetime.now(UTC),
        )
        await repository.create_import(job)
        unsaved = await repository.get_import(job.id)
        job.counts.parsed = 3
        job.warnings = ["flagged 8.8.8.8"]
        await repository.save_import(job)
        saved = await repository.get_import(job.id)
    finally:
        await db.close()

    assert (unsaved.status, unsaved.counts.parsed, unsaved.warnings) == (ImportStatus.QUEUED, 0, [])
    assert (saved.counts.parsed, saved.warnings) == (3, ["flagged 8.8.8.8"])
