"""Lambda entry point (`handler.handler`): SNS records in, one delivery report per message out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from acso_lambda_notification.delivery import RetryPolicy
from acso_lambda_notification.models import IncidentNotification
from acso_lambda_notification.service import ChannelSource, DeliveryLedger, Notifier
from acso_lambda_notification.settings import NotificationSettings

logger = Logger(service="acso-notification")
tracer = Tracer(service="acso-notification")


class NotificationFailed(Exception):
    """Some channels did not get a message; raising makes Lambda retry (and finally dead-letter) the event."""


def build_notifier(settings: NotificationSettings, *, sleep: Callable[[float], None] = time.sleep) -> Notifier:
    """The notifier with boto3 clients for `settings` (endpoint and region included)."""
    session = boto3.session.Session(region_name=settings.aws_region)

    def client(name: str) -> Any:
        return session.client(name, endpoint_url=settings.aws_endpoint_url)

    return Notifier(
        ChannelSource(client("secretsmanager"), settings.secret_id, settings.secret_cache_s),
        DeliveryLedger(client("dynamodb"), settings.idempotency_table, settings.delivery_record_ttl_s),
        client("ses"),
        RetryPolicy(settings.max_attempts, settings.backoff_base_s, settings.max_retry_after_s, sleep),
        http_timeout_s=settings.http_timeout_s,
        console_url=settings.console_url,
    )


@cache
def notifier() -> Notifier:
    """Built on first use and kept for the warm execution environment."""
    return build_notifier(NotificationSettings())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Deliver every SNS record; report partial failures and raise so undelivered channels are retried."""
    reports: list[dict[str, Any]] = []
    rejected: list[str] = []
    failed: dict[str, list[str]] = {}
    for record in SNSEvent(event).records:
        message_id = record.sns.message_id
        try:
            notification = IncidentNotification.model_validate(json.loads(record.sns.message))
        except (ValueError, ValidationError) as err:
            # A message that does not parse never will: retrying it would only delay the others.
            logger.error("notification rejected", extra={"message_id": message_id, "error": type(err).__name__})
            rejected.append(message_id)
            continue
        report = notifier().deliver(message_id, notification)
        reports.append(report.model_dump(mode="json"))
        logger.info("notification delivered" if not report.failed else "notification partly failed", extra=reports[-1])
        if report.failed:
            failed[message_id] = report.failed
    result = {"reports": reports, "rejected": rejected, "failed": failed}
    if failed:
        raise NotificationFailed(json.dumps(failed, sort_keys=True))
    return result
