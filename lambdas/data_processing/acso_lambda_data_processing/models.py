"""The trigger shapes: EventBridge `Object Created`, S3 event notifications, and either one as the
body of an SQS message. Parsed with Powertools' typed event classes."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent

from acso_lambda_data_processing.service import ObjectRef
from acso_shared.errors import Invalid


def is_eventbridge_object_created(event: dict[str, Any]) -> bool:
    return event.get("source") == "aws.s3" and event.get("detail-type") == "Object Created"


def is_s3_notification(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:s3" for r in records)
    )


def is_sqs_batch(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def objects_in(event: dict[str, Any]) -> list[ObjectRef]:
    """The objects an EventBridge or S3 notification event names; S3's test event names none."""
    if is_eventbridge_object_created(event):
        detail = S3EventBridgeNotificationEvent(event).detail
        # `version-id` is only present for versioned buckets; the typed accessor assumes it is there.
        version = detail.object.raw_event.get("version-id")
        return [ObjectRef.from_notification(detail.bucket.name, detail.object.key, version, detail.object.etag)]
    if is_s3_notification(event):
        return [
            ObjectRef.from_notification(
                r.s3.bucket.name, r.s3.get_object.key, r.s3.get_object.version_id, r.s3.get_object.etag
            )
            for r in S3Event(event).records
            if r.event_name.startswith("ObjectCreated:")
        ]
    if event.get("Event") == "s3:TestEvent":
        return []
    raise Invalid("event_unsupported", "the event is neither an S3 notification nor an Object Created event")


def objects_in_body(body: str) -> list[ObjectRef]:
    """The objects named by one SQS message body (an S3 notification or an EventBridge event)."""
    try:
        document = json.loads(body)
    except ValueError as err:
        raise Invalid("event_unsupported", "the SQS message body is not JSON") from err
    if not isinstance(document, dict):
        raise Invalid("event_unsupported", "the SQS message body is not a JSON object")
    return objects_in(document)
