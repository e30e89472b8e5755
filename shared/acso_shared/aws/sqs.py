"""SQS: send (single and batched), receive, delete, visibility, queue depth."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from acso_shared.aws.clients import AwsClientFactory, translate_aws_error
from acso_shared.errors import Upstream

SQS_BATCH_MAX = 10


@dataclass(frozen=True)
class ReceivedMessage:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    attributes: dict[str, str]


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


class SqsClient:
    """Typed SQS operations; queue URLs resolved once by name and cached."""

    def __init__(self, clients: AwsClientFactory) -> None:
        self._clients = clients
        self._urls: dict[str, str] = {}
        self._lock = asyncio.Lock()

    async def queue_url(self, queue_name: str) -> str:
        url = self._urls.get(queue_name)
        if url:
            return url
        client = await self._clients.client("sqs")
        try:
            response = await client.get_queue_url(QueueName=queue_name)
        except Exception as err:
            raise translate_aws_error(err, f"sqs:GetQueueUrl {queue_name}") from err
        url = str(response["QueueUrl"])
        self._urls[queue_name] = url
        return url

    async def send(self, queue_name: str, body: str, *, attributes: dict[str, str] | None = None) -> str:
        client = await self._clients.client("sqs")
        kwargs: dict[str, Any] = {"QueueUrl": await self.queue_url(queue_name), "MessageBody": body}
        if attributes:
            kwargs["MessageAttributes"] = _string_attributes(attributes)
        try:
            response = await client.send_message(**kwargs)
        except Exception as err:
            raise translate_aws_error(err, f"sqs:SendMessage {queue_name}") from err
        return str(response["MessageId"])

    async def send_batch(self, queue_name: str, entries: list[tuple[str, dict[str, str] | None]]) -> list[str]:
        """Send bodies in batches of ten; raise if any entry fails after the batch call."""
        client = await self._clients.client("sqs")
        url = await self.queue_url(queue_name)
        message_ids: list[str] = []
        for start in range(0, len(entries), SQS_BATCH_MAX):
            chunk = entries[start : start + SQS_BATCH_MAX]
            batch = []
            for index, (body, attributes) in enumerate(chunk):
                entry: dict[str, Any] = {"Id": str(index), "MessageBody": body}
                if attributes:
                    entry["MessageAttributes"] = _string_attributes(attributes)
                batch.append(entry)
            try:
                response = await client.send_message_batch(QueueUrl=url, Entries=batch)
            except Exception as err:
                raise translate_aws_error(err, f"sqs:SendMessageBatch {queue_name}") from err
            failed = response.get("Failed") or []
            if failed:
                raise Upstream("sqs_send_failed", f"{len(failed)} of {len(chunk)} messages to {queue_name} failed")
            by_id = {item["Id"]: item["MessageId"] for item in response.get("Successful", [])}
            message_ids.extend(by_id[str(i)] for i in range(len(chunk)))
        return message_ids

    async def receive(
        self,
        queue_name: str,
        *,
        max_messages: int = SQS_BATCH_MAX,
        wait_time_s: int = 20,
        visibility_timeout_s: int | None = None,
    ) -> list[ReceivedMessage]:
        client = await self._clients.client("sqs")
        kwargs: dict[str, Any] = {
            "QueueUrl": await self.queue_url(queue_name),
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": wait_time_s,
            "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp", "AWSTraceHeader"],
            "MessageAttributeNames": ["All"],
        }
        if visibility_timeout_s is not None:
            kwargs["VisibilityTimeout"] = visibility_timeout_s
        try:
            response = await client.receive_message(**kwargs)
        except Exception as err:
            raise translate_aws_error(err, f"sqs:ReceiveMessage {queue_name}") from err
        messages = []
        for raw in response.get("Messages", []):
            attributes = {k: v.get("StringValue", "") for k, v in (raw.get("MessageAttributes") or {}).items()}
            system = raw.get("Attributes") or {}
            messages.append(
                ReceivedMessage(
                    message_id=raw["MessageId"],
                    receipt_handle=raw["ReceiptHandle"],
                    body=raw["Body"],
                    receive_count=int(system.get("ApproximateReceiveCount", "1")),
                    attributes=attributes,
                )
            )
        return messages

    async def delete_batch(self, queue_name: str, receipt_handles: list[str]) -> None:
        client = await self._clients.client("sqs")
        url = await self.queue_url(queue_name)
        for start in range(0, len(receipt_handles), SQS_BATCH_MAX):
            chunk = receipt_handles[start : start + SQS_BATCH_MAX]
            entries = [{"Id": str(i), "ReceiptHandle": handle} for i, handle in enumerate(chunk)]
            try:
                await client.delete_message_batch(QueueUrl=url, Entries=entries)
            except Exception as err:
                raise translate_aws_error(err, f"sqs:DeleteMessageBatch {queue_name}") from err

    async def change_visibility(self, queue_name: str, receipt_handle: str, timeout_s: int) -> None:
        client = await self._clients.client("sqs")
        try:
            await client.change_message_visibility(
                QueueUrl=await self.queue_url(queue_name), ReceiptHandle=receipt_handle, VisibilityTimeout=timeout_s
            )
        except Exception as err:
            raise translate_aws_error(err, f"sqs:ChangeMessageVisibility {queue_name}") from err

    async def depth(self, queue_name: str) -> QueueDepth:
        client = await self._clients.client("sqs")
        try:
            response = await client.get_queue_attributes(
                QueueUrl=await self.queue_url(queue_name),
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )
        except Exception as err:
            raise translate_aws_error(err, f"sqs:GetQueueAttributes {queue_name}") from err
        attrs = response.get("Attributes", {})
        return QueueDepth(
            visible=int(attrs.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
        )


def _string_attributes(attributes: dict[str, str]) -> dict[str, dict[str, str]]:
    return {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v}


def redrive_policy(dlq_arn: str, max_receive_count: int) -> str:
    return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
