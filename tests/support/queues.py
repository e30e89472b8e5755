"""Reading a service's queue from a test, the way an agent would, to check what was sent."""

from __future__ import annotations

import time
from typing import Any

from acso_shared.aws.clients import AwsClientFactory
from acso_shared.messaging.envelope import Envelope


async def drain(clients: AwsClientFactory, queue_name: str) -> list[Envelope]:
    """Receive and delete everything currently in a queue."""
    sqs = await clients.client("sqs")
    url = (await sqs.get_queue_url(QueueName=queue_name))["QueueUrl"]
    envelopes: list[Envelope] = []
    while True:
        batch = (await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)).get("Messages", [])
        if not batch:
            return envelopes
        await sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
        )
        envelopes.extend(Envelope.model_validate_json(m["Body"]) for m in batch)


async def wait_for_envelope(
    clients: AwsClientFactory, queue_name: str, predicate: Any, *, timeout_s: float = 30.0
) -> Envelope:
    """Receive from a queue until an envelope matches; others are deleted (the test owns the queue)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for envelope in await drain(clients, queue_name):
            if predicate(envelope):
                return envelope
        sqs = await clients.client("sqs")
        url = (await sqs.get_queue_url(QueueName=queue_name))["QueueUrl"]
        await sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=1, VisibilityTimeout=0)
    raise TimeoutError(f"no matching message on {queue_name} within {timeout_s}s")
