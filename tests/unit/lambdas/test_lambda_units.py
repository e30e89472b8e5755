"""Pure pieces of the Lambdas: event parsing, flow log normalisation, message formats, retries."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from acso_lambda_auth.models import STREAM_PATH, EventKind, parse_event
from acso_lambda_data_processing.flowlogs import iter_flow_records, looks_like_flow_log
from acso_lambda_data_processing.models import objects_in
from acso_lambda_notification.delivery import DeliveryError, RetryPolicy, send_with_retries
from acso_lambda_notification.formatting import email_content, slack_payload
from acso_lambda_notification.models import IncidentNotification
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit

ARN = "arn:aws:execute-api:eu-west-1:123456789012:api1/prod"


def test_a_token_event_names_the_concrete_route_and_keeps_the_header() -> None:
    request = parse_event({"type": "TOKEN", "authorizationToken": "Bearer t", "methodArn": f"{ARN}/POST/v1/hunts"})

    assert (request.kind, request.method, request.path, request.authorization) == (
        EventKind.TOKEN,
        "POST",
        "/v1/hunts",
        "Bearer t",
    )


def test_a_websocket_connect_maps_to_the_stream_route_with_the_query_token() -> None:
    event = {
        "type": "REQUEST",
        "methodArn": f"{ARN}/$connect",
        "headers": {},
        "queryStringParameters": {"token": "abc"},
        "requestContext": {"routeKey": "$connect", "eventType": "CONNECT"},
    }

    request = parse_event(event)

    assert (request.kind, request.path, request.authorization) == (EventKind.WEBSOCKET, STREAM_PATH, "Bearer abc")


@pytest.mark.parametrize("event", [{}, {"type": "TOKEN"}, {"type": "COGNITO", "methodArn": f"{ARN}/GET/v1/me"}])
def test_an_event_that_is_not_an_authorizer_event_is_invalid(event: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        parse_event(event)


def test_flow_log_lines_become_cloudtrail_shaped_records_with_typed_fields() -> None:
    text = (
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
        "log-status\n2 111122223333 eni-1 198.51.100.7 10.0.0.5 40000 22 6 3 180 1793527200 1793527260 ACCEPT OK\n"
        "2 111122223333 eni-1 - - - - - - - 1793527200 1793527260 - NODATA\n"
    )

    first, empty = list(iter_flow_records(gzip.compress(text.encode(), mtime=0)))

    assert first["eventName"] == "NetworkFlow"
    assert first["eventTime"] == "2026-11-01T10:00:00Z"
    assert first["flow"]["dstport"] == 22
    assert first["sourceIPAddress"] == "198.51.100.7"
    assert empty["flow"]["srcaddr"] is None


def test_a_flow_log_without_a_header_uses_the_default_fields() -> None:
    line = b"2 111122223333 eni-1 10.0.0.1 10.0.0.2 1 2 17 1 1 1793527200 1793527201 REJECT OK\n"

    [record] = iter_flow_records(line)

    assert record["flow"]["action"] == "REJECT"
    assert not looks_like_flow_log(line)


def test_a_flow_log_line_with_the_wrong_field_count_is_invalid() -> None:
    with pytest.raises(Invalid, match="line 2"):
        list(iter_flow_records(b"version srcaddr dstaddr\n1 2\n"))


def test_s3_keys_in_notifications_are_url_decoded() -> None:
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "logs/a+b%3Dc.json.gz", "eTag": "e"}},
            }
        ]
    }

    [ref] = objects_in(event)

    assert (ref.bucket, ref.key, ref.etag) == ("b", "logs/a b=c.json.gz", "e")


def notification(**overrides: Any) -> IncidentNotification:
    values: dict[str, Any] = {"incident_id": "inc-1", "title": "<@U123> & <!channel>", "severity": "critical"}
    values.update(overrides)
    return IncidentNotification(**values)


def test_slack_text_from_alerts_cannot_mention_or_link() -> None:
    payload = slack_payload(notification(summary="see <http://evil.example|here>"))

    # mrkdwn turns <...> into mentions and links; plain_text (the header) shows text as it is.
    blocks: list[Any] = payload["blocks"]  # type: ignore[assignment]
    mrkdwn = [str(payload["text"])]
    for block in blocks:
        mrkdwn += [f["text"] for f in block.get("fields", [])]
        if block.get("text", {}).get("type") == "mrkdwn":
            mrkdwn.append(block["text"]["text"])
    assert not [t for t in mrkdwn if "<" in t or ">" in t]
    assert "&lt;@U123&gt; &amp; &lt;!channel&gt;" in mrkdwn[0]
    assert blocks[0]["text"]["type"] == "plain_text"


def test_the_email_html_escapes_alert_text() -> None:
    subject, text, html = email_content(notification(title="<script>x</script>"))

    assert "<script>" not in html
    assert subject.startswith("[ACSO critical] Incident Updated: <script>")
    assert "Incident: inc-1" in text


def test_retries_stop_at_a_permanent_error() -> None:
    calls: list[int] = []

    def send() -> None:
        calls.append(1)
        raise DeliveryError("400", retryable=False)

    with pytest.raises(DeliveryError):
        send_with_retries(send, RetryPolicy(max_attempts=5, sleep=lambda _: None))

    assert len(calls) == 1


def test_retries_back_off_exponentially_and_cap_retry_after() -> None:
    slept: list[float] = []
    failures = [DeliveryError("503", retryable=True), DeliveryError("429", retryable=True, retry_after_s=600)]

    def send() -> None:
        if failures:
            raise failures.pop(0)

    attempts = send_with_retries(
        send, RetryPolicy(max_attempts=3, backoff_base_s=0.5, max_retry_after_s=10, sleep=slept.append)
    )

    assert attempts == 3
    assert slept == [0.5, 10]
