"""Helpers for the service-orchestration integration tests: secrets, queues, instances."""

from __future__ import annotations

import json
import uuid
from typing import Any

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.messaging.envelope import Envelope
from tests.support.stack import TestStack

SN_INBOUND_SECRET = "sn-inbound-secret-for-orchestration"


async def put_secret(clients: AwsClientFactory, value: dict[str, Any]) -> str:
    """A fresh Secrets Manager secret (unique name: the emulator is shared by the session)."""
    name = f"acso-test/integrations/orchestration-{uuid.uuid4().hex[:12]}"
    secretsmanager = await clients.client("secretsmanager")
    await secretsmanager.create_secret(Name=name, SecretString=json.dumps(value))
    return name


async def drain(clients: AwsClientFactory, queue_name: str) -> list[Envelope]:
    """Receive and delete everything visible on a queue."""
    sqs = await clients.client("sqs")
    url = (await sqs.get_queue_url(QueueName=queue_name))["QueueUrl"]
    envelopes: list[Envelope] = []
    while True:
        batch = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)).get("Messages", [])
        if not batch:
            return envelopes
        envelopes.extend(Envelope.model_validate_json(m["Body"]) for m in batch)
        entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        await sqs.delete_message_batch(QueueUrl=url, Entries=entries)


class QueueWatcher:
    """Collects envelopes from a queue across polls, so a test can wait for one of its own."""

    def __init__(self, clients: AwsClientFactory, queue_name: str) -> None:
        self._clients = clients
        self._queue = queue_name
        self.seen: list[Envelope] = []

    async def find(self, kind: str, **payload: Any) -> Envelope | None:
        self.seen.extend(await drain(self._clients, self._queue))
        for envelope in self.seen:
            if envelope.kind == kind and all(envelope.payload.get(k) == v for k, v in payload.items()):
                return envelope
        return None


async def run_tagged_instances(clients: AwsClientFactory, count: int, tags: dict[str, str]) -> list[str]:
    """Start `count` instances in the emulator carrying `tags`."""
    ec2 = await clients.client("ec2")
    response = await ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=count,
        MaxCount=count,
        InstanceType="t3.micro",
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]},
        ],
    )
    return sorted(i["InstanceId"] for i in response["Instances"])


def clients_for(stack: TestStack) -> AwsClientFactory:
    return AwsClientFactory(stack.aws_settings())
