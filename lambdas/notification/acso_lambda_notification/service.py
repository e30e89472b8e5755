"""Delivering one incident notification to every configured channel.

Each (message, channel) pair is delivered at most once per successful attempt: a delivered pair is
recorded in the idempotency table, and a redelivery of the same SNS message (Lambda's async retry
after a partial failure) skips the channels already done. A crash between a channel accepting a
message and the record being written can still repeat that one message: at-least-once, never lost.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from acso_lambda_notification.delivery import (
    DeliveryError,
    RetryPolicy,
    post_signed,
    post_slack,
    send_email,
    send_with_retries,
)
from acso_lambda_notification.formatting import email_content, slack_payload, webhook_body
from acso_lambda_notification.models import (
    ChannelConfig,
    ChannelOutcome,
    DeliveryReport,
    EmailChannel,
    IncidentNotification,
    SlackChannel,
    WebhookChannel,
)
from acso_shared.errors import Upstream

Channel = SlackChannel | EmailChannel | WebhookChannel


class ChannelSource:
    """The channel secret from Secrets Manager, cached for a warm execution environment."""

    def __init__(
        self, secrets: Any, secret_id: str, max_age_s: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._secrets = secrets
        self._secret_id = secret_id
        self._max_age_s = max_age_s
        self._monotonic = monotonic
        self._cached: tuple[float, ChannelConfig] | None = None

    def get(self) -> ChannelConfig:
        """The parsed channel configuration; `Upstream` when the secret is missing or malformed."""
        now = self._monotonic()
        if self._cached is not None and now - self._cached[0] < self._max_age_s:
            return self._cached[1]
        try:
            raw = self._secrets.get_secret_value(SecretId=self._secret_id)["SecretString"]
            config = ChannelConfig.model_validate(json.loads(raw))
        except (ClientError, BotoCoreError) as err:
            raise Upstream("channels_unavailable", f"cannot read the channel secret: {type(err).__name__}") from err
        except ValueError as err:  # JSON or validation error; the secret's content never goes to the log
            raise Upstream("channels_invalid", "the channel secret is not a valid channel configuration") from err
        self._cached = (now, config)
        return config


class DeliveryLedger:
    """Which (message, channel) pairs were delivered, in the DynamoDB idempotency table."""

    def __init__(self, dynamodb: Any, table: str, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._db = dynamodb
        self._table = table
        self._ttl_s = ttl_s
        self._clock = clock

    @staticmethod
    def key(message_id: str, channel: str) -> str:
        return f"notification:{message_id}:{channel}"

    def delivered(self, message_id: str, channel: str) -> bool:
        """Whether an earlier invocation already delivered this message on this channel."""
        item = self._db.get_item(
            TableName=self._table, Key={"idempotency_key": {"S": self.key(message_id, channel)}}, ConsistentRead=True
        )
        return "Item" in item

    def record(self, message_id: str, channel: str) -> None:
        """Remember a delivery (a concurrent duplicate recording the same pair is harmless)."""
        expires = int(self._clock()) + self._ttl_s
        try:
            self._db.put_item(
                TableName=self._table,
                Item={
                    "idempotency_key": {"S": self.key(message_id, channel)},
                    "status": {"S": "delivered"},
                    "expires_at": {"N": str(expires)},
                },
                ConditionExpression="attribute_not_exists(idempotency_key)",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise


class Notifier:
    """Formats and sends one notification per channel; one channel's failure never stops the others."""

    def __init__(
        self,
        channels: ChannelSource,
        ledger: DeliveryLedger,
        ses: Any,
        policy: RetryPolicy,
        *,
        http_timeout_s: float = 5.0,
        console_url: str = "",
    ) -> None:
        self._channels = channels
        self._ledger = ledger
        self._ses = ses
        self._policy = policy
        self._timeout_s = http_timeout_s
        self._console_url = console_url

    def deliver(self, message_id: str, notification: IncidentNotification) -> DeliveryReport:
        """Send `notification` (SNS message `message_id`) to every channel that wants its severity."""
        config = self._channels.get()
        channels: list[Channel] = [*config.slack, *config.email, *config.webhooks]
        outcomes = [
            self._deliver_one(message_id, notification, channel)
            for channel in channels
            if channel.wants(notification.severity)
        ]
        return DeliveryReport(message_id=message_id, incident_id=notification.incident_id, outcomes=outcomes)

    def _deliver_one(self, message_id: str, notification: IncidentNotification, channel: Channel) -> ChannelOutcome:
        if self._ledger.delivered(message_id, channel.name):
            return ChannelOutcome(channel=channel.name, delivered=True, attempts=0, skipped=True)
        send = self._sender(message_id, notification, channel)
        try:
            attempts = send_with_retries(send, self._policy)
        except DeliveryError as err:
            attempts = self._policy.max_attempts if err.retryable else 1
            return ChannelOutcome(channel=channel.name, delivered=False, attempts=attempts, error=str(err))
        self._ledger.record(message_id, channel.name)
        return ChannelOutcome(channel=channel.name, delivered=True, attempts=attempts)

    def _sender(self, message_id: str, notification: IncidentNotification, channel: Channel) -> Callable[[], None]:
        if isinstance(channel, SlackChannel):
            payload = json.dumps(slack_payload(notification, self._console_url)).encode("utf-8")
            url = str(channel.webhook_url)
            return lambda: post_slack(url, payload, self._timeout_s)
        if isinstance(channel, EmailChannel):
            subject, text, html_body = email_content(notification, self._console_url)
            sender, recipients = channel.sender, list(channel.recipients)
            return lambda: send_email(self._ses, sender, recipients, subject, text, html_body)
        body = webhook_body(notification, message_id)
        url, secret = str(channel.url), channel.secret
        # Signed per attempt, so a retry after a long Retry-After is still inside the replay window.
        return lambda: post_signed(url, body, secret, self._timeout_s)
