"""`acso demo`: the README walkthrough on a running local system, from its own alert fixtures.

The fixtures (`tests/fixtures/alerts/`) name instances, security groups, access keys and a
bucket that a fresh emulator does not have. moto draws EC2 instance, security-group and
access-key ids at random and has no way to choose them, so the demo creates each resource the
fixtures name (tagged `acso:demo=<fixture id>`, found again by that tag on a later run), prints
which emulated id stands for which fixture id, and sends each alert with the fixture ids replaced
by the emulated ones, through `POST /v1/alerts` with a responder's token, as a SIEM would. Names
that the API lets us choose (the bucket, the IAM users, the security-group names) are kept.
Everything else in a fixture is sent as written.

It then waits for the crypto-mining incident's stop action to ask for approval, and prints the
approval to grant: the walkthrough's next step.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from botocore.exceptions import ClientError

from acso_shared.aws.clients import AwsClientFactory, error_code
from acso_shared.settings import REPO_ROOT

FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures" / "alerts"
DEMO_TAG = "acso:demo"


@dataclass(frozen=True)
class FixtureInstance:
    """An EC2 instance a fixture names, with the security group it names for it."""

    instance_id: str
    name: str
    group_id: str
    group_name: str
    subnet_ids: tuple[str, ...]
    interface_ids: tuple[str, ...]


# What tests/fixtures/alerts/*.json name (their README lists the JSON paths).
VPC_ID = "vpc-0123abcd4567ef890"
INSTANCES = (
    FixtureInstance(
        "i-0123456789abcdef0",
        "web-frontend-1",
        "sg-0f1e2d3c4b5a69788",
        "acso-local-web",
        ("subnet-0abc1234def567890",),
        ("eni-0a1b2c3d4e5f67890",),
    ),
    FixtureInstance(
        "i-0fedcba9876543210",
        "batch-worker-7",
        "sg-0a9b8c7d6e5f43210",
        "acso-local-batch",
        ("subnet-0fedcba9876543210",),
        ("eni-0123456789abcdef1",),
    ),
)
ACCESS_KEYS = {"AKIAIOSFODNN7EXAMPLE": "svc-deploy", "AKIAI44QH8DHBEXAMPLE": "ops-admin"}
BUCKETS = ("acso-local-customer-exports",)
# One alert per scenario of the walkthrough; the crypto-mining one first (its stop needs approval).
CRYPTO_MINING = "guardduty_bitcoin_tool_dns.json"
ALERTS = (
    CRYPTO_MINING,
    "guardduty_tor_ip_caller.json",
    "generic_alert.json",
    "guardduty_instance_credential_exfiltration.json",
    "guardduty_s3_block_public_access_disabled.json",
)


@dataclass
class DemoReport:
    """What the demo created and sent; `--json` prints it."""

    ids: dict[str, str] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    approval: dict[str, Any] | None = None
    waited_s: float = 0.0

    def to_json(self) -> str:
        return json.dumps(
            {"ids": self.ids, "alerts": self.alerts, "approval": self.approval, "waited_s": round(self.waited_s, 1)},
            indent=2,
        )


def substitute(text: str, ids: Mapping[str, str]) -> str:
    """Replace each fixture id by its emulated id wherever it stands alone (titles included)."""
    if not ids:
        return text
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(k) for k in sorted(ids, key=len, reverse=True)) + r")(?!\w)"
    )
    return pattern.sub(lambda m: ids[m.group(1)], text)


class DemoSeeder:
    """Creates, or finds from an earlier run, every resource the fixtures name."""

    def __init__(self, clients: AwsClientFactory) -> None:
        self._clients = clients

    async def seed(self) -> dict[str, str]:
        ids: dict[str, str] = {}
        ec2 = await self._clients.client("ec2")
        vpc = (await ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}]))["Vpcs"][0]
        ids[VPC_ID] = vpc["VpcId"]
        image = (await ec2.describe_images(Owners=["amazon"]))["Images"][0]["ImageId"]
        for spec in INSTANCES:
            group_id = await self._security_group(spec, vpc["VpcId"])
            instance = await self._instance(spec, image, group_id)
            ids[spec.instance_id] = instance["InstanceId"]
            ids[spec.group_id] = group_id
            for fixture_subnet in spec.subnet_ids:
                ids[fixture_subnet] = instance["SubnetId"]
            interfaces = instance.get("NetworkInterfaces") or []
            for fixture_eni in spec.interface_ids:
                if interfaces:
                    ids[fixture_eni] = interfaces[0]["NetworkInterfaceId"]
        for fixture_key, user in ACCESS_KEYS.items():
            ids[fixture_key] = await self._access_key(user)
        for bucket in BUCKETS:
            await self._bucket(bucket)
        return ids

    async def _security_group(self, spec: FixtureInstance, vpc_id: str) -> str:
        ec2 = await self._clients.client("ec2")
        found = await ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [spec.group_name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
        )
        if found["SecurityGroups"]:
            return str(found["SecurityGroups"][0]["GroupId"])
        created = await ec2.create_security_group(
            GroupName=spec.group_name, Description=f"ACSO demo: {spec.name}", VpcId=vpc_id
        )
        group_id = str(created["GroupId"])
        await ec2.authorize_security_group_ingress(
            GroupId=group_id,
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        )
        return group_id

    async def _instance(self, spec: FixtureInstance, image: str, group_id: str) -> dict[str, Any]:
        ec2 = await self._clients.client("ec2")
        reservations = (
            await ec2.describe_instances(
                Filters=[
                    {"Name": f"tag:{DEMO_TAG}", "Values": [spec.instance_id]},
                    {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
                ]
            )
        )["Reservations"]
        if reservations:
            existing: dict[str, Any] = reservations[0]["Instances"][0]
            return existing
        tags = [{"Key": "Name", "Value": spec.name}, {"Key": DEMO_TAG, "Value": spec.instance_id}]
        created = await ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.medium",
            SecurityGroupIds=[group_id],
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
        )
        instance: dict[str, Any] = created["Instances"][0]
        return instance

    async def _access_key(self, user: str) -> str:
        iam = await self._clients.client("iam")
        try:
            await iam.create_user(UserName=user, Tags=[{"Key": DEMO_TAG, "Value": user}])
        except ClientError as err:
            if error_code(err) != "EntityAlreadyExists":
                raise
        keys = (await iam.list_access_keys(UserName=user))["AccessKeyMetadata"]
        if keys:
            return str(keys[0]["AccessKeyId"])
        return str((await iam.create_access_key(UserName=user))["AccessKey"]["AccessKeyId"])

    async def _bucket(self, name: str) -> None:
        s3 = await self._clients.client("s3")
        try:
            await s3.create_bucket(Bucket=name)
        except ClientError as err:
            if error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        await s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": DEMO_TAG, "Value": name}]})
        await s3.put_object(Bucket=name, Key="exports/customers-2026-11.csv", Body=b"id,email\n1,a@example.com\n")


async def send_alerts(
    http: aiohttp.ClientSession, supervisor_url: str, token: str, ids: Mapping[str, str], fixtures: Path
) -> list[dict[str, Any]]:
    """POST each alert fixture, ids substituted; one result per file."""
    sent = []
    for name in ALERTS:
        body = substitute((fixtures / name).read_text(), ids)
        async with http.post(
            f"{supervisor_url}/v1/alerts",
            data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        ) as response:
            answer = await response.json(content_type=None)
        if response.status != 202:
            raise RuntimeError(f"{name}: POST /v1/alerts answered {response.status}: {answer}")
        result = answer["results"][0]
        sent.append({"file": name, "outcome": result.get("outcome"), "incident_id": result.get("incident_id")})
    return sent


async def wait_for_approval(
    http: aiohttp.ClientSession, incident_response_url: str, token: str, incident_id: str, timeout_s: float
) -> dict[str, Any] | None:
    """The incident's first pending approval, once there is one (None after `timeout_s`)."""
    deadline = time.monotonic() + timeout_s
    headers = {"Authorization": f"Bearer {token}"}
    while True:
        async with http.get(f"{incident_response_url}/v1/incidents/{incident_id}", headers=headers) as response:
            incident = await response.json(content_type=None) if response.status == 200 else None
        for approval in (incident or {}).get("approvals", []):
            if approval.get("status") == "pending":
                return {
                    "id": approval["id"],
                    "incident_id": incident_id,
                    "action_id": approval.get("action_id"),
                    "action_type": approval.get("action_type"),
                    "target": approval.get("target"),
                }
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.5)


