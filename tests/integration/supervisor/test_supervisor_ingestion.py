"""Ingestion, dedup/correlation and the workflow engine of the supervisor on the real emulator and database.

The other agents are played by the test: it reads the tasks the supervisor sends from their queues
and answers on the results queue, exactly as the agents do.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import (
    CONTAINMENT_RESULT,
    INCIDENT_ALERTS_UPDATED,
    RESPONSE_REQUEST,
    RESPONSE_RESULT,
    TRIAGE_REQUEST,
    TRIAGE_RESULT,
    ContainmentResult,
    ResponseResult,
    TriageResult,
)
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from acso_supervisor.app import create_app
from acso_supervisor.settings import Settings
from tests.support.apps import running
from tests.support.queues import drain, wait_for_envelope
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


def generic_alert(instance_id: str, *, alert_id: str | None = None, ip: str | None = None) -> dict[str, Any]:
    """A generic alert about its own instance and IP, so it correlates with nothing else in the session."""
    ip = ip or f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"
    return {
        "schema": "acso.alert/v1",
        "source": "generic",
        "id": alert_id or f"ids-{secrets.token_hex(6)}",
        "title": f"Outbound SSH brute force from {instance_id}",
        "type": "network.ssh_bruteforce.outbound",
        "severity": "high",
        "occurred_at": datetime.now(UTC).isoformat(),
        "account_id": "123456789012",
        "region": "us-east-1",
        "resources": [{"type": "ec2_instance", "id": instance_id}],
        "observables": [{"type": "ip", "value": ip}],
        "attack_techniques": ["T1110.001"],
    }


def new_instance_id() -> str:
    return f"i-{secrets.token_hex(8)}"


@pytest.fixture
async def clients(stack: TestStack) -> AsyncIterator[AwsClientFactory]:
    factory = AwsClientFactory(stack.aws_settings())
    yield factory
    await factory.aclose()


@pytest.fixture
async def supervisor(stack: TestStack) -> AsyncIterator[Any]:
    settings = stack.service_settings(Settings, ping_interval_s=3600, sweep_interval_s=0.5, step_timeout_s=2.0)
    async with running(create_app(settings)) as client:
        yield client


def queue(stack: TestStack, agent: Agent) -> str:
    return stack.aws_settings().manifest.task_queues[agent].name


async def test_an_alert_opens_an_incident_and_a_workflow_that_runs_triage_then_response(
    stack: TestStack, supervisor: Any, clients: AwsClientFactory
) -> None:
    response = await supervisor.post(
        "/v1/alerts", json=generic_alert(new_instance_id()), headers=stack.auth("responder")
    )
    assert response.status == 202
    result = (await response.json())["results"][0]
    assert result["outcome"] == "new_incident"
    workflow_id, incident_id = result["workflow_id"], result["incident_id"]

    triage = await wait_for_envelope(
        clients, queue(stack, Agent.THREAT_HUNTER), lambda e: e.kind == TRIAGE_REQUEST and e.workflow_id == workflow_id
    )
    assert triage.payload["incident_id"] == incident_id
    verdict = TriageResult(
        incident_id=incident_id, alert_id=result["alert_id"], verdict="malicious", severity="high", confidence=0.9
    )
    runtime = supervisor.server.app[RUNTIME]
    await runtime.send_result(
        triage.reply(kind=TRIAGE_RESULT, sender="threat_hunter", payload=verdict.model_dump(mode="json"))
    )

    respond = await wait_for_envelope(
        clients,
        queue(stack, Agent.INCIDENT_RESPONSE),
        lambda e: e.kind == RESPONSE_REQUEST and e.workflow_id == workflow_id,
    )
    assert respond.payload["triage"]["verdict"] == "malicious"
    assert respond.payload["alert_count"] == 1
    done = ResponseResult(incident_id=incident_id, status="contained")
    await runtime.send_result(
        respond.reply(kind=RESPONSE_RESULT, sender="incident_response", payload=done.model_dump(mode="json"))
    )

    async def completed() -> dict[str, Any] | None:
        body = await (await supervisor.get(f"/v1/workflows/{workflow_id}", headers=stack.auth("analyst"))).json()
        return body if body["status"] == "completed" else None

    workflow = await wait_until(completed, timeout_s=30)
    assert [(s["step"], s["status"]) for s in workflow["steps"]] == [("triage", "completed"), ("respond", "completed")]


async def test_a_workflow_with_open_actions_completes_only_with_its_containment_result(
    stack: TestStack, supervisor: Any, clients: AwsClientFactory
) -> None:
    response = await supervisor.post(
        "/v1/alerts", json=generic_alert(new_instance_id()), headers=stack.auth("responder")
    )
    result = (await response.json())["results"][0]
    workflow_id, incident_id = result["workflow_id"], result["incident_id"]
    triage = await wait_for_envelope(
        clients, queue(stack, Agent.THREAT_HUNTER), lambda e: e.kind == TRIAGE_REQUEST and e.workflow_id == workflow_id
    )
    verdict = TriageResult(
        incident_id=incident_id, alert_id=result["alert_id"], verdict="malicious", severity="high", confidence=0.9
    )
    runtime = supervisor.server.app[RUNTIME]
    await runtime.send_result(
        triage.reply(kind=TRIAGE_RESULT, sender="threat_hunter", payload=verdict.model_dump(mode="json"))
    )
    respond = await wait_for_envelope(
        clients,
        queue(stack, Agent.INCIDENT_RESPONSE),
        lambda e: e.kind == RESPONSE_REQUEST and e.workflow_id == workflow_id,
    )
    planned = ResponseResult(incident_id=incident_id, status="triaged", alert_id=result["alert_id"], open_actions=2)
    await runtime.send_result(
        respond.reply(kind=RESPONSE_RESULT, sender="incident_response", payload=planned.model_dump(mode="json"))
    )

    async def steps() -> list[tuple[str, str]] | None:
        body = await (await supervisor.get(f"/v1/workflows/{workflow_id}", headers=stack.auth("analyst"))).json()
        found = [(s["step"], s["status"]) for s in body["steps"]]
        return found if ("contain", "waiting") in found else None

    assert await wait_until(steps, timeout_s=30) == [
        ("triage", "completed"),
        ("respond", "completed"),
        ("contain", "waiting"),
    ]
    body = await (await supervisor.get(f"/v1/workflows/{workflow_id}", headers=stack.auth("analyst"))).json()
    assert body["status"] == "running"

    contained = ContainmentResult(
        incident_id=incident_id,
        alert_id=result["alert_id"],
        outcome="contained",
        incident_status="contained",
        targets={"ec2_instance:i-1": "contained"},
    )
    await runtime.send_result(
        Envelope.new(
            kind=CONTAINMENT_RESULT,
            sender="incident_response",
            payload=contained.model_dump(mode="json"),
            idempotency_key=f"{CONTAINMENT_RESULT}:{workflow_id}",
            workflow_id=workflow_id,
            step="contain",
        )
    )

    async def completed() -> dict[str, Any] | None:
        body = await (await supervisor.get(f"/v1/workflows/{workflow_id}", headers=stack.auth("analyst"))).json()
        return body if body["status"] == "completed" else None

    workflow = await wait_until(completed, timeout_s=30)
    assert workflow["steps"][-1]["result"]["outcome"] == "contained"


async def test_a_repeated_finding_only_raises_the_alert_count(
    stack: TestStack, supervisor: Any, clients: AwsClientFactory
) -> None:
    alert = generic_alert(new_instance_id(), alert_id=f"same-{uuid.uuid4()}")
    first = (await (await supervisor.post("/v1/alerts", json=alert, headers=stack.auth("responder"))).json())[
        "results"
    ][0]
    again = (await (await supervisor.post("/v1/alerts", json=alert, headers=stack.auth("responder"))).json())[
        "results"
    ][0]
    assert again["outcome"] == "duplicate"
    assert again["incident_id"] == first["incident_id"]
    assert again["workflow_id"] is None
    update = await wait_for_envelope(
        clients,
        queue(stack, Agent.INCIDENT_RESPONSE),
        lambda e: e.kind == INCIDENT_ALERTS_UPDATED and e.payload["incident_id"] == first["incident_id"],
    )
    assert update.payload["alert_count"] == 2


async def test_an_alert_storm_of_a_thousand_identical_alerts_yields_one_incident(
    stack: TestStack, supervisor: Any
) -> None:
    instance = new_instance_id()
    incidents: set[str] = set()
    for _ in range(2):
        batch = [generic_alert(instance) for _ in range(500)]
        response = await supervisor.post("/v1/alerts", json=batch, headers=stack.auth("responder"))
        assert response.status == 202
        body = await response.json()
        assert body["accepted"] == 500
        incidents.update(body["incidents"])
    assert len(incidents) == 1
    listing = await (
        await supervisor.get(f"/v1/workflows?incident_id={incidents.pop()}", headers=stack.auth("analyst"))
    ).json()
    assert len(listing["workflows"]) == 1


async def test_alerts_sharing_an_observable_are_correlated_into_one_incident(stack: TestStack, supervisor: Any) -> None:
    ip = f"203.0.113.{secrets.randbelow(250) + 1}"
    instance = new_instance_id()
    first = generic_alert(instance, ip=ip)
    other = {**generic_alert(new_instance_id(), ip=ip), "type": "network.c2.beacon", "resources": []}
    other["observables"] = [{"type": "instance_id", "value": instance}]
    a = (await (await supervisor.post("/v1/alerts", json=first, headers=stack.auth("responder"))).json())["results"][0]
    b = (await (await supervisor.post("/v1/alerts", json=other, headers=stack.auth("responder"))).json())["results"][0]
    assert b["outcome"] == "correlated"
    assert b["incident_id"] == a["incident_id"]


async def test_a_batch_with_one_bad_item_is_rejected_whole_and_nothing_is_stored(
    stack: TestStack, supervisor: Any
) -> None:
    good = generic_alert(new_instance_id(), alert_id=f"good-{uuid.uuid4()}")
    bad = {**generic_alert(new_instance_id()), "severity": "apocalyptic"}
    response = await supervisor.post("/v1/alerts", json=[good, bad], headers=stack.auth("responder"))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] == "alert_invalid"
    assert "item 1" in error["message"]
    runtime = supervisor.server.app[RUNTIME]
    assert await runtime.db.fetchval("SELECT count(*) FROM alerts WHERE normalized->>'source_id' = $1", good["id"]) == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "code"),
    [
        (b'{"hello": "world"}', "application/json", 400, "alert_format_unknown"),
        (b"[]", "application/json", 400, "batch_empty"),
        (b"{not json", "application/json", 400, "json_invalid"),
        (b"<xml/>", "application/xml", 415, "unsupported_media_type"),
    ],
)
async def test_unknown_or_malformed_input_gets_a_clear_4xx(
    stack: TestStack, supervisor: Any, body: bytes, content_type: str, status: int, code: str
) -> None:
    response = await supervisor.post(
        "/v1/alerts", data=body, headers={**stack.auth("responder"), "Content-Type": content_type}
    )
    assert response.status == status
    assert (await response.json())["error"]["code"] == code


async def test_a_step_without_a_result_is_resent_then_failed_visibly(
    stack: TestStack, clients: AwsClientFactory
) -> None:
    settings = stack.service_settings(
        Settings, ping_interval_s=3600, sweep_interval_s=0.3, step_timeout_s=0.5, step_max_attempts=2
    )
    async with running(create_app(settings)) as supervisor:
        result = (
            await (
                await supervisor.post(
                    "/v1/alerts", json=generic_alert(new_instance_id()), headers=stack.auth("responder")
                )
            ).json()
        )["results"][0]

        async def failed() -> dict[str, Any] | None:
            body = await (
                await supervisor.get(f"/v1/workflows/{result['workflow_id']}", headers=stack.auth("analyst"))
            ).json()
            return body if body["status"] == "failed" else None

        workflow = await wait_until(failed, timeout_s=30)
        step = workflow["steps"][0]
        assert step["status"] == "failed"
        assert step["attempts"] == 2
        assert "no result" in step["error"]
    sent = [
        e for e in await drain(clients, queue(stack, Agent.THREAT_HUNTER)) if e.workflow_id == result["workflow_id"]
    ]
    # Both attempts carried the same idempotency key, so an agent would act on it once.
    assert len(sent) == 2
    assert len({e.idempotency_key for e in sent}) == 1


async def test_alerts_from_other_agents_enter_the_same_flow(stack: TestStack, supervisor: Any) -> None:
    runtime = supervisor.server.app[RUNTIME]
    alert = generic_alert(new_instance_id(), alert_id=f"hunt-{uuid.uuid4()}")
    alert["source"] = "acso.threat_hunter"
    records = [{"eventID": "e-1", "eventName": "StopLogging"}]
    payload = {"alerts": [alert], "evidence": {alert["id"]: records}}
    await runtime.send_task(
        Agent.SUPERVISOR, Envelope.new(kind="alert.ingest", sender="threat_hunter", payload=payload)
    )

    async def stored() -> bool:
        count = await runtime.db.fetchval(
            "SELECT count(*) FROM alerts WHERE normalized->>'source_id' = $1", alert["id"]
        )
        return bool(count == 1)

    await wait_until(stored, timeout_s=30)
    alert_id = await runtime.db.fetchval("SELECT alert_id FROM alerts WHERE normalized->>'source_id' = $1", alert["id"])
    body = await (await supervisor.get(f"/v1/alerts/{alert_id}", headers=stack.auth("analyst"))).json()
    assert body["evidence"] == records


async def test_guardduty_findings_arrive_through_eventbridge(
    stack: TestStack, supervisor: Any, clients: AwsClientFactory
) -> None:
    import json
    from pathlib import Path

    event = json.loads(Path("tests/fixtures/alerts/guardduty_tor_ip_caller_eventbridge.json").read_text())
    finding = event["detail"]
    finding["id"] = f"gd-{uuid.uuid4().hex}"
    finding["resource"]["instanceDetails"]["instanceId"] = new_instance_id()
    events = await clients.client("events")
    response = await events.put_events(
        Entries=[
            {
                "Source": "aws.guardduty",
                "DetailType": "GuardDuty Finding",
                "Detail": json.dumps(finding),
                "EventBusName": "default",
            }
        ]
    )
    assert response["FailedEntryCount"] == 0
    runtime = supervisor.server.app[RUNTIME]

    async def stored() -> bool:
        count = await runtime.db.fetchval(
            "SELECT count(*) FROM alerts WHERE normalized->>'source_id' = $1 AND source = 'aws.guardduty'",
            finding["id"],
        )
        return bool(count == 1)

    await wait_until(stored, timeout_s=30)


async def test_new_security_findings_are_forwarded_to_the_cost_link(
    stack: TestStack, supervisor: Any, clients: AwsClientFactory
) -> None:
    alert = generic_alert(new_instance_id())
    result = (await (await supervisor.post("/v1/alerts", json=alert, headers=stack.auth("responder"))).json())[
        "results"
    ][0]
    forwarded = await wait_for_envelope(
        clients,
        queue(stack, Agent.FINANCIAL_INTELLIGENCE),
        lambda e: e.kind == "cost.findings" and any(f["id"] == result["alert_id"] for f in e.payload["findings"]),
    )
    finding = next(f for f in forwarded.payload["findings"] if f["id"] == result["alert_id"])
    assert finding["region"] == "us-east-1"
    assert finding["resource_ids"] == [alert["resources"][0]["id"]]
    assert finding["severity"] == "high"
