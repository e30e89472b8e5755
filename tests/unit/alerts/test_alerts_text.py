"""Untrusted alert text is kept verbatim but made safe: controls stripped, length capped."""

from __future__ import annotations

import json

import pytest

from acso_shared.alerts import normalize_payload
from acso_shared.alerts.text import DESCRIPTION_MAX, TITLE_MAX, clean_description, clean_title
from acso_shared.errors import Invalid

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
    assert alert.description == "first\ufffdline\nsecond line"
    assert alert.raw["title"] == finding["title"]
    assert alert.notes == ["replaced 1 character PostgreSQL cannot store (NUL, lone surrogates) with U+FFFD"]


def test_nuls_and_lone_surrogates_are_replaced_everywhere_including_raw_and_keys(payload):
    finding = payload("guardduty_tor_ip_caller.json")
    finding["title"] = "Tor\x00caller"
    finding["service"]["additionalInfo"] = {"ua\x00": "curl\ud800/8", "note": ["\x00\x00"]}

    (alert,) = normalize_payload(finding)

    dumped = json.dumps(alert.model_dump(mode="json"))
    assert "\\u0000" not in dumped
    assert "\\ud800" not in dumped
    assert alert.raw["service"]["additionalInfo"] == {"ua\ufffd": "curl\ufffd/8", "note": ["\ufffd\ufffd"]}
    assert alert.raw["title"] == "Tor\ufffdcaller"
    assert alert.notes == ["replaced 5 characters PostgreSQL cannot store (NUL, lone surrogates) with U+FFFD"]
    dumped.encode("utf-8")


def test_one_nul_does_not_cost_the_batch_its_other_alerts(payload):
    bad = payload("guardduty_tor_ip_caller.json")
    bad["id"] = "nul\x00id"

    alerts = normalize_payload([bad, payload("generic_alert.json")])

    assert [a.source_id for a in alerts] == ["nul\ufffdid", alerts[1].source_id]
    assert alerts[1].notes == []


def test_nesting_deeper_than_the_limit_is_invalid_not_a_crash(payload):
    finding = payload("guardduty_tor_ip_caller.json")
    deep: dict[str, object] = {}
    finding["service"]["additionalInfo"] = deep
    for _ in range(5000):
        deep["x"] = deep = {}

    with pytest.raises(Invalid, match="nested deeper than 64 levels"):
        normalize_payload(finding)
