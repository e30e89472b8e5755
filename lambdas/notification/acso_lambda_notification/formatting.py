"""Message formats per channel. Incident text comes from alerts and is untrusted: it is escaped for
Slack's mrkdwn and HTML, and never turned into links or mentions."""

from __future__ import annotations

import html
import json

from acso_lambda_notification.models import IncidentNotification

_SEVERITY_EMOJI = {"critical": ":red_circle:", "fatal": ":red_circle:", "high": ":large_orange_circle:"}


def _mrkdwn(text: str) -> str:
    # Slack's own escaping rules: only &, < and > are control characters (they start links and mentions).
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _link(console_url: str, notification: IncidentNotification) -> str | None:
    if not console_url:
        return None
    return f"{console_url.rstrip('/')}/incidents/{notification.incident_id}"


def slack_payload(notification: IncidentNotification, console_url: str = "") -> dict[str, object]:
    """An incoming-webhook body with Block Kit blocks and a plain `text` fallback for notifications."""
    severity = notification.severity.value
    emoji = _SEVERITY_EMOJI.get(severity, ":large_yellow_circle:")
    header = f"{notification.event}: {notification.title}"
    blocks: list[dict[str, object]] = [
        # Header blocks are plain text (no mrkdwn, so no escaping) and at most 150 characters.
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": False}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Severity*\n{emoji} {severity}"},
                {"type": "mrkdwn", "text": f"*Status*\n{_mrkdwn(notification.status)}"},
                {"type": "mrkdwn", "text": f"*Incident*\n`{_mrkdwn(notification.incident_id)}`"},
            ],
        },
    ]
    if notification.summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(notification.summary)[:3000]}})
    link = _link(console_url, notification)
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": link}],
            }
        )
    return {"text": _mrkdwn(f"[{severity}] {header}"), "blocks": blocks}


def email_content(notification: IncidentNotification, console_url: str = "") -> tuple[str, str, str]:
    """Subject, plain-text body and HTML body of the notification email."""
    subject = f"[ACSO {notification.severity.value}] {notification.event}: {notification.title}"
    subject = " ".join(subject.split())[:200]
    link = _link(console_url, notification)
    lines = [
        f"{notification.event}: {notification.title}",
        "",
        f"Severity: {notification.severity.value}",
        f"Status:   {notification.status}",
        f"Incident: {notification.incident_id}",
    ]
    if notification.summary:
        lines += ["", notification.summary]
    if link:
        lines += ["", link]
    e = html.escape
    rows = "".join(
        f"<tr><th align='left'>{e(k)}</th><td>{e(v)}</td></tr>"
        for k, v in (
            ("Severity", notification.severity.value),
            ("Status", notification.status),
            ("Incident", notification.incident_id),
        )
    )
    body = f"<h2>{e(notification.event)}: {e(notification.title)}</h2><table>{rows}</table>"
    if notification.summary:
        body += f"<p>{e(notification.summary)}</p>"
    if link:
        body += f"<p><a href='{e(link)}'>Open incident</a></p>"
    return subject, "\n".join(lines), f"<html><body>{body}</body></html>"


def webhook_body(notification: IncidentNotification, message_id: str) -> bytes:
    """The generic webhook's JSON body (signed as sent, so it is serialised once, here)."""
    document = {
        "type": "acso.incident.notification/v1",
        "message_id": message_id,
        "incident": notification.model_dump(mode="json"),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
