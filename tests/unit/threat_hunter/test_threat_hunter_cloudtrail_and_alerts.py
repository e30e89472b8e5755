"""CloudTrail extraction, the LookupEvents mapping and rate limit, hits as generic alerts, search mappings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from acso_shared.alerts import normalize_payload
from acso_shared.hunting.pack import load_builtin_rules
from acso_threat_hunter.attack.catalog import load_catalog
from acso_threat_hunter.cloudtrail.events import event_row
from acso_threat_hunter.cloudtrail.lookup import CloudTrailLookup, RateLimiter, lookup_request, rows_from_response
from acso_threat_hunter.hunting.alerts import MAX_ENVELOPE_BYTES, alert_batches, hit_alert_id, hit_to_alert
from acso_threat_hunter.intel.models import FeedFormat
from acso_threat_hunter.search.bedrock import results_from_response, retrieve_request
from acso_threat_hunter.search.documents import attack_documents, intel_feed_documents
from tests.fixtures.cloudtrail.samples import SCENARIOS, assumed_role, record

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
END = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def test_an_event_row_keeps_principal_key_ip_and_the_resources_acted_on() -> None:
    row = event_row(record("ec2.amazonaws.com", "StopInstances", {"instancesSet": {"items": [{"instanceId": "i-1"}]}}))
    assert row is not None
    assert (row.user_name, row.access_key_id, row.source_ip) == ("alice", "AKIAIOSFODNN7EXAMPLE", "203.0.113.24")
    assert row.principal_arn == "arn:aws:iam::111122223333:user/alice"
    assert row.resources == ("i-1",)


def test_an_assumed_role_event_is_found_by_its_role_name() -> None:
    row = event_row(record("s3.amazonaws.com", "GetObject", {"bucketName": "b"}, identity=assumed_role("deploy")))
    assert row is not None
    assert row.user_name == "deploy"
    assert row.resources == ("b",)


@pytest.mark.parametrize("broken", [{"eventID": None}, {"eventTime": "yesterday"}])
def test_a_record_without_id_or_time_cannot_be_stored(broken: dict[str, Any]) -> None:
    assert event_row({**record("s3.amazonaws.com", "ListBuckets"), **broken}) is None


def test_lookup_request_names_one_attribute_and_the_window() -> None:
    assert lookup_request(("Username", "alice"), START, END, "tok") == {
        "StartTime": START,
        "EndTime": END,
        "MaxResults": 50,
        "LookupAttributes": [{"AttributeKey": "Username", "AttributeValue": "alice"}],
        "NextToken": "tok",
    }
    assert "LookupAttributes" not in lookup_request(None, START, END)


def test_lookup_events_are_read_from_their_cloudtrail_event_json() -> None:
    recorded = record("iam.amazonaws.com", "CreateUser", {"userName": "x"})
    response = {
        "Events": [
            {"EventId": recorded["eventID"], "CloudTrailEvent": json.dumps(recorded)},
            {"EventId": "broken", "CloudTrailEvent": "{not json"},
        ]
    }
    rows = rows_from_response(response)
    assert [r.event_id for r in rows] == [recorded["eventID"]]


async def test_the_rate_limiter_spaces_calls_at_the_configured_rate() -> None:
    clock = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    limiter = RateLimiter(2.0, clock=lambda: clock[0], sleep=sleep)
    for _ in range(3):
        await limiter.acquire()
    assert waits == [0.5, 0.5]


async def test_lookup_pages_through_next_tokens_for_each_attribute_within_the_limit() -> None:
    pages: dict[str | None, dict[str, Any]] = {
        None: {
            "Events": [{"CloudTrailEvent": json.dumps(record("s3.amazonaws.com", "ListBuckets"))}],
            "NextToken": "2",
        },
        "2": {"Events": [{"CloudTrailEvent": json.dumps(record("s3.amazonaws.com", "ListBuckets"))}]},
    }
    calls: list[dict[str, Any]] = []

    class Client:
        async def lookup_events(self, **params: Any) -> dict[str, Any]:
            calls.append(params)
            return pages[params.get("NextToken")]

    class Clients:
        async def client(self, service: str) -> Any:
            assert service == "cloudtrail"
            return Client()

    acquired: list[int] = []

    class Limiter(RateLimiter):
        async def acquire(self) -> None:
            acquired.append(1)

    lookup = CloudTrailLookup(Clients(), Limiter(2.0))
    rows = await lookup.lookup([("AccessKeyId", "AKIA1"), ("Username", "bob")], START, END, limit=10)
    assert len(rows) == 4
    assert [c["LookupAttributes"][0]["AttributeKey"] for c in calls] == ["AccessKeyId"] * 2 + ["Username"] * 2
    assert len(acquired) == len(calls)


def test_a_single_event_hit_becomes_a_valid_generic_alert_keyed_on_rule_and_event() -> None:
    pack = load_builtin_rules()
    attack = SCENARIOS["cloudtrail_logging_stopped.yml"][0][:1]
    [hit] = pack.evaluate(attack)
    alert = hit_to_alert(hit, hunt_id="h1")
    assert alert["id"] == f"{hit.rule_id}:{attack[0]['eventID']}"
    assert alert["source"] == "acso.threat_hunter"
    assert alert["severity"] == "high"
    [normalized] = normalize_payload(alert)
    assert normalized.resources[0].id == "alice"
    assert {o.value for o in normalized.observables} >= {"203.0.113.24", "AKIAIOSFODNN7EXAMPLE"}
    assert "T1562.008" in normalized.attack_techniques


def test_a_correlation_hit_is_keyed_on_a_digest_of_its_events_independent_of_order() -> None:
    pack = load_builtin_rules()
    reads = SCENARIOS["secrets_manager_mass_read.yml"][0]
    [hit] = [h for h in pack.evaluate(reads) if len(h.events) > 1]
    reordered = hit.model_copy(update={"event_ids": list(reversed(hit.event_ids))})
    assert hit_alert_id(hit) == hit_alert_id(reordered)
    assert hit_alert_id(hit).startswith(f"{hit.rule_id}:")
    assert normalize_payload(hit_to_alert(hit, hunt_id="h2"))[0].source == "acso.threat_hunter"


def test_alert_batches_stay_under_the_sqs_limit_by_trimming_evidence() -> None:
    big = {"eventID": "e", "blob": "x" * 60_000}
    alerts = [{"id": f"r:{n}"} for n in range(12)]
    batches = alert_batches(alerts, {a["id"]: [big] * 10 for a in alerts})
    assert [len(b["alerts"]) for b in batches] == [10, 2]
    assert all(len(json.dumps(b)) <= MAX_ENVELOPE_BYTES for b in batches)


def test_attack_documents_describe_each_technique_with_its_cloudtrail_events() -> None:
    docs = {d.id: d for d in attack_documents(load_catalog())}
    doc = docs["attack:T1562.008"]
    assert "StopLogging" in doc.body
    assert doc.uri is not None
    assert doc.uri.startswith("https://attack.mitre.org/")


def test_imported_feeds_contribute_their_prose_to_the_knowledge_base() -> None:
    stix = {
        "type": "bundle",
        "objects": [
            {"type": "malware", "id": "malware--1", "name": "CloudSnatch", "description": "Exfiltrates S3 objects."},
            {"type": "indicator", "id": "indicator--1", "name": "C2", "description": "not prose for search"},
        ],
    }
    misp = {"Event": {"uuid": "u1", "info": "Velvet Tempest phishing", "Attribute": [{"comment": "lure domain"}]}}
    assert [d.id for d in intel_feed_documents(FeedFormat.STIX, json.dumps(stix).encode(), "acme")] == [
        "intel:malware--1"
    ]
    [event] = intel_feed_documents(FeedFormat.MISP, json.dumps(misp).encode(), "misp")
    assert "lure domain" in event.body
    assert intel_feed_documents(FeedFormat.PLAIN, b"1.2.3.4", "plain") == []


def test_retrieve_request_and_results_map_the_knowledge_base_protocol() -> None:
    assert retrieve_request("KB1", "tor exit", 5) == {
        "knowledgeBaseId": "KB1",
        "retrievalQuery": {"text": "tor exit"},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 5}},
    }
    [result] = results_from_response(
        {
            "retrievalResults": [
                {"content": {"text": "Tor exit nodes..."}, "location": {"webLocation": {"url": "https://x/y"}}}
            ]
        }
    )
    assert (result.id, result.title, result.kind, result.score) == ("https://x/y", "y", None, 0.0)
