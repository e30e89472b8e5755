"""The hunting engine in the running threat hunter: hostile regexes, lint, community packs, and
scheduled hunts that see every event exactly once whatever CloudTrail's delivery delay."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from tests.fixtures.cloudtrail.samples import iam_user, record
from tests.integration.threat_hunter.test_threat_hunter_service import drain, hunter, wait_hunt
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def rule(detection: str, *, rule_id: str | None = None, title: str = "engine spec rule") -> str:
    return (
        f"title: {title}\nid: {rule_id or uuid.uuid4()}\nstatus: experimental\n"
        "logsource: {product: aws, service: cloudtrail}\n"
        f"detection:\n{detection}\nlevel: high\ntags: [attack.impact, attack.t1485]\n"
    )


async def post_rule(client: TestClient[Any, Any], stack: TestStack, text: str) -> Any:
    return await client.post("/v1/rules", json={"yaml": text}, headers=stack.auth("responder"))


async def test_a_catastrophic_regex_never_stalls_the_threat_hunter(stack: TestStack) -> None:
    marker = uuid.uuid4().hex
    text = rule(f"  sel:\n    requestParameters.name|re: '(a+)+$'\n    userAgent: {marker}\n  condition: sel")
    hostile = record(
        "ssm.amazonaws.com", "GetParameter", {"name": "a" * 100_000 + "!"}, userAgent=marker, identity=iam_user()
    )
    matching = record("ssm.amazonaws.com", "GetParameter", {"name": "xaaa"}, userAgent=marker, identity=iam_user())
    body = "\n".join(json.dumps(r) for r in [hostile] * 50 + [matching]).encode()
    async with hunter(stack) as (client, _):
        created = await post_rule(client, stack, text)
        assert created.status == 201, await created.text()
        rule_id = (await created.json())["id"]
        response = await client.post(
            f"/v1/hunts?rules={rule_id}&send_alerts=false",
            data=body,
            headers={**stack.auth("analyst"), "Content-Type": "application/x-ndjson"},
        )
        assert response.status == 202, await response.text()
        # while the hunt runs, other requests are answered promptly
        started = time.perf_counter()
        listed = await client.get("/v1/rules?source=user", headers=stack.auth("analyst"))
        assert listed.status == 200
        assert time.perf_counter() - started < 1.0
        hunt = await wait_hunt(client, stack, (await response.json())["id"])
    assert hunt["status"] == "succeeded", hunt
    assert [h["event_ids"] for h in hunt["hits"]] == [[matching["eventID"]]]


async def test_a_regex_re2_cannot_run_is_refused_at_upload_naming_field_and_pattern(stack: TestStack) -> None:
    async with hunter(stack) as (client, _):
        response = await post_rule(client, stack, rule("  sel:\n    userAgent|re: '(a)\\1'\n  condition: sel"))
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["code"] == "sigma_regex_unsupported"
    assert "sel.userAgent|re" in error["message"]
    assert "(a)\\\\1" in error["message"] or "(a)\\1" in error["message"]


async def test_an_upload_returns_the_lint_findings_of_the_rule(stack: TestStack) -> None:
    text = rule("  sel:\n    requestParameters: foo\n    eventSource: cloudtrail\n  condition: sel")
    async with hunter(stack) as (client, _):
        response = await post_rule(client, stack, text)
        assert response.status == 201, await response.text()
        body = await response.json()
    found = {(f["severity"], f["code"], f["field"]) for f in body["lint"]}
    assert ("error", "field_is_object", "requestParameters") in found
    assert ("error", "value_impossible", "eventSource") in found


COMMUNITY_RULE = """title: AWS CloudTrail Important Change (community)
id: {id}
status: test
logsource:
    product: aws
    service: cloudtrail
detection:
    selection:
        eventSource: cloudtrail.amazonaws.com
        eventName: [StopLogging, UpdateTrail, DeleteTrail]
        userIdentity.userName: {user}
    condition: selection
level: medium
tags: [attack.defense-evasion, attack.t1562.008]
"""
WINDOWS_RULE = """title: Some Windows Rule
id: {id}
logsource: {{product: windows, category: process_creation}}
detection:
    selection: {{Image|endswith: 'x.exe'}}
    condition: selection
"""
OWN_RULE = """title: Trail stopped (own copy)
id: {id}
logsource: {{product: aws, service: cloudtrail}}
detection:
    selection:
        eventName: StopLogging
        userIdentity.userName: {user}
    condition: selection
