"""The incident REST API and the lifecycle messages, against the real emulator and database."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from acso_incident_response.app import create_app
from acso_incident_response.settings import Settings
from acso_shared.alerts.models import (
    NormalizedAlert,
    Resource,
    ResourceType,
    Severity,
    SeverityId,
    SeverityLabel,
    SourceFormat,
)
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import (
    INCIDENT_ALERTS_UPDATED,
    INCIDENT_EXTERNAL_UPDATE,
    RESPONSE_REQUEST,
    IncidentAlertsUpdated,
    IncidentExternalUpdate,
    ResponseRequest,
    TriageResult,
)
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def _benign_request(severity: SeverityLabel) -> Envelope:
    now = datetime.now(UTC)
    incident_id = f"inc-api-{uuid.uuid4().hex[:10]}"
    alert = NormalizedAlert(
        alert_id=uuid.uuid4(),
        source="generic",
        source_format=SourceFormat.ACSO_GENERIC,
        title=f"test alert {incident_id}",
        type="Custom:Test/Benign",
        severity=Severity(id=SeverityId[severity.name], label=severity),
        occurred_at=now,
        first_seen=now,
        last_seen=now,
        account_id="123456789012",
        resources=[Resource(type=ResourceType.EC2_INSTANCE, id="i-0000000000000000")],
        raw={},
    )
    triage = TriageResult(
        incident_id=incident_id, alert_id=str(alert.alert_id), verdict="benign", severity=severity, confidence=0.2
    )
    request = ResponseRequest(
        incident_id=incident_id,
        alert=alert,
        triage=triage,
        alert_count=1,
        first_seen=now,
        last_seen=now,
        fingerprint=f"fp-{incident_id}",
    )
    return Envelope.new(kind=RESPONSE_REQUEST, sender="supervisor", payload=request.model_dump(mode="json"))


async def _open(app: Any, client: Any, stack: TestStack, severity: SeverityLabel) -> str:
    envelope = _benign_request(severity)
    await app[RUNTIME].send_task(Agent.INCIDENT_RESPONSE, envelope)
    incident_id = str(envelope.payload["incident_id"])

    async def opened() -> bool:
        response = await client.get(f"/v1/incidents/{incident_id}", headers=stack.auth("analyst"))
        return bool(response.status == 200)

    await wait_until(opened, timeout_s=60, interval_s=0.2)
    return incident_id


async def _messages_for(stack: TestStack, queue: str, incident_id: str) -> list[dict[str, Any]]:
    """Receive and delete (drain) the queue's messages, keeping those about `incident_id`."""
    clients = AwsClientFactory(stack.aws_settings())
    found: list[dict[str, Any]] = []
    try:
        sqs = await clients.client("sqs")
        url = (await sqs.get_queue_url(QueueName=queue))["QueueUrl"]
        while True:
            batch = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)).get(
                "Messages", []
            )
            if not batch:
                return found
            for message in batch:
                body = json.loads(message["Body"])
                if body.get("payload", {}).get("incident_id") == incident_id:
                    found.append(body)
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            await sqs.delete_message_batch(QueueUrl=url, Entries=entries)
    finally:
        await clients.aclose()


