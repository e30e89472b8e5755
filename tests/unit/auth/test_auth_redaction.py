"""Specification of secret redaction: captured log output never contains a secret."""

from __future__ import annotations

import io
import json
import logging

import pytest
import structlog

from acso_shared.auth.redaction import REDACTED, Redactor, redact, redact_processor, redact_text

pytestmark = pytest.mark.unit

JWT = (
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImR1bW15In0."
    "eyJzdWIiOiJhbGljZSIsInRva2VuX3VzZSI6ImFjY2VzcyJ9."
    "c2lnbmF0dXJlLWJ5dGVzLWhlcmUtMTIzNDU2Nzg5MA"
)
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
PASSWORD = "correct-horse-battery-staple"
SECRETS = [JWT, AWS_SECRET, AWS_KEY_ID, PASSWORD, "whsec_live_5f3a9c", "hunter2hunter2"]


def _captured_structlog(*events: tuple[str, dict[str, object]]) -> str:
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out),
        processors=[structlog.processors.add_log_level, redact_processor, structlog.processors.JSONRenderer()],
    )
    for message, fields in events:
        logger.info(message, **fields)
    return out.getvalue()


def _assert_no_secret(captured: str) -> None:
    leaked = [s for s in SECRETS if s in captured]
    assert leaked == [], f"secrets leaked into logs: {leaked}\n{captured}"


def test_captured_structlog_lines_contain_no_secret() -> None:
    captured = _captured_structlog(
        ("login", {"username": "alice", "password": PASSWORD}),
        ("calling api", {"headers": {"Authorization": f"Bearer {JWT}", "Accept": "application/json"}}),
        ("aws", {"aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}),
        (f"token was {JWT}", {}),
        ("webhook", {"client_secret": "whsec_live_5f3a9c", "X-ACSO-Signature": "t=1,v1=abc"}),
        ("db", {"url": "postgresql://acso:hunter2hunter2@db.internal:5432/acso"}),
        ("nested", {"config": {"llm": {"api_key": "hunter2hunter2"}, "items": [{"sessionToken": AWS_SECRET}]}}),
    )

    _assert_no_secret(captured)
    assert captured.count(REDACTED) >= 9


def test_ordinary_fields_survive_redaction() -> None:
    line = json.loads(
        _captured_structlog(
            ("incident closed", {"incident_id": "inc-42", "token_use": "access", "max_tokens": 512, "secret_arn": "a"})
        )
    )

    kept = {k: line[k] for k in ("event", "incident_id", "token_use", "max_tokens", "secret_arn")}
    assert kept == {
        "event": "incident closed",
        "incident_id": "inc-42",
        "token_use": "access",
        "max_tokens": 512,
        "secret_arn": "a",
    }


def test_exception_tracebacks_are_redacted() -> None:
    out = io.StringIO()
    logger = structlog.wrap_logger(
        structlog.PrintLogger(out), processors=[redact_processor, structlog.processors.JSONRenderer()]
    )
    try:
        raise RuntimeError(f"upstream refused Authorization: Bearer {JWT}")
    except RuntimeError:
        logger.exception("call failed")

    captured = out.getvalue()
    _assert_no_secret(captured)
    assert "RuntimeError" in json.loads(captured)["exception"]


def test_stdlib_log_records_routed_through_structlog_are_redacted() -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(), foreign_pre_chain=[redact_processor]
        )
    )
    library_logger = logging.getLogger("tests.redaction.library")
    library_logger.propagate = False
    library_logger.addHandler(handler)
    try:
        library_logger.warning("retrying with password=%s and key %s", PASSWORD, AWS_SECRET)
    finally:
        library_logger.removeHandler(handler)

    _assert_no_secret(out.getvalue())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {JWT}", f"Authorization: {REDACTED} {REDACTED}"),
        ("Basic dXNlcjpwYXNzd29yZA==", f"Basic {REDACTED}"),
        (f"key id {AWS_KEY_ID}", f"key id {REDACTED}"),
        (f"secret {AWS_SECRET}.", f"secret {REDACTED}."),
        ("redis://default:s3cr3t@cache:6379/0", f"redis://default:{REDACTED}@cache:6379/0"),
        ('{"password": "p4ss", "user": "bob"}', f'{{"password": {REDACTED}, "user": "bob"}}'),
        ("api_key=abc123&page=2", f"api_key={REDACTED}&page=2"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
            REDACTED,
        ),
    ],
)
def test_credential_shaped_text_is_redacted(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "commit 3f786850e387550fdab836ed7e6dc881de23001b merged",
        "incident inc-42 closed by alice after 3 steps",
        "sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("key", "sensitive"),
    [
        ("password", True),
        ("X-Api-Key", True),
        ("aws_secret_access_key", True),
        ("AWS_SESSION_TOKEN", True),
        ("accessToken", True),
        ("refresh_token", True),
        ("set-cookie", True),
        ("client_secret", True),
        ("max_tokens", False),
        ("token_use", False),
        ("secret_name", False),
        ("incident_id", False),
        ("author", False),
    ],
)
def test_sensitive_keys_are_recognised_by_name(key: str, sensitive: bool) -> None:
    assert Redactor().is_sensitive_key(key) is sensitive


def test_deployment_specific_keys_can_be_added() -> None:
    redactor = Redactor(extra_keys=["ServiceNow-Instance-Pin", "mfa"])

    assert redactor.redact({"servicenow_instance_pin": "0000", "mfa": "123456", "user": "bob"}) == {
        "servicenow_instance_pin": REDACTED,
        "mfa": REDACTED,
        "user": "bob",
    }


def test_redact_returns_a_copy_and_leaves_the_input_untouched() -> None:
    original = {"password": PASSWORD, "list": [f"Bearer {JWT}"]}

    cleaned = redact(original)

    assert cleaned == {"password": REDACTED, "list": [f"Bearer {REDACTED}"]}
    assert original["password"] == PASSWORD
