"""The threat hunter on the real emulator and PostgreSQL: intel imports to triage, hunts to alerts, search."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from acso_shared.alerts import normalize_payload
from acso_shared.contracts import TRIAGE_REQUEST, TriageRequest
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.keys import RUNTIME
from acso_threat_hunter.app import create_app
from acso_threat_hunter.settings import Settings
from tests.fixtures.cloudtrail.samples import SCENARIOS, T0, iam_user, record
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

FIXTURES = Path(__file__).parents[2] / "fixtures"
STIX = (FIXTURES / "intel" / "stix_bundle_cloudsnatch.json").read_bytes()
MISP = (FIXTURES / "intel" / "misp_event_velvet_tempest.json").read_bytes()
GENERIC = json.loads((FIXTURES / "alerts" / "generic_alert.json").read_text())
USER_RULE = """
title: Bucket deleted by {user}
id: {id}
status: experimental
logsource:
  product: aws
  service: cloudtrail
detection:
  selection:
    eventSource: s3.amazonaws.com
    eventName: DeleteBucket
    userIdentity.userName: {user}
  condition: selection
level: medium
tags:
  - attack.impact
  - attack.t1485
"""


@asynccontextmanager
async def hunter(stack: TestStack, **overrides: Any) -> AsyncIterator[tuple[TestClient[Any, Any], AgentRuntime]]:
    app: web.Application = create_app(stack.service_settings(Settings, **overrides))
    async with running(app) as client:
        yield client, app[RUNTIME]


async def drain(runtime: AgentRuntime, queue: str, keep: Any) -> list[Envelope]:
    """Receive and delete everything waiting on `queue`; return the envelopes `keep` accepts."""
    sqs = await runtime.clients.client("sqs")
    url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
    kept: list[Envelope] = []
    while True:
        batch = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)).get("Messages", [])
        if not batch:
            return kept
        for message in batch:
            envelope = Envelope.model_validate_json(message["Body"])
            if keep(envelope):
                kept.append(envelope)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        await sqs.delete_message_batch(QueueUrl=url, Entries=entries)


async def import_feed(client: TestClient[Any, Any], stack: TestStack, fmt: str, body: bytes, source: str) -> None:
    response = await client.post(
        f"/v1/intel/imports?source={source}&format={fmt}", data=body, headers=stack.auth("responder")
    )
    assert response.status == 202, await response.text()
    job = await response.json()

    async def finished() -> dict[str, Any] | None:
        got = await (await client.get(f"/v1/intel/imports/{job['id']}", headers=stack.auth("analyst"))).json()
        return got if got["status"] in ("succeeded", "failed") else None

    done = await wait_until(finished, timeout_s=30)
    assert done["status"] == "succeeded", done


def generic_alert(**changes: Any) -> Any:
    payload = {**GENERIC, "id": f"test-{uuid.uuid4()}", **changes}
    return normalize_payload(payload)[0]


async def triage(runtime: AgentRuntime, alert: Any) -> dict[str, Any]:
    workflow = f"wf-{uuid.uuid4()}"
    request = TriageRequest(incident_id=f"inc-{uuid.uuid4()}", alert=alert)
    envelope = Envelope.new(
        kind=TRIAGE_REQUEST, sender="supervisor", payload=request.model_dump(mode="json"), workflow_id=workflow
    )
    await runtime.send_task(Agent.THREAT_HUNTER, envelope)
    results: list[Envelope] = []

    async def arrived() -> bool:
        results.extend(await drain(runtime, runtime.manifest.results_queue.name, lambda e: e.workflow_id == workflow))
        return bool(results)

    await wait_until(arrived, timeout_s=60)
    assert results[0].kind == "triage.result"
    return results[0].payload


async def wait_hunt(client: TestClient[Any, Any], stack: TestStack, hunt_id: str) -> dict[str, Any]:
    async def finished() -> dict[str, Any] | None:
        got = await (await client.get(f"/v1/hunts/{hunt_id}", headers=stack.auth("analyst"))).json()
        return got if got["status"] in ("succeeded", "failed") else None

    return dict(await wait_until(finished, timeout_s=60))


async def test_imported_stix_and_misp_indicators_make_an_alert_with_their_ips_malicious(stack: TestStack) -> None:
    suffix = uuid.uuid4().hex[:8]
    async with hunter(stack) as (client, runtime):
        await import_feed(client, stack, "stix", STIX, f"acme-stix-{suffix}")
        await import_feed(client, stack, "misp", MISP, f"misp-{suffix}")
        alert = generic_alert(
            type="network.connection.outbound",
            severity="low",
            observables=[{"type": "ip", "value": "203.0.113.45"}, {"type": "ip", "value": "203.0.113.77"}],
        )

        result = await triage(runtime, alert)

    assert result["verdict"] == "malicious"
    assert result["reasoning"] == "deterministic"
    assert result["severity"] == "high"  # raised from the alert's own "low"
    intel = {e["source"]: e for e in result["evidence"] if e["kind"] == "intel_match"}
    assert intel[f"acme-stix-{suffix}"]["confidence"] == 0.85
    assert intel[f"acme-stix-{suffix}"]["data"]["indicator_value"] == "203.0.113.45"
    assert intel[f"misp-{suffix}"]["data"]["indicator_value"] == "203.0.113.77"
    assert "T1530" in result["techniques"]  # the STIX indicator's related attack pattern


async def test_an_alert_without_intel_or_context_is_benign_with_a_moderate_confidence(stack: TestStack) -> None:
    async with hunter(stack) as (_, runtime):
        alert = generic_alert(
            type="network.connection.outbound",
            severity="low",
            resources=[],
            observables=[{"type": "ip", "value": "192.0.2.200"}],
            attack_techniques=[],
        )
        result = await triage(runtime, alert)

    assert result["verdict"] == "benign"
    assert 0.2 <= result["confidence"] <= 0.8
    assert not [e for e in result["evidence"] if e["kind"] == "intel_match"]


@pytest.mark.parametrize(
    ("fmt", "body", "code"),
    [
        ("stix", b'{"type": "bundle", "id": "bundle--x", "objects": [{"type": "indicator"}]}', "stix_invalid"),
        ("misp", b'{"Event": {"Attribute": "not a list"}}', "misp_invalid"),
        ("stix", b"{not json", "stix_invalid"),
    ],
)
async def test_a_malformed_feed_is_rejected_with_a_code_naming_the_format(
    stack: TestStack, fmt: str, body: bytes, code: str
) -> None:
    async with hunter(stack) as (client, _):
        response = await client.post(
            f"/v1/intel/imports?source=broken&format={fmt}", data=body, headers=stack.auth("responder")
        )
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == code
        assert error["message"]


async def test_a_malformed_sigma_rule_is_rejected_with_the_problem_named(stack: TestStack) -> None:
    async with hunter(stack) as (client, _):
        response = await client.post(
            "/v1/rules", json={"yaml": "title: x\ndetection: [unclosed"}, headers=stack.auth("responder")
        )
        assert response.status == 400
        error = (await response.json())["error"]
        assert error["code"] == "sigma_invalid"
        assert "line" in error["message"]


async def test_a_hunt_over_a_gzipped_cloudtrail_object_sends_deduplicable_alerts_and_feeds_triage(
    stack: TestStack,
) -> None:
    attack = SCENARIOS["cloudtrail_logging_stopped.yml"][0] + SCENARIOS["guardduty_disabled.yml"][0]
    benign = SCENARIOS["cloudtrail_logging_stopped.yml"][1]
    key = f"cloudtrail/AWSLogs/111122223333/{uuid.uuid4()}.json.gz"
    async with hunter(stack) as (client, runtime):
        supervisor_queue = runtime.manifest.task_queues[Agent.SUPERVISOR].name
        await runtime.artifacts.put(key, gzip.compress(json.dumps({"Records": attack + benign}).encode()))

        response = await client.post(
            "/v1/hunts", json={"source": {"type": "s3", "keys": [key]}}, headers=stack.auth("analyst")
        )
        assert response.status == 202, await response.text()
        hunt = await wait_hunt(client, stack, (await response.json())["id"])

        assert hunt["status"] == "succeeded", hunt
        assert hunt["events_read"] == len(attack) + len(benign)
        fired = {h["rule_id"] for h in hunt["hits"]}
        assert "49f669e8-9e88-4bb4-b6ba-9685c8f9cdb7" in fired  # CloudTrail logging stopped
        assert {h["alert_id"] for h in hunt["hits"]} >= {f"49f669e8-9e88-4bb4-b6ba-9685c8f9cdb7:{attack[0]['eventID']}"}
        sent = await drain(runtime, supervisor_queue, lambda e: hunt["id"] in e.idempotency_key)
        assert sent
        assert all(e.kind == "alert.ingest" for e in sent)
        alerts = [a for e in sent for a in e.payload["alerts"]]
        assert len(alerts) == hunt["alerts_sent"] == len({a["id"] for a in alerts})
        # every alert is a valid generic alert, with its matching events attached as evidence
        assert len(normalize_payload({"alerts": alerts})) == len(alerts)
        evidence = {k: v for e in sent for k, v in e.payload["evidence"].items()}
        assert evidence[alerts[0]["id"]][0]["eventID"] in alerts[0]["description"]

        # the events the hunt read are now CloudTrail context for triage
        alert = generic_alert(
            type="identity.suspicious_activity",
            severity="low",
            occurred_at=T0.isoformat(),
            first_seen=T0.isoformat(),
            last_seen=T0.isoformat(),
            resources=[],
            observables=[{"type": "access_key_id", "value": iam_user()["accessKeyId"]}],
            attack_techniques=[],
        )
        result = await triage(runtime, alert)
    context = [e for e in result["evidence"] if e["kind"] == "cloudtrail" and "event_name" in e["data"]]
    assert {"StopLogging", "DeleteTrail"} <= {e["data"]["event_name"] for e in context}
    assert "T1562.008" in result["techniques"]


async def test_a_defective_rule_does_not_stop_the_others_and_disabled_rules_stay_silent(stack: TestStack) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    rule_id = str(uuid.uuid4())
    broken_id = str(uuid.uuid4())
    deletion = record("s3.amazonaws.com", "DeleteBucket", {"bucketName": "b1"}, identity=iam_user(user))
    stopped = SCENARIOS["cloudtrail_logging_stopped.yml"][0][0]
    ndjson = "\n".join(json.dumps(r) for r in (deletion, stopped)).encode()
    async with hunter(stack) as (client, runtime):
        created = await client.post(
            "/v1/rules", json={"yaml": USER_RULE.format(user=user, id=rule_id)}, headers=stack.auth("responder")
        )
        assert created.status == 201, await created.text()
        # a rule stored by an older engine that no longer compiles
        await runtime.db.execute(
            "INSERT INTO hunt_rules (id, title, yaml, source) VALUES ($1, 'legacy', 'detection: [', 'user')", broken_id
        )
        builtin = "49f669e8-9e88-4bb4-b6ba-9685c8f9cdb7"
        patched = await client.patch(f"/v1/rules/{builtin}", json={"enabled": False}, headers=stack.auth("responder"))
        assert patched.status == 200
        try:
            response = await client.post(
                f"/v1/hunts?rules={rule_id},{broken_id},{builtin}",
                data=ndjson,
                headers={**stack.auth("analyst"), "Content-Type": "application/x-ndjson"},
            )
            assert response.status == 202, await response.text()
            hunt = await wait_hunt(client, stack, (await response.json())["id"])
        finally:
            await client.patch(f"/v1/rules/{builtin}", json={"enabled": True}, headers=stack.auth("responder"))
        await drain(runtime, runtime.manifest.task_queues[Agent.SUPERVISOR].name, lambda e: False)

        listed = await (await client.get("/v1/rules?source=user", headers=stack.auth("analyst"))).json()

    assert hunt["status"] == "succeeded"
    assert [h["rule_id"] for h in hunt["hits"]] == [rule_id]
    errors = {(e["source"], e["code"]) for e in hunt["rule_errors"]}
    assert (broken_id, "sigma_invalid") in errors
    assert (builtin, "rule_disabled") in errors
    by_id = {r["id"]: r for r in listed["items"]}
    assert by_id[rule_id]["enabled"]
    assert by_id[rule_id]["techniques"] == ["T1485"]
    assert by_id[broken_id]["errors"][0]["code"] == "sigma_invalid"


async def test_search_finds_attack_techniques_and_runbooks(stack: TestStack, tmp_path: Path) -> None:
    (tmp_path / "compromised_access_key.yml").write_text(
        "name: Compromised access key\nsteps:\n  - deactivate the exposed access key\n  - rotate credentials\n"
    )
    async with hunter(stack, runbooks_dir=tmp_path) as (client, _):
        attack = await (await client.get("/v1/intel/search?q=cloud accounts", headers=stack.auth("analyst"))).json()
        runbook = await (
            await client.get("/v1/intel/search?q=deactivate access key", headers=stack.auth("analyst"))
        ).json()
        empty = await client.get("/v1/intel/search?q=", headers=stack.auth("analyst"))

    assert attack["engine"] == "postgres"
    assert any(r["id"] == "attack:T1078.004" for r in attack["results"])
    assert runbook["results"][0]["id"] == "runbook:compromised_access_key"
    assert runbook["results"][0]["kind"] == "runbook"
    assert empty.status == 400


async def test_search_through_a_bedrock_knowledge_base_maps_the_retrieve_protocol(stack: TestStack) -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def retrieve(request: web.Request) -> web.Response:
        seen.append((request.match_info["kb"], await request.json()))
        return web.json_response(
            {
                "retrievalResults": [
                    {
                        "content": {"text": "Rotate the exposed access key, then review CloudTrail."},
                        "location": {"type": "S3", "s3Location": {"uri": "s3://kb-docs/runbooks/key.md"}},
                        "score": 0.83,
                        "metadata": {"kind": "runbook", "title": "Compromised access key"},
                    }
                ]
            }
        )

    fake = web.Application()
    fake.router.add_post("/knowledgebases/{kb}/retrieve", retrieve)
    runner = web.AppRunner(fake)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with hunter(
            stack, knowledge_base_id="KBTEST1234", knowledge_base_endpoint_url=f"http://127.0.0.1:{port}"
        ) as (client, _):
            found = await (
                await client.get("/v1/intel/search?q=access key&limit=3", headers=stack.auth("analyst"))
            ).json()
    finally:
        await runner.cleanup()

    assert seen == [
        (
            "KBTEST1234",
            {
                "retrievalQuery": {"text": "access key"},
                "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": 3}},
            },
        )
    ]
    assert found["engine"] == "bedrock"
    assert found["results"] == [
        {
            "id": "s3://kb-docs/runbooks/key.md",
            "kind": "runbook",
            "title": "Compromised access key",
            "snippet": "Rotate the exposed access key, then review CloudTrail.",
            "score": 0.83,
            "source": "bedrock-knowledge-base",
            "uri": "s3://kb-docs/runbooks/key.md",
        }
    ]


async def test_ingested_cloudtrail_objects_are_hunted_by_the_next_scheduled_hunt(stack: TestStack) -> None:
    at = datetime(2026, 10, 2, 3, 0, tzinfo=UTC) + timedelta(minutes=uuid.uuid4().int % 10_000)
    attack = [
        {**r, "eventID": str(uuid.uuid4()), "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        for r in SCENARIOS["kms_key_deletion_scheduled.yml"][0]
    ]
    key = f"cloudtrail/ingest/{uuid.uuid4()}.json.gz"
    async with hunter(stack) as (_, runtime):
        await runtime.artifacts.put(key, gzip.compress(json.dumps({"Records": attack}).encode()))
        ingest = Envelope.new(kind="cloudtrail.ingest", sender="test", payload={"key": key})
        await runtime.send_task(Agent.THREAT_HUNTER, ingest)

        async def stored() -> bool:
            ids = [r["eventID"] for r in attack]
            count = await runtime.db.fetchval("SELECT count(*) FROM cloudtrail_events WHERE event_id = ANY($1)", ids)
            return bool(count == len(attack))

        await wait_until(stored, timeout_s=30)
        scheduled = Envelope.new(
            kind="hunt.scheduled",
            sender="eventbridge",
            payload={"scheduled_at": (at + timedelta(minutes=5)).isoformat(), "window_s": 900},
        )
        await runtime.send_task(Agent.THREAT_HUNTER, scheduled)

        async def hunted() -> Any:
            # scheduled hunts go by delivery: the one that hunted these events lists their hits
            return await runtime.db.fetchrow(
                "SELECT * FROM hunts WHERE trigger = 'schedule' AND status = 'succeeded' "
                "AND hits::text LIKE '%' || $1 || '%'",
                attack[0]["eventID"],
            )

        hunt = await wait_until(hunted, timeout_s=60)
        await drain(runtime, runtime.manifest.task_queues[Agent.SUPERVISOR].name, lambda e: False)

    assert hunt["events_read"] >= len(attack)
    assert {e for h in hunt["hits"] for e in h["event_ids"]} >= {attack[0]["eventID"]}
    assert hunt["alerts_sent"] >= 1