async def test_incidents_are_listed_filtered_and_paged(stack: TestStack) -> None:
    app = create_app(stack.service_settings(Settings, sweep_interval_s=0.5))
    async with running(app) as client:
        mine = [await _open(app, client, stack, SeverityLabel.INFORMATIONAL) for _ in range(3)]
        seen: list[str] = []
        cursor = None
        while True:
            query = "severity=informational&status=triaged&limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = await (await client.get(f"/v1/incidents?{query}", headers=stack.auth("executive"))).json()
            assert len(page["items"]) <= 2
            seen.extend(item["id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert set(mine) <= set(seen)
        assert len(seen) == len(set(seen))
        assert all(item["severity"] == "informational" for item in page["items"])

        bad = await client.get("/v1/incidents?status=exploded", headers=stack.auth("analyst"))
        assert bad.status == 400
        assert (await bad.json())["error"]["code"] == "invalid_query"
        cursor_bad = await client.get("/v1/incidents?cursor=bm90LWEtY3Vyc29y", headers=stack.auth("analyst"))
        assert cursor_bad.status == 400
        missing = await client.get("/v1/incidents/inc-does-not-exist", headers=stack.auth("analyst"))
        assert missing.status == 404


async def test_a_responder_updates_comments_and_closes_and_each_version_is_announced(stack: TestStack) -> None:
    app = create_app(stack.service_settings(Settings, sweep_interval_s=0.5))
    async with running(app) as client:
        incident_id = await _open(app, client, stack, SeverityLabel.LOW)
        responder = stack.auth("responder")

        patched = await client.patch(
            f"/v1/incidents/{incident_id}", json={"assignee": "bob", "status": "contained"}, headers=responder
        )
        assert patched.status == 200, await patched.text()
        body = await patched.json()
        assert (body["assignee"], body["status"]) == ("bob", "contained")
        backwards = await client.patch(f"/v1/incidents/{incident_id}", json={"status": "new"}, headers=responder)
        assert backwards.status == 409
        stale = await client.patch(
            f"/v1/incidents/{incident_id}", json={"assignee": "eve", "expected_version": 1}, headers=responder
        )
        assert stale.status == 409
        assert (await stale.json())["error"]["code"] == "version_conflict"
        empty = await client.patch(f"/v1/incidents/{incident_id}", json={}, headers=responder)
        assert empty.status == 400
        analyst_patch = await client.patch(
            f"/v1/incidents/{incident_id}", json={"assignee": "x"}, headers=stack.auth("analyst")
        )
        assert analyst_patch.status == 403

        comment = await client.post(
            f"/v1/incidents/{incident_id}/comments", json={"text": "looked at it"}, headers=stack.auth("analyst")
        )
        assert comment.status == 201
        no_text = await client.post(f"/v1/incidents/{incident_id}/comments", json={"text": ""}, headers=responder)
        assert no_text.status == 400

        closed = await client.post(
            f"/v1/incidents/{incident_id}/close", json={"resolution": "false positive"}, headers=responder
        )
        assert closed.status == 200
        detail = await closed.json()
        assert detail["status"] == "closed"
        assert detail["resolution"] == "false positive"
        assert detail["closed_at"] is not None
        again = await client.post(f"/v1/incidents/{incident_id}/close", json={"resolution": "x"}, headers=responder)
        assert again.status == 409

        # Versions: 1 opened, 2 triaged, 3 assignee, 4 contained, 5 comment, 6 closed.
        assert detail["version"] == 6
        manifest = stack.aws_settings().manifest

        async def statuses() -> list[dict[str, Any]] | None:
            found = await _messages_for(stack, manifest.results_queue.name, incident_id)
            collected.extend(m for m in found if m["kind"] == "incident.status")
            return collected if len({m["idempotency_key"] for m in collected}) >= 6 else None

        collected: list[dict[str, Any]] = []
        await wait_until(statuses, timeout_s=30)
        by_key = {m["idempotency_key"]: m["payload"]["status"] for m in collected}
        assert by_key[f"incident.status:{incident_id}:6"] == "closed"
        assert by_key[f"incident.status:{incident_id}:2"] == "triaged"
        syncs = await _messages_for(stack, manifest.task_queues[Agent.SERVICE_ORCHESTRATION].name, incident_id)
        keys = {m["idempotency_key"] for m in syncs if m["kind"] == "ticket.sync"}
        assert f"ticket.sync:{incident_id}:6" in keys
        last = next(m for m in syncs if m["idempotency_key"] == f"ticket.sync:{incident_id}:6")
        assert last["payload"]["assignee"] == "bob"
        assert [c["text"] for c in last["payload"]["comments"]] == ["looked at it"]


async def test_alert_counts_apply_the_greatest_and_ticket_updates_land_once(stack: TestStack) -> None:
    app = create_app(stack.service_settings(Settings, sweep_interval_s=0.5))
    async with running(app) as client:
        incident_id = await _open(app, client, stack, SeverityLabel.MEDIUM)
        runtime = app[RUNTIME]
        now = datetime.now(UTC)
        for count in (5, 3):
            update = IncidentAlertsUpdated(
                incident_id=incident_id,
                alert_ids=[str(uuid.uuid4())],
                alert_count=count,
                first_seen=now - timedelta(hours=1),
                last_seen=now,
            )
            await runtime.send_task(
                Agent.INCIDENT_RESPONSE,
                Envelope.new(kind=INCIDENT_ALERTS_UPDATED, sender="supervisor", payload=update.model_dump(mode="json")),
            )
        external = IncidentExternalUpdate(
            incident_id=incident_id,
            system="jira",
            external_id="SEC-1",
            status="contained",
            comment="isolated by the network team",
            actor="carol",
            occurred_at=now,
        )
        for _ in range(2):
            await runtime.send_task(
                Agent.INCIDENT_RESPONSE,
                Envelope.new(
                    kind=INCIDENT_EXTERNAL_UPDATE,
                    sender="service_orchestration",
                    payload=external.model_dump(mode="json"),
                ),
            )

        async def settled() -> dict[str, Any] | None:
            body: dict[str, Any] = await (
                await client.get(f"/v1/incidents/{incident_id}", headers=stack.auth("analyst"))
            ).json()
            return body if body["status"] == "contained" and len(body["alerts"]) == 3 else None

        incident = await wait_until(settled, timeout_s=60, interval_s=0.2)
        assert incident["alert_count"] == 5
        assert [c["text"] for c in incident["comments"]] == ["isolated by the network team"]
        assert [e["kind"] for e in incident["timeline"]].count("external_update") == 1
