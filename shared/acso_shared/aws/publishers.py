"""Publishing: SNS notifications and EventBridge lifecycle events (`source: acso`)."""

from __future__ import annotations

import json
from typing import Any

from acso_shared.aws.clients import AwsClientFactory, translate_aws_error
from acso_shared.errors import Upstream

EVENT_SOURCE = "acso"


class SnsPublisher:
    def __init__(self, clients: AwsClientFactory, topic_arn: str) -> None:
        self._clients = clients
        self._topic_arn = topic_arn

    async def publish(self, subject: str, message: dict[str, Any], *, attributes: dict[str, str] | None = None) -> str:
        client = await self._clients.client("sns")
        kwargs: dict[str, Any] = {
            "TopicArn": self._topic_arn,
            # SNS subjects are ASCII, at most 100 characters, no line breaks.
            "Subject": subject.encode("ascii", "replace").decode()[:100].replace("\n", " "),
            "Message": json.dumps(message, default=str),
        }
        if attributes:
            kwargs["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        try:
            response = await client.publish(**kwargs)
        except Exception as err:
            raise translate_aws_error(err, "sns:Publish") from err
        return str(response["MessageId"])


class EventPublisher:
    """EventBridge `PutEvents` on the ACSO bus; detail-types are documented in the README."""

    def __init__(self, clients: AwsClientFactory, bus_name: str) -> None:
        self._clients = clients
        self._bus = bus_name

    async def put(self, detail_type: str, detail: dict[str, Any], *, resources: list[str] | None = None) -> str:
        client = await self._clients.client("events")
        entry = {
            "Source": EVENT_SOURCE,
            "DetailType": detail_type,
            "Detail": json.dumps(detail, default=str),
            "EventBusName": self._bus,
            "Resources": resources or [],
        }
        try:
            response = await client.put_events(Entries=[entry])
        except Exception as err:
            raise translate_aws_error(err, "events:PutEvents") from err
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            raise Upstream("eventbridge_rejected", f"{failure.get('ErrorCode')}: {failure.get('ErrorMessage')}")
        return str(response["Entries"][0].get("EventId", ""))
