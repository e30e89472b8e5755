"""Shared helpers of the reasoning-wiring specs: the fake Bedrock, services in-process, SQS round trips."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from acso_shared.alerts import normalize_payload
from acso_shared.alerts.models import NormalizedAlert
from acso_shared.contracts import TRIAGE_REQUEST, TriageRequest
from acso_shared.llm.outputs import Hypothesis, InvestigationNarrative
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime
from acso_shared.web.keys import RUNTIME
from acso_threat_hunter.app import create_app as create_hunter
from acso_threat_hunter.settings import Settings as HunterSettings
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

FIXTURES = Path(__file__).parents[2] / "fixtures"
GENERIC = json.loads((FIXTURES / "alerts" / "generic_alert.json").read_text())
CORPUS = json.loads((Path(__file__).parents[2] / "unit" / "llm" / "injection_corpus.json").read_text())
ALERT_INSTANCE = "i-0a1b2c3d4e5f60789"
ALERT_USER_ARN = "arn:aws:iam::111122223333:user/build-bot"


def bedrock(fake_url: str, **overrides: Any) -> dict[str, Any]:
    """Service settings overrides pointing the reasoning layer at the fake Converse server."""
    return {"llm_provider": "bedrock", "bedrock_endpoint_url": fake_url, **overrides}


def alert(description: str, **changes: Any) -> NormalizedAlert:
    """A generic alert naming the corpus's instance and IAM user, with `description` as its text."""
    payload = {
        **GENERIC,
        "id": f"reasoning-{uuid.uuid4()}",
        "title": "SSH brute force against a build host",
        "description": description,
        "type": "UnauthorizedAccess:EC2/SSHBruteForce",
        "resources": [
            {"type": "ec2_instance", "id": ALERT_INSTANCE},
            {"type": "iam_user", "id": "build-bot", "arn": ALERT_USER_ARN},
        ],
        "observables": [{"type": "ip", "value": "198.51.100.23"}],
        **changes,
    }
    return normalize_payload(payload)[0]


def narrative_json(confidence: float = 0.9, narrative: str = "The source IP guessed SSH passwords.") -> str:
    return InvestigationNarrative(
        narrative=narrative,
        hypotheses=[Hypothesis(statement="A password was guessed", check_with_tool="cloudtrail_lookup")],
        confidence=confidence,
    ).model_dump_json()


@asynccontextmanager
async def hunter(stack: TestStack, **overrides: Any) -> AsyncIterator[tuple[web.Application, AgentRuntime]]:
    """The threat hunter running in-process (runtime, consumers and all); yields its app and runtime."""
    app: web.Application = create_hunter(stack.service_settings(HunterSettings, **overrides))
    async with running(app):
        yield app, app[RUNTIME]


async def drain(runtime: AgentRuntime, queue: str, keep: Callable[[Envelope], bool]) -> list[Envelope]:
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


def triage_envelope(alert_: NormalizedAlert, *, workflow_id: str | None = None) -> Envelope:
    request = TriageRequest(incident_id=str(uuid.uuid4()), alert=alert_)
    workflow = workflow_id or str(uuid.uuid4())
    return Envelope.new(
        kind=TRIAGE_REQUEST,
        sender="supervisor",
        payload=request.model_dump(mode="json"),
        workflow_id=workflow,
        idempotency_key=f"{workflow}:triage",
    )


async def triage_results(runtime: AgentRuntime, envelopes: list[Envelope], timeout_s: float = 60) -> dict[str, Any]:
    """Send triage requests to the threat hunter and wait for each result, by workflow id."""
    for envelope in envelopes:
        await runtime.send_task(Agent.THREAT_HUNTER, envelope)
    wanted = {str(e.workflow_id) for e in envelopes}
    results: dict[str, Any] = {}

    async def arrived() -> bool:
        got = await drain(runtime, runtime.manifest.results_queue.name, lambda e: str(e.workflow_id) in wanted)
        results.update({str(e.workflow_id): e.payload for e in got if e.kind == "triage.result"})
        return wanted <= set(results)

    await wait_until(arrived, timeout_s=timeout_s)
    return results


async def triage(runtime: AgentRuntime, alert_: NormalizedAlert) -> dict[str, Any]:
    envelope = triage_envelope(alert_)
    return dict((await triage_results(runtime, [envelope]))[str(envelope.workflow_id)])
