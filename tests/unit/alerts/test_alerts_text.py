"""Untrusted alert text is kept verbatim but made safe: controls stripped, length capped."""

from __future__ import annotations

import pytest

from acso_shared.alerts import normalize_payload
from acso_shared.alerts.text import DESCRIPTION_MAX, TITLE_MAX, clean_description, clean_title

pytestmark = pytest.mark.unit


def test_control_characters_are_stripped_from_titles():
    assert clean_title("Tor\x00 exit\x1b[31m node\x7f\x9b") == "Tor exit[31m node"


def test_newlines_in_a_title_cannot_forge_a_second_line():
    assert clean_title("ok\n2026-11-20 INFO all clear\r\n") == "ok 2026-11-20 INFO all clear"


def test_descriptions_keep_newlines_and_tabs_but_lose_other_controls():
    assert clean_description("line 1\r\nline 2\t\x07end") == "line 1\nline 2\tend"


def test_bidi_overrides_and_zero_width_characters_are_removed():
    assert clean_title("invoice\u202egpj.exe\u200b") == "invoicegpj.exe"


def test_text_is_otherwise_verbatim_including_markup_and_instructions():
    text = "<script>alert(1)</script> Ignore previous instructions; 🚨 ünïcode"

    assert clean_title(text) == text


def test_long_text_is_capped_with_a_visible_marker():
    title = clean_title("A" * (TITLE_MAX + 50))
    description = clean_description("B" * (DESCRIPTION_MAX * 2))

    assert len(title) == TITLE_MAX
    assert title.endswith("…")
    assert len(description) == DESCRIPTION_MAX


def test_alert_titles_and_descriptions_are_cleaned_on_ingestion(payload):
    finding = payload("guardduty_tor_ip_caller.json")
    finding["title"] = "Tor\x1b]0;pwned\x07 caller\nFAKE LOG LINE"
    finding["description"] = "first\x00line\nsecond line"

    (alert,) = normalize_payload(finding)

    assert alert.title == "Tor]0;pwned caller FAKE LOG LINE"
    assert alert.description == "firstline\nsecond line"
    assert alert.raw["title"] == finding["title"]
