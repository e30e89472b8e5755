"""What the end-to-end flows share: alert fixtures, emulated resources, and a small API client."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from acso_shared.aws.clients import AwsClientFactory
from tests.support.ids import unique_finding_id, unique_public_ip
from tests.support.stack import RunningSystem, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "alerts"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


async def run_instance(aws: AwsClientFactory, tags: dict[str, str] | None = None) -> str:
    ec2 = await aws.client("ec2")
    image = (await ec2.describe_images(Owners=["amazon"]))["Images"][0]["ImageId"]
    spec: dict[str, Any] = {"ImageId": image, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro"}
    if tags:
        spec["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    return str((await ec2.run_instances(**spec))["Instances"][0]["InstanceId"])


async def instance_state(aws: AwsClientFactory, instance_id: str) -> dict[str, Any]:
    ec2 = await aws.client("ec2")
    reservations = (await ec2.describe_instances(InstanceIds=[instance_id]))["Reservations"]
    instance: dict[str, Any] = reservations[0]["Instances"][0]
    return instance


async def volume_count(aws: AwsClientFactory, instance_id: str) -> int:
    mappings = (await instance_state(aws, instance_id)).get("BlockDeviceMappings", [])
    return sum(1 for m in mappings if "Ebs" in m)


def tor_finding(instance_id: str) -> dict[str, Any]:
    finding = fixture("guardduty_tor_ip_caller.json")
    finding["id"] = unique_finding_id()
    finding["resource"]["instanceDetails"]["instanceId"] = instance_id
    finding["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]["ipAddressV4"] = unique_public_ip()
    # The instance's own public address is an observable too: make it unique, or every test's
    # finding would correlate into one incident through it.
    for interface in finding["resource"]["instanceDetails"]["networkInterfaces"]:
        interface["publicIp"] = unique_public_ip()
    return finding


class Api:
    def __init__(self, system: RunningSystem, http: aiohttp.ClientSession) -> None:
        self.system = system
        self.http = http

    async def call(
        self, method: str, agent: str, path: str, role: str = "responder", body: Any = None
    ) -> tuple[int, Any]:
        url = f"{self.system.url(agent)}{path}"
        async with self.http.request(method, url, json=body, headers=self.system.auth(role)) as response:
            return response.status, await response.json(content_type=None)

    async def send_alert(self, alert: dict[str, Any]) -> dict[str, Any]:
        status, body = await self.call("POST", "supervisor", "/v1/alerts", body=alert)
        assert status == 202, body
        result: dict[str, Any] = body["results"][0]
        return result

    async def incident(self, incident_id: str) -> dict[str, Any] | None:
        status, body = await self.call("GET", "incident_response", f"/v1/incidents/{incident_id}", role="analyst")
        return body if status == 200 else None

    async def wait_incident(
        self, incident_id: str, condition: Callable[[dict[str, Any]], bool], timeout_s: float = 90
    ) -> dict[str, Any]:
        last: list[dict[str, Any] | None] = [None]

        async def ready() -> dict[str, Any] | None:
            last[0] = incident = await self.incident(incident_id)
            return incident if incident is not None and condition(incident) else None

        try:
            result: dict[str, Any] = await wait_until(ready, timeout_s=timeout_s, interval_s=0.5)
        except TimeoutError as err:
            raise AssertionError(f"incident {incident_id} never met the condition; last seen: {last[0]!r}") from err
        return result


def actions_of(incident: dict[str, Any], action_type: str) -> list[dict[str, Any]]:
    return [a for a in incident["actions"] if a["action_type"] == action_type]


def settled(incident: dict[str, Any]) -> bool:
    """Every planned action has reached a final or waiting state."""
    waiting = {"planned", "running", "scheduled", "pending"}
    return bool(incident["actions"]) and not any(a["status"] in waiting for a in incident["actions"])
