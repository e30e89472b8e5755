"""The notification Lambda: SNS events in, Slack (fake), SES (emulator) and signed webhooks out."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from acso_lambda_notification import handler as notification_handler
from acso_lambda_notification.handler import NotificationFailed, build_notifier
from acso_lambda_notification.models import IncidentNotification
from acso_lambda_notification.settings import NotificationSettings
from acso_shared.auth.webhooks import SIGNATURE_HEADER, compute_signature, parse_signature_header
from tests.fakes.slack import FakeSlack, start_fake_slack
from tests.support.stack import TestStack

pytestmark = pytest.mark.integration

WEBHOOK_SECRET = "webhook-signing-secret-0123456789"
SENDER = "acso-alerts@example.com"


def client(stack: TestStack, name: str) -> Any:
    return boto3.client(name, endpoint_url=stack.emulator_url, region_name="us-east-1")


def sns_event(message: dict[str, Any], message_id: str | None = None) -> dict[str, Any]:
    topic = "arn:aws:sns:us-east-1:123456789012:acso-test-notifications"
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id or str(uuid.uuid4()),
                    "TopicArn": topic,
                    "Subject": "Incident Opened",
                    "Message": json.dumps(message),
                    "Timestamp": "2026-11-01T10:00:00.000Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def incident_event(
    severity: str = "critical", title: str = "Root credentials used <from> Tor & more"
) -> dict[str, Any]:
    """An ACSO EventBridge incident event, as a user's rule would forward it to the topic."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Incident Opened",
        "source": "acso",
        "account": "123456789012",
        "time": "2026-11-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "incident_id": f"inc-{uuid.uuid4().hex[:8]}",
            "title": title,
            "severity": severity,
            "status": "new",
            "summary": "ConsoleLogin by root from 198.51.100.7",
        },
    }


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with start_fake_slack() as fake:
        yield fake


@pytest.fixture
def channels_secret(stack: TestStack, slack: FakeSlack) -> str:
    client(stack, "ses").verify_email_identity(EmailAddress=SENDER)
    name = f"acso-test/notification-channels-{uuid.uuid4().hex[:8]}"
    config = {
        "slack": [{"name": "soc-slack", "webhook_url": f"{slack.url}/services/T000/B000/XXXX"}],
        "email": [{"name": "soc-email", "sender": SENDER, "recipients": ["oncall@example.com"]}],
        "webhooks": [
            {"name": "siem", "url": f"{slack.url}/hooks/siem", "secret": WEBHOOK_SECRET, "min_severity": "medium"}
        ],
    }
    client(stack, "secretsmanager").create_secret(Name=name, SecretString=json.dumps(config))
    return name


def settings_for(stack: TestStack, secret: str, **overrides: Any) -> NotificationSettings:
    values: dict[str, Any] = {
        "env": "test",
        "aws_endpoint_url": stack.emulator_url,
        "chat_secret_arn": secret,
        "backoff_base_s": 0.0,
        "console_url": "https://acso.example.com",
    }
    values.update(overrides)
    return NotificationSettings(**values)


def emails_sent(stack: TestStack) -> int:
    return int(client(stack, "ses").get_send_quota()["SentLast24Hours"])


def test_a_critical_incident_reaches_slack_email_and_the_signed_webhook(
    stack: TestStack, slack: FakeSlack, channels_secret: str
) -> None:
    before = emails_sent(stack)
    event = incident_event()

    report = build_notifier(settings_for(stack, channels_secret)).deliver(
        "msg-1-" + uuid.uuid4().hex, IncidentNotification.model_validate(event)
    )

    assert report.failed == []
    assert {o.channel: o.attempts for o in report.outcomes} == {"soc-slack": 1, "soc-email": 1, "siem": 1}
    [posted] = slack.accepted("/services/T000/B000/XXXX")
    blocks = posted.json()["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": f"Incident Opened: {event['detail']['title']}", "emoji": False},
    }
    # Alert text is untrusted: no raw < or > reaches Slack's mrkdwn, where they would start links.
    assert "&lt;from&gt; Tor &amp; more" in posted.json()["text"]
    assert blocks[-1]["elements"][0]["url"].endswith(f"/incidents/{event['detail']['incident_id']}")
    assert emails_sent(stack) == before + 1
    [hook] = slack.accepted("/hooks/siem")
    signature = parse_signature_header(hook.headers[SIGNATURE_HEADER.lower()])
    assert signature.signatures == (compute_signature(WEBHOOK_SECRET, signature.timestamp, hook.body),)
    assert hook.json()["incident"]["incident_id"] == event["detail"]["incident_id"]


