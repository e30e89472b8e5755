"""The data-processing Lambda: CloudTrail and flow log objects in the emulator's S3, hits as
`alert.ingest` envelopes on SQS that the supervisor's alert schema accepts."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from acso_lambda_data_processing import handler as dp_handler
from acso_lambda_data_processing.models import objects_in
from acso_lambda_data_processing.service import INGEST_KIND, ObjectProcessor, ObjectRef, load_rules
from acso_lambda_data_processing.settings import DataProcessingSettings
from acso_shared.alerts import normalize_payload
from acso_shared.messaging.envelope import Envelope
from tests.fixtures.cloudtrail.samples import SCENARIOS
from tests.support.stack import TestStack

pytestmark = pytest.mark.integration

FLOW_LOG = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status\n"
    "2 111122223333 eni-0a1b2c3d 198.51.100.7 10.0.1.15 49152 22 6 10 840 1793527200 1793527260 ACCEPT OK\n"
    "2 111122223333 eni-0a1b2c3d 10.0.2.8 10.0.1.15 49153 22 6 10 840 1793527200 1793527260 ACCEPT OK\n"
    "2 111122223333 eni-0a1b2c3d 198.51.100.9 10.0.1.15 49154 3389 6 1 40 1793527200 1793527260 REJECT OK\n"
)


def client(stack: TestStack, name: str) -> Any:
    return boto3.client(name, endpoint_url=stack.emulator_url, region_name="us-east-1")


def cloudtrail_object(*rule_files: str, benign: bool = True) -> bytes:
    records: list[dict[str, Any]] = []
    for name in rule_files:
        attack, harmless = SCENARIOS[name]
        records += attack + (harmless if benign else [])
    return gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)


def object_created(bucket: str, key: str, etag: str = "") -> dict[str, Any]:
    """An S3 `Object Created` event as EventBridge delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": "2026-11-20T09:05:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": 1024, "etag": etag, "sequencer": "0062E99A88DC407460"},
            "request-id": "57H08PA84AB1JZW0",
            "requester": "cloudtrail.amazonaws.com",
            "source-ip-address": "203.0.113.15",
            "reason": "PutObject",
        },
    }


