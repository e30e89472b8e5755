"""AWS Config compliance of an incident's resources, on the incident (issue #5).

moto has no compliance queries, so Config is the one AWS API these tests serve from a fake that
speaks its wire protocol (tests/fakes/aws_config.py); everything else is the emulator.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from acso_incident_response.app import create_app
from acso_incident_response.keys import INCIDENTS
from acso_incident_response.settings import Settings
from acso_shared.alerts.models import (
    Observable,
    ObservableType,
    Resource,
    ResourceType,
    SeverityLabel,
)
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.web.keys import RUNTIME
from tests.fakes.aws_config import FakeAwsConfig, start_aws_config
from tests.integration.incident_response.ir_support import guardduty_alert, response_request
from tests.support.apps import running
from tests.support.stack import TestStack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

EC2 = "AWS::EC2::Instance"


@pytest.fixture
async def config() -> AsyncIterator[FakeAwsConfig]:
    async with start_aws_config() as fake:
        yield fake


def _instance_id() -> str:
    return f"i-0{uuid.uuid4().hex[:16]}"


def _request(instance_id: str) -> Envelope:
    """A benign verdict (no actions) on a finding about the instance: only the incident's own resources."""
    alert = guardduty_alert(
        "Recon:EC2/Portscan",
        [Resource(type=ResourceType.EC2_INSTANCE, id=instance_id)],
        [Observable(type=ObservableType.INSTANCE_ID, value=instance_id, name="resource.id")],
        severity=SeverityLabel.LOW,
    )
    return response_request(alert, verdict="benign")


async def _open_incident(app: Any, client: Any, stack: TestStack, instance_id: str) -> dict[str, Any]:
    envelope = _request(instance_id)
    await app[RUNTIME].send_task(Agent.INCIDENT_RESPONSE, envelope)
    path = f"/v1/incidents/{envelope.payload['incident_id']}"

    async def opened() -> bool:
        return bool((await client.get(path, headers=stack.auth("analyst"))).status == 200)

    await wait_until(opened, timeout_s=60, interval_s=0.2)
    response = await client.get(path, headers=stack.auth("analyst"))
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_the_incident_shows_every_config_rule_evaluated_against_its_instance(
    stack: TestStack, config: FakeAwsConfig
) -> None:
    instance_id = _instance_id()
    config.evaluate(EC2, instance_id, "ec2-imdsv2-check", "COMPLIANT")
    config.evaluate(EC2, instance_id, "restricted-ssh", "NON_COMPLIANT", "port 22 open to 0.0.0.0/0")
    config.evaluate(EC2, instance_id, "encrypted-volumes", "COMPLIANT")  # a third result: a second page
    settings = stack.service_settings(Settings, aws_service_endpoints={"config": config.url})
    app = create_app(settings)
    async with running(app) as client:
        incident = await _open_incident(app, client, stack, instance_id)
        calls = len(config.requests)
        again = await (await client.get(f"/v1/incidents/{incident['id']}", headers=stack.auth("analyst"))).json()

    assert incident["compliance"] == again["compliance"]
    [verdict] = incident["compliance"]
    assert (verdict["resource_type"], verdict["resource_id"], verdict["state"]) == (EC2, instance_id, "non_compliant")
    assert [(r["rule"], r["compliance"]) for r in verdict["rules"]] == [
        ("restricted-ssh", "NON_COMPLIANT"),  # failures first, then by rule name
        ("ec2-imdsv2-check", "COMPLIANT"),
        ("encrypted-volumes", "COMPLIANT"),
    ]
    assert verdict["rules"][0]["annotation"] == "port 22 open to 0.0.0.0/0"
    assert not config.rejected, config.rejected  # every call was SigV4-signed for `config`
    asked = [r for r in config.requests if r.get("ResourceId") == instance_id]
    assert [r.get("NextToken") for r in asked] == [None, "2"]  # both pages read, once: the verdict is cached
    assert len(config.requests) == calls


async def test_config_failing_leaves_the_incident_readable_with_the_reason(
    stack: TestStack, config: FakeAwsConfig
) -> None:
    config.credentials = {"some-other-key": "x"}  # Config refuses the service's credentials
    clock = [0.0]
    settings = stack.service_settings(Settings, aws_service_endpoints={"config": config.url})
    app = create_app(settings)
    # The unknown verdict is kept for a while (a failing Config must not slow every read)...
    app[INCIDENTS]._compliance._clock = lambda: clock[0]
    async with running(app) as client:
        incident = await _open_incident(app, client, stack, _instance_id())
        path = f"/v1/incidents/{incident['id']}"
        asked = len(config.requests) + len(config.rejected)
        config.credentials = {"testing": "testing"}
        config.evaluate(EC2, incident["compliance"][0]["resource_id"], "restricted-ssh", "COMPLIANT")
        cached = await (await client.get(path, headers=stack.auth("analyst"))).json()
        assert len(config.requests) + len(config.rejected) == asked
        # ...and read again once it is older than config_compliance_unknown_cache_s.
        clock[0] += settings.config_compliance_unknown_cache_s + 1
        fixed = await (await client.get(path, headers=stack.auth("analyst"))).json()

    [verdict] = incident["compliance"]
    assert verdict["state"] == "unknown"
    assert verdict["reason"] == "config_error:UnrecognizedClientException"
    assert cached["compliance"] == incident["compliance"]
    assert fixed["compliance"][0]["state"] == "compliant"


async def test_compliance_can_be_turned_off(stack: TestStack, config: FakeAwsConfig) -> None:
    settings = stack.service_settings(
        Settings, aws_service_endpoints={"config": config.url}, config_compliance_enabled=False
    )
    app = create_app(settings)
    async with running(app) as client:
        incident = await _open_incident(app, client, stack, _instance_id())

    assert [(c["state"], c["reason"]) for c in incident["compliance"]] == [("unknown", "config_disabled")]
    assert config.requests == []