def test_slack_rate_limiting_is_retried_after_the_retry_after_it_sent(
    stack: TestStack, slack: FakeSlack, channels_secret: str
) -> None:
    slept: list[float] = []
    slack.fail_next(429, retry_after="2")
    notifier = build_notifier(settings_for(stack, channels_secret), sleep=slept.append)

    report = notifier.deliver("msg-2-" + uuid.uuid4().hex, IncidentNotification.model_validate(incident_event()))

    assert report.failed == []
    assert next(o for o in report.outcomes if o.channel == "soc-slack").attempts == 2
    assert slept == [2.0]


def test_a_failing_channel_is_reported_and_retried_without_resending_to_the_others(
    stack: TestStack,
    slack: FakeSlack,
    channels_secret: str,
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
) -> None:
    monkeypatch.setenv("ACSO_ENV", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.emulator_url)
    monkeypatch.setenv("ACSO_CHAT_SECRET_ARN", channels_secret)
    monkeypatch.setenv("ACSO_BACKOFF_BASE_S", "0")
    notification_handler.notifier.cache_clear()
    event = sns_event(incident_event(), message_id=str(uuid.uuid4()))
    before = emails_sent(stack)
    slack.fail_next(503, times=3)  # every attempt of the first invocation
    try:
        with pytest.raises(NotificationFailed, match="soc-slack"):
            notification_handler.handler(event, lambda_context)
        first_round = len(slack.accepted("/hooks/siem"))

        result = notification_handler.handler(event, lambda_context)  # Lambda's retry of the same event
    finally:
        notification_handler.notifier.cache_clear()

    assert first_round == 1
    outcomes = {o["channel"]: o for o in result["reports"][0]["outcomes"]}
    assert outcomes["soc-slack"]["delivered"]
    assert not outcomes["soc-slack"]["skipped"]
    assert outcomes["soc-email"]["skipped"]
    assert outcomes["siem"]["skipped"]
    assert len(slack.accepted("/hooks/siem")) == 1
    assert emails_sent(stack) == before + 1
    assert slack.answered.count(503) == 3


def test_an_unverified_sender_fails_email_only(stack: TestStack, slack: FakeSlack) -> None:
    name = f"acso-test/notification-channels-{uuid.uuid4().hex[:8]}"
    config = {
        "slack": [{"name": "soc-slack", "webhook_url": f"{slack.url}/services/T000/B000/YYYY"}],
        "email": [{"name": "soc-email", "sender": "nobody@unverified.example", "recipients": ["a@example.com"]}],
    }
    client(stack, "secretsmanager").create_secret(Name=name, SecretString=json.dumps(config))

    report = build_notifier(settings_for(stack, name)).deliver(
        "msg-4-" + uuid.uuid4().hex, IncidentNotification.model_validate(incident_event("high"))
    )

    assert report.failed == ["soc-email"]
    failed = next(o for o in report.outcomes if o.channel == "soc-email")
    assert failed.attempts == 1  # a rejected message is not retried
    assert "MessageRejected" in (failed.error or "")


def test_incidents_below_a_channels_minimum_severity_are_not_sent_there(
    stack: TestStack, slack: FakeSlack, channels_secret: str
) -> None:
    report = build_notifier(settings_for(stack, channels_secret)).deliver(
        "msg-5-" + uuid.uuid4().hex, IncidentNotification.model_validate(incident_event("medium"))
    )

    assert [o.channel for o in report.outcomes] == ["siem"]


def test_a_message_that_is_not_an_incident_is_rejected_without_a_retry(
    stack: TestStack, channels_secret: str, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    monkeypatch.setenv("ACSO_ENV", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", stack.emulator_url)
    monkeypatch.setenv("ACSO_CHAT_SECRET_ARN", channels_secret)
    notification_handler.notifier.cache_clear()
    event = sns_event({"hello": "world"}, message_id="bad-message")
    try:
        result = notification_handler.handler(event, lambda_context)
    finally:
        notification_handler.notifier.cache_clear()

    assert result == {"reports": [], "rejected": ["bad-message"], "failed": {}}