async def run_demo(
    clients: AwsClientFactory,
    *,
    supervisor_url: str,
    incident_response_url: str,
    token: str,
    fixtures: Path = FIXTURES_DIR,
    wait_s: float = 90.0,
) -> DemoReport:
    report = DemoReport()
    report.ids = await DemoSeeder(clients).seed()
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        report.alerts = await send_alerts(http, supervisor_url, token, report.ids, fixtures)
        crypto = next(a for a in report.alerts if a["file"] == CRYPTO_MINING)
        if wait_s > 0 and crypto["incident_id"]:
            report.approval = await wait_for_approval(http, incident_response_url, token, crypto["incident_id"], wait_s)
    report.waited_s = time.monotonic() - started
    return report


def describe(report: DemoReport, incident_response_url: str) -> str:
    """The demo's output for a person: the ids it stands in, what each alert did, the next step."""
    lines = ["Seeded in the emulator (fixture id -> emulated id):"]
    lines += [f"  {fixture:<26} -> {emulated}" for fixture, emulated in report.ids.items() if fixture != emulated]
    lines += ["", "Alerts sent (POST /v1/alerts, fixture ids replaced):"]
    lines += [f"  {a['file']:<50} {a['outcome']:<14} incident {a['incident_id']}" for a in report.alerts]
    lines.append("")
    if report.approval is None:
        lines.append("No approval is pending yet for the crypto-mining incident; look at it with:")
        crypto = next(a for a in report.alerts if a["file"] == CRYPTO_MINING)
        lines.append(
            f'  curl -s -H "Authorization: Bearer $TOKEN" {incident_response_url}/v1/incidents/{crypto["incident_id"]}'
        )
        return "\n".join(lines)
    approval = report.approval
    lines += [
        f"The crypto-mining incident {approval['incident_id']} waits for approval of "
        f"{approval['action_type']} on {approval['target']}:",
        "  TOKEN=$(make -s token ROLE=responder)",
        '  curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\',
        f'       -d \'{{"decision": "approve", "comment": "confirmed miner"}}\' '
        f"{incident_response_url}/v1/approvals/{approval['id']}",
        f'  curl -s -H "Authorization: Bearer $TOKEN" {incident_response_url}/v1/incidents/{approval["incident_id"]}',
    ]
    return "\n".join(lines)