def s3_notification(bucket: str, key: str) -> dict[str, Any]:
    """An S3 event notification (as S3 sends it to SQS or Lambda)."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventTime": "2026-11-20T09:05:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
                "requestParameters": {"sourceIPAddress": "203.0.113.15"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "cloudtrail-logs",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": key.replace(" ", "+"),
                        "size": 1024,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def sqs_batch(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"msg-{i}-{uuid.uuid4().hex[:6]}",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1793527200000",
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": "1793527200001",
                },
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:acso-test-log-objects",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


@pytest.fixture
def bucket(stack: TestStack) -> str:
    name = f"acso-test-logs-{uuid.uuid4().hex[:10]}"
    client(stack, "s3").create_bucket(Bucket=name)
    return name


@pytest.fixture
def queue(stack: TestStack) -> Iterator[str]:
    """A queue of this test's own, standing in for the supervisor's task queue."""
    name = f"acso-test-ingest-{uuid.uuid4().hex[:10]}"
    client(stack, "sqs").create_queue(QueueName=name)
    yield name
    sqs = client(stack, "sqs")
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])


def processor_for(stack: TestStack, queue: str, **options: Any) -> ObjectProcessor:
    return ObjectProcessor(client(stack, "s3"), client(stack, "sqs"), load_rules(), queue, **options)


def drain(stack: TestStack, queue: str) -> list[Envelope]:
    sqs = client(stack, "sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    envelopes: list[Envelope] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not batch:
            return envelopes
        for message in batch:
            envelopes.append(Envelope.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def put(stack: TestStack, bucket: str, key: str, body: bytes) -> str:
    return str(client(stack, "s3").put_object(Bucket=bucket, Key=key, Body=body)["ETag"]).strip('"')


def test_a_cloudtrail_object_becomes_alerts_the_supervisor_schema_accepts(
    stack: TestStack, bucket: str, queue: str
) -> None:
    key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/111122223333_CloudTrail_us-east-1_a.json.gz"
    etag = put(stack, bucket, key, cloudtrail_object("root_account_activity.yml", "security_group_open_to_world.yml"))
    [ref] = objects_in(object_created(bucket, key, etag))

    result = processor_for(stack, queue).process(ref)

    assert result.log_type == "cloudtrail"
    assert result.hits == result.alerts_sent > 0
    [envelope] = drain(stack, queue)
    assert envelope.kind == INGEST_KIND
    assert list(envelope.payload) == ["alerts"]
    alerts = normalize_payload(envelope.payload)
    assert {a.source for a in alerts} == {"acso.hunting"}
    assert {a.type.split("/")[0] for a in alerts} == {"hunting"}
    titles = {a.title for a in alerts}
    assert "Security Group Opened To The Internet" in titles
    assert all(a.account_id == "111122223333" for a in alerts)
    assert any(o.type.value == "ip" and o.value == "203.0.113.24" for a in alerts for o in a.observables)


def test_reprocessing_an_object_sends_the_same_idempotency_keys_and_alert_ids(
    stack: TestStack, bucket: str, queue: str
) -> None:
    key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/20/b.json.gz"
    etag = put(stack, bucket, key, cloudtrail_object("root_account_activity.yml", "security_group_open_to_world.yml"))
    processor = processor_for(stack, queue, alerts_per_message=1)

    processor.process(ObjectRef(bucket, key, etag=etag))
    first = drain(stack, queue)
    processor.process(ObjectRef(bucket, key, etag=etag))
    second = drain(stack, queue)

    assert len(first) > 1  # one alert per message here
    assert sorted(e.idempotency_key for e in first) == sorted(e.idempotency_key for e in second)
    assert sorted(a["id"] for e in first for a in e.payload["alerts"]) == sorted(
        a["id"] for e in second for a in e.payload["alerts"]
    )


def test_a_flow_log_object_alerts_on_ssh_accepted_from_the_internet_only(
    stack: TestStack, bucket: str, queue: str
) -> None:
    key = "AWSLogs/111122223333/vpcflowlogs/us-east-1/2026/11/20/flow.log.gz"
    put(stack, bucket, key, gzip.compress(FLOW_LOG.encode(), mtime=0))

    result = processor_for(stack, queue).process(ObjectRef(bucket, key))

    assert (result.log_type, result.records, result.hits) == ("vpc_flow_logs", 3, 1)
    [alert] = normalize_payload(drain(stack, queue)[0].payload)
    assert alert.title == "Administrative Port Reached From The Internet"
    assert alert.severity.label.value == "high"
    assert ("ip", "198.51.100.7") in {(o.type.value, o.value) for o in alert.observables}


def test_a_sqs_batch_reports_only_the_message_whose_object_is_malformed(
    stack: TestStack, bucket: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    good, bad = "logs/good object.json.gz", "logs/bad.json"
    put(stack, bucket, good, cloudtrail_object("root_account_activity.yml", benign=False))
    put(stack, bucket, bad, b'{"Records": [{"eventName": "x"}, 42]}')
    event = sqs_batch(
        [
            json.dumps(s3_notification(bucket, good)),
            json.dumps(object_created(bucket, bad)),
            json.dumps({"Event": "s3:TestEvent"}),
        ]
    )
    monkeypatch.setenv("ACSO_ENV", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.emulator_url)
    dp_handler.processor.cache_clear()
    try:
        response = dp_handler.handler(event, lambda_context)
    finally:
        dp_handler.processor.cache_clear()

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    supervisor_queue = DataProcessingSettings(env="test").supervisor_queue
    sent = [e for e in drain(stack, supervisor_queue) if e.kind == INGEST_KIND]
    assert sent
    assert all(a["source"] == "acso.hunting" for e in sent for a in e.payload["alerts"])


def test_an_unknown_event_shape_is_refused(stack: TestStack, lambda_context: Any) -> None:
    with pytest.raises(Exception, match="neither an S3 notification"):
        dp_handler.handler(
            {"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification"}, lambda_context
        )