level: high
tags: [attack.defense-evasion, attack.t1562.008]
"""


def pack_zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


async def test_a_community_pack_imports_with_per_rule_results_and_runs_beside_other_rules_deduplicated(
    stack: TestStack,
) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    community_id, own_id = str(uuid.uuid4()), str(uuid.uuid4())
    pack = f"sigmahq-{uuid.uuid4().hex[:6]}"
    body = pack_zip(
        {
            "sigma/version.txt": "r2026-11-02",
            "sigma/rules/cloud/aws/cloudtrail/aws_cloudtrail_disable_logging.yml": COMMUNITY_RULE.format(
                id=community_id, user=user
            ),
            "sigma/rules/windows/proc_creation_x.yml": WINDOWS_RULE.format(id=uuid.uuid4()),
            "sigma/rules/cloud/aws/cloudtrail/aws_broken.yml": "title: broken\ndetection: [",
        }
    )
    stopped = record("cloudtrail.amazonaws.com", "StopLogging", {"name": "main"}, identity=iam_user(user))
    async with hunter(stack) as (client, runtime):
        response = await client.post(
            f"/v1/rules/imports?pack={pack}",
            data=body,
            headers={**stack.auth("responder"), "Content-Type": "application/zip"},
        )
        assert response.status == 201, await response.text()
        report = await response.json()
        again = await (await client.get(response.headers["Location"], headers=stack.auth("analyst"))).json()
        listed = await (await client.get(f"/v1/rules?pack={pack}", headers=stack.auth("analyst"))).json()
        assert (await post_rule(client, stack, OWN_RULE.format(id=own_id, user=user))).status == 201

        ndjson = json.dumps(stopped).encode()
        hunted = await client.post(
            f"/v1/hunts?rules={community_id},{own_id}",
            data=ndjson,
            headers={**stack.auth("analyst"), "Content-Type": "application/x-ndjson"},
        )
        hunt = await wait_hunt(client, stack, (await hunted.json())["id"])
        sent = await drain(
            runtime, runtime.manifest.task_queues[Agent.SUPERVISOR].name, lambda e: hunt["id"] in e.idempotency_key
        )

        disabled = await client.patch(
            f"/v1/rules/{community_id}", json={"enabled": False}, headers=stack.auth("responder")
        )
        assert disabled.status == 200
        assert (await disabled.json())["enabled"] is False

    assert report["version"] == "r2026-11-02"
    assert report["counts"] == {"imported": 1, "skipped": 1, "failed": 1}
    outcomes = {r["file"].rsplit("/", 1)[-1]: (r["outcome"], r["code"]) for r in report["results"]}
    assert outcomes == {
        "aws_cloudtrail_disable_logging.yml": ("imported", None),
        "proc_creation_x.yml": ("skipped", "logsource_not_cloudtrail"),
        "aws_broken.yml": ("failed", "sigma_invalid"),
    }
    assert again["results"] == report["results"]
    [imported] = listed["items"]
    assert (imported["id"], imported["source"], imported["pack"], imported["pack_version"]) == (
        community_id,
        "imported",
        pack,
        "r2026-11-02",
    )
    assert imported["file"] == "sigma/rules/cloud/aws/cloudtrail/aws_cloudtrail_disable_logging.yml"
    # both rules detect T1562.008 on the same event: one alert, from the higher-level rule
    assert [h["rule_id"] for h in hunt["hits"]] == [own_id]
    alerts = [a for e in sent for a in e.payload["alerts"]]
    assert len(alerts) == 1
    assert community_id in alerts[0]["description"]


async def test_a_pack_body_that_is_no_archive_is_a_400(stack: TestStack) -> None:
    async with hunter(stack) as (client, _):
        response = await client.post(
            "/v1/rules/imports",
            data=b"plain text",
            headers={**stack.auth("responder"), "Content-Type": "application/zip"},
        )
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "pack_invalid"


async def scheduled_hunt(runtime: AgentRuntime) -> dict[str, Any]:
    """Run one scheduled hunt through the task queue; its hunts row."""
    before = datetime.now(UTC)
    envelope = Envelope.new(kind="hunt.scheduled", sender="eventbridge", payload={})
    await runtime.send_task(Agent.THREAT_HUNTER, envelope)

    async def done() -> Any:
        return await runtime.db.fetchrow(
            "SELECT * FROM hunts WHERE trigger = 'schedule' AND status IN ('succeeded', 'failed') "
            "AND submitted_at >= $1 ORDER BY submitted_at LIMIT 1",
            before,
        )

    row = await wait_until(done, timeout_s=60)
    return dict(row)


async def ingest(runtime: AgentRuntime, records: list[dict[str, Any]]) -> None:
    stored = await runtime.db.fetchval(
        "SELECT count(*) FROM cloudtrail_events WHERE event_id = ANY($1::text[])", [r["eventID"] for r in records]
    )
    assert stored == 0
    from acso_threat_hunter.cloudtrail.store import EventStore  # the path cloudtrail.ingest takes

    await EventStore(runtime.db).add(records)


def timed(event: dict[str, Any], at: datetime) -> dict[str, Any]:
    return {**event, "eventID": str(uuid.uuid4()), "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


async def test_a_late_event_is_hunted_once_when_it_arrives_and_nothing_is_hunted_twice(stack: TestStack) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    rule_id = str(uuid.uuid4())
    text = rule(
        f"  sel:\n    eventName: DeleteBucket\n    userIdentity.userName: {user}\n  condition: sel", rule_id=rule_id
    )
    now = datetime.now(UTC).replace(microsecond=0)
    on_time = timed(record("s3.amazonaws.com", "DeleteBucket", {"bucketName": "a"}, identity=iam_user(user)), now)
    # delivered an hour after it happened: before the previous hunt's time, after its run
    late = timed(
        record("s3.amazonaws.com", "DeleteBucket", {"bucketName": "b"}, identity=iam_user(user)),
        now - timedelta(hours=1),
    )
    async with hunter(stack) as (client, runtime):
        assert (await post_rule(client, stack, text)).status == 201
        await ingest(runtime, [on_time])
        first = await scheduled_hunt(runtime)
        await ingest(runtime, [late])
        second = await scheduled_hunt(runtime)
        third = await scheduled_hunt(runtime)
        await drain(runtime, runtime.manifest.task_queues[Agent.SUPERVISOR].name, lambda e: False)

    def ours(hunt: dict[str, Any]) -> list[list[str]]:
        return [h["event_ids"] for h in hunt["hits"] if h["rule_id"] == rule_id]

    assert ours(first) == [[on_time["eventID"]]]
    assert ours(second) == [[late["eventID"]]]
    assert ours(third) == []


async def test_a_burst_split_across_two_scheduled_hunts_is_caught(stack: TestStack) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    base = f"burst_base_{uuid.uuid4().hex[:8]}"
    correlation_id = str(uuid.uuid4())
    text = (
        f"title: Bucket deletions by {user}\nid: {uuid.uuid4()}\nname: {base}\nstatus: experimental\n"
        "logsource: {product: aws, service: cloudtrail}\n"
        f"detection:\n  sel:\n    eventName: DeleteBucket\n    userIdentity.userName: {user}\n  condition: sel\n"
        "level: low\n---\n"
        f"title: Burst of bucket deletions\nid: {correlation_id}\nstatus: experimental\n"
        f"correlation:\n  type: event_count\n  rules: [{base}]\n  group-by: [userIdentity.arn]\n"
        "  timespan: 10m\n  condition: {gte: 4}\nlevel: high\n"
    )
    now = datetime.now(UTC).replace(microsecond=0)
    deletion = record("s3.amazonaws.com", "DeleteBucket", {"bucketName": "x"}, identity=iam_user(user))
    burst = [timed(deletion, now + timedelta(seconds=30 * i)) for i in range(4)]
    async with hunter(stack) as (client, runtime):
        created = await post_rule(client, stack, text)
        assert created.status == 201, await created.text()
        await ingest(runtime, burst[:2])
        first = await scheduled_hunt(runtime)
        await ingest(runtime, burst[2:])
        second = await scheduled_hunt(runtime)
        await asyncio.sleep(0)
        await drain(runtime, runtime.manifest.task_queues[Agent.SUPERVISOR].name, lambda e: False)

    assert [h for h in first["hits"] if h["rule_id"] == correlation_id] == []
    [hit] = [h for h in second["hits"] if h["rule_id"] == correlation_id]
    assert sorted(hit["event_ids"]) == sorted(e["eventID"] for e in burst)


async def test_an_s3_prefix_hunt_reads_the_selected_organization_trail_files_and_skips_digests(
    stack: TestStack,
) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    rule_id = str(uuid.uuid4())
    detection = f"  sel:\n    eventName: DeleteBucket\n    userIdentity.userName: {user}\n  condition: sel"
    root = f"trails/{uuid.uuid4().hex[:8]}"
    day = "2026/11/20"

    def key(account: str, region: str, kind: str = "CloudTrail") -> str:
        name = f"{account}_{kind}_{region}_20261120T0905Z_{uuid.uuid4().hex[:16]}.json.gz"
        return f"{root}/AWSLogs/o-aa111bb222/{account}/{kind}/{region}/{day}/{name}"

    def deletion(account: str) -> dict[str, Any]:
        request = {"bucketName": "b"}
        return record("s3.amazonaws.com", "DeleteBucket", request, identity=iam_user(user), recipientAccountId=account)

    wanted, other_account, other_region = deletion("111122223333"), deletion("444455556666"), deletion("111122223333")
    async with hunter(stack) as (client, runtime):
        assert (await post_rule(client, stack, rule(detection, rule_id=rule_id))).status == 201
        for k, event in (
            (key("111122223333", "us-east-1"), wanted),
            (key("444455556666", "us-east-1"), other_account),
            (key("111122223333", "eu-west-1"), other_region),
            (key("111122223333", "us-east-1", "CloudTrail-Digest"), deletion("111122223333")),
        ):
            await runtime.artifacts.put(k, gzip.compress(json.dumps({"Records": [event]}).encode()))
        response = await client.post(
            "/v1/hunts",
            json={
                "source": {
                    "type": "s3",
                    "prefix": f"{root}/AWSLogs/",
                    "accounts": ["111122223333"],
                    "regions": ["us-east-1"],
                    "since": "2026-11-20",
                    "until": "2026-11-20",
                },
                "rule_ids": [rule_id],
                "send_alerts": False,
            },
            headers=stack.auth("analyst"),
        )
        assert response.status == 202, await response.text()
        hunt = await wait_hunt(client, stack, (await response.json())["id"])
    assert hunt["status"] == "succeeded", hunt
    assert hunt["events_read"] == 1
    assert [h["event_ids"] for h in hunt["hits"]] == [[wanted["eventID"]]]


async def test_a_new_behaviour_rule_fires_once_per_key_across_hunts_with_its_state_in_postgresql(
    stack: TestStack,
) -> None:
    user = f"u{uuid.uuid4().hex[:8]}"
    rule_id = str(uuid.uuid4())
    text = (
        f"title: First region of {user}\nid: {rule_id}\nlogsource: {{product: aws, service: cloudtrail}}\n"
        f"detection:\n  sel:\n    eventSource: ec2.amazonaws.com\n    userIdentity.userName: {user}\n  condition: sel\n"
        "acso:\n  new_behaviour:\n    key: [userIdentity.arn, awsRegion]\n    within_days: 30\nlevel: medium\n"
    )

    def call(region: str) -> dict[str, Any]:
        return record("ec2.amazonaws.com", "RunInstances", {}, identity=iam_user(user), region=region)

    first_batch = [call("us-east-1"), call("us-east-1")]
    second_batch = [call("us-east-1"), call("ap-southeast-3")]

    async def upload(client: TestClient[Any, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
        response = await client.post(
            f"/v1/hunts?rules={rule_id}&send_alerts=false",
            data="\n".join(json.dumps(e) for e in events).encode(),
            headers={**stack.auth("analyst"), "Content-Type": "application/x-ndjson"},
        )
        assert response.status == 202, await response.text()
        return await wait_hunt(client, stack, (await response.json())["id"])

    async with hunter(stack) as (client, runtime):
        assert (await post_rule(client, stack, text)).status == 201
        first = await upload(client, first_batch)
        second = await upload(client, second_batch)
        remembered = await runtime.db.fetch(
            "SELECT key FROM behaviour_baseline WHERE rule_id = $1 ORDER BY key", rule_id
        )
    assert [h["event_ids"] for h in first["hits"]] == [[first_batch[0]["eventID"]]]
    assert [h["event_ids"] for h in second["hits"]] == [[second_batch[1]["eventID"]]]
    assert [json.loads(r["key"])[1] for r in remembered] == ["ap-southeast-3", "us-east-1"]


async def test_acso_rules_import_stores_a_pack_folder_the_threat_hunter_then_lists(
    stack: TestStack, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = f"cli-{uuid.uuid4().hex[:6]}"
    rule_id = str(uuid.uuid4())
    folder = tmp_path / "sigma"
    (folder / "rules" / "cloud" / "aws" / "cloudtrail").mkdir(parents=True)
    (folder / "version.txt").write_text("r2026-12-01")
    (folder / "rules" / "cloud" / "aws" / "cloudtrail" / "a.yml").write_text(
        COMMUNITY_RULE.format(id=rule_id, user="nobody")
    )
    (folder / "rules" / "windows.yml").write_text(WINDOWS_RULE.format(id=uuid.uuid4()))
    monkeypatch.setenv("ACSO_DATABASE_URL", stack.database_url)
    out = io.StringIO()
    import argparse

    from acso_shared.hunting.cli import cmd_rules_import

    args = argparse.Namespace(path=folder, pack=pack, pack_version=None, disabled=False, dry_run=False)
    code = await asyncio.to_thread(cmd_rules_import, args, out)
    async with hunter(stack) as (client, _):
        listed = await (await client.get(f"/v1/rules?pack={pack}", headers=stack.auth("analyst"))).json()
    assert code == 0, out.getvalue()
    assert '"imported": 1' in out.getvalue()
    assert '"skipped": 1' in out.getvalue()
    assert [(r["id"], r["pack_version"], r["file"]) for r in listed["items"]] == [
        (rule_id, "r2026-12-01", "rules/cloud/aws/cloudtrail/a.yml")
    ]
