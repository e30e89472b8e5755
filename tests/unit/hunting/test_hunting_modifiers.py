"""Sigma field modifiers, conditions and keywords, evaluated natively on nested records."""

from __future__ import annotations

import base64
import textwrap
from typing import Any

import pytest

from acso_shared.hunting.compiled import EventRule
from acso_shared.hunting.compiler import compile_rule

pytestmark = pytest.mark.unit


def event_rule(detection: str) -> EventRule:
    text = (
        "title: test rule\nid: 5e1f0c3a-6f0e-4d35-9a52-2b8f2f1c0d11\n"
        "logsource: {product: aws, service: cloudtrail}\ndetection:\n"
        + textwrap.indent(textwrap.dedent(detection), "  ")
    )
    rule = compile_rule(text)
    assert isinstance(rule, EventRule)
    return rule


def matches(detection: str, record: dict[str, Any]) -> bool:
    return event_rule(detection).matches(record)


def test_plain_value_matches_whole_value_case_insensitively() -> None:
    rule = event_rule("sel: {eventName: stoplogging}\ncondition: sel")
    assert rule.matches({"eventName": "StopLogging"})
    assert not rule.matches({"eventName": "StopLoggingNow"})


def test_cased_modifier_makes_the_match_case_sensitive() -> None:
    rule = event_rule("sel: {eventName|cased: StopLogging}\ncondition: sel")
    assert rule.matches({"eventName": "StopLogging"})
    assert not rule.matches({"eventName": "stoplogging"})


@pytest.mark.parametrize(
    ("modifier", "value", "hit", "miss"),
    [
        ("contains", "Admin", "arn:aws:iam::1:role/MyAdminRole", "arn:aws:iam::1:role/reader"),
        ("startswith", "arn:aws:sts", "arn:aws:sts::1:assumed-role/x", "arn:aws:iam::1:user/x"),
        (
            "endswith",
            "/AdministratorAccess",
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::aws:policy/ReadOnly",
        ),
    ],
)
def test_substring_modifiers(modifier: str, value: str, hit: str, miss: str) -> None:
    rule = event_rule(f"sel: {{f|{modifier}: '{value}'}}\ncondition: sel")
    assert rule.matches({"f": hit})
    assert not rule.matches({"f": miss})


def test_wildcards_in_the_middle_of_a_value() -> None:
    rule = event_rule("sel: {f: 'arn:aws:iam::*:role/adm?n'}\ncondition: sel")
    assert rule.matches({"f": "arn:aws:iam::123:role/admin"})
    assert not rule.matches({"f": "arn:aws:iam::123:role/administrator"})


def test_escaped_star_is_a_literal_star() -> None:
    rule = event_rule(r"sel: {f: '\*'}" + "\ncondition: sel")
    assert rule.matches({"f": "*"})
    assert not rule.matches({"f": "anything"})


def test_list_values_are_alternatives_and_all_requires_every_one() -> None:
    any_rule = event_rule("sel:\n  f|contains: [alpha, beta]\ncondition: sel")
    all_rule = event_rule("sel:\n  f|contains|all: [alpha, beta]\ncondition: sel")
    assert any_rule.matches({"f": "x alpha"})
    assert not all_rule.matches({"f": "x alpha"})
    assert all_rule.matches({"f": "beta and alpha"})


def test_re_modifier_searches_case_sensitively_unless_i() -> None:
    sensitive = event_rule(r"sel: {f|re: 'Action.:\s*.\*'}" + "\ncondition: sel")
    insensitive = event_rule("sel: {f|re|i: 'ADMIN[0-9]+'}\ncondition: sel")
    assert sensitive.matches({"f": '{"Action": "*"}'})
    assert not sensitive.matches({"f": '{"action": "*"}'})
    assert insensitive.matches({"f": "role/admin42"})


def test_cidr_modifier_matches_addresses_in_the_network_only() -> None:
    rule = event_rule("sel: {sourceIPAddress|cidr: 198.51.100.0/24}\ncondition: sel")
    assert rule.matches({"sourceIPAddress": "198.51.100.7"})
    assert not rule.matches({"sourceIPAddress": "203.0.113.7"})
    assert not rule.matches({"sourceIPAddress": "ec2.amazonaws.com"})


def test_base64_modifier_matches_the_encoded_value() -> None:
    rule = event_rule("sel: {userData|base64: 'curl http://evil'}\ncondition: sel")
    assert rule.matches({"userData": base64.b64encode(b"curl http://evil").decode()})
    assert not rule.matches({"userData": "curl http://evil"})


def test_base64offset_contains_finds_the_value_at_any_offset() -> None:
    rule = event_rule("sel: {userData|base64offset|contains: 'xmrig'}\ncondition: sel")
    for prefix in (b"", b"a", b"ab", b"run ./"):
        encoded = base64.b64encode(prefix + b"xmrig --donate 0").decode()
        assert rule.matches({"userData": encoded}), prefix
    assert not rule.matches({"userData": base64.b64encode(b"nginx -g daemon off").decode()})


def test_windash_modifier_accepts_slash_for_dash() -> None:
    rule = event_rule("sel: {cmd|windash|contains: ' -enc '}\ncondition: sel")
    assert rule.matches({"cmd": "powershell /enc AAAA"})
    assert rule.matches({"cmd": "powershell -enc AAAA"})
    assert not rule.matches({"cmd": "powershell enc AAAA"})


def test_exists_modifier_tests_presence_of_non_null_value() -> None:
    present = event_rule("sel: {errorCode|exists: true}\ncondition: sel")
    absent = event_rule("sel: {errorCode|exists: false}\ncondition: sel")
    assert present.matches({"errorCode": "AccessDenied"})
    assert not present.matches({"errorCode": None})
    assert absent.matches({"eventName": "x"})


def test_null_value_matches_missing_or_null_field() -> None:
    rule = event_rule("sel: {requestParameters: null}\ncondition: sel")
    assert rule.matches({"requestParameters": None})
    assert rule.matches({})
    assert not rule.matches({"requestParameters": {"a": 1}})


@pytest.mark.parametrize(
    ("modifier", "matching", "not_matching"),
    [("gt", 7, 5), ("gte", 5, 4), ("lt", 4, 5), ("lte", 5, 6)],
)
def test_numeric_comparisons(modifier: str, matching: int, not_matching: int) -> None:
    rule = event_rule(f"sel: {{requestParameters.pendingWindowInDays|{modifier}: 5}}\ncondition: sel")
    assert rule.matches({"requestParameters": {"pendingWindowInDays": matching}})
    assert not rule.matches({"requestParameters": {"pendingWindowInDays": not_matching}})


def test_numeric_comparison_reads_numbers_written_as_text() -> None:
    rule = event_rule("sel: {minCount|gte: 10}\ncondition: sel")
    assert rule.matches({"minCount": "20"})
    assert not rule.matches({"minCount": "many"})


def test_boolean_values_match_json_booleans() -> None:
    rule = event_rule("sel: {requestParameters.enable: false}\ncondition: sel")
    assert rule.matches({"requestParameters": {"enable": False}})
    assert not rule.matches({"requestParameters": {"enable": True}})


def test_fieldref_compares_two_fields() -> None:
    rule = event_rule("sel: {requestParameters.userName|fieldref: userIdentity.userName}\ncondition: sel")
    assert rule.matches({"requestParameters": {"userName": "Bob"}, "userIdentity": {"userName": "bob"}})
    assert not rule.matches({"requestParameters": {"userName": "bob"}, "userIdentity": {"userName": "eve"}})


def test_hour_modifier_reads_the_event_time() -> None:
    rule = event_rule("sel: {eventTime|hour: 3}\ncondition: sel")
    assert rule.matches({"eventTime": "2026-11-20T03:15:00Z"})
    assert not rule.matches({"eventTime": "2026-11-20T13:15:00Z"})


def test_dotted_path_fans_out_over_lists() -> None:
    rule = event_rule("sel: {a.items.cidr: 0.0.0.0/0}\ncondition: sel")
    assert rule.matches({"a": {"items": [{"cidr": "10.0.0.0/8"}, {"cidr": "0.0.0.0/0"}]}})
    assert not rule.matches({"a": {"items": [{"cidr": "10.0.0.0/8"}]}})


def test_flattened_dotted_keys_are_read_too() -> None:
    assert matches("sel: {userIdentity.type: Root}\ncondition: sel", {"userIdentity.type": "Root"})


def test_one_of_all_of_not_and_parentheses() -> None:
    detection = """
    sel_a: {a: 1}
    sel_b: {b: 1}
    filter: {c: 1}
    condition: (1 of sel_*) and not filter
    """
    assert matches(detection, {"b": 1})
    assert not matches(detection, {"b": 1, "c": 1})
    assert not matches(detection, {"d": 1})
    all_of = "sel_a: {a: 1}\nsel_b: {b: 1}\ncondition: all of sel_*"
    assert matches(all_of, {"a": 1, "b": 1})
    assert not matches(all_of, {"a": 1})


def test_list_of_maps_is_an_or_of_and_groups() -> None:
    detection = """
    sel:
      - {eventName: A, x: 1}
      - {eventName: B}
    condition: sel
    """
    assert matches(detection, {"eventName": "A", "x": 1})
    assert not matches(detection, {"eventName": "A"})
    assert matches(detection, {"eventName": "b"})


def test_keywords_search_every_value_of_the_record() -> None:
    detection = "keywords:\n  - 'xmrig'\n  - 'minerd'\ncondition: keywords"
    assert matches(detection, {"requestParameters": {"userData": "./XMRig --pool x"}})
    assert not matches(detection, {"requestParameters": {"userData": "nginx"}})


def test_several_conditions_are_alternatives() -> None:
    detection = "sel_a: {a: 1}\nsel_b: {b: 1}\ncondition:\n  - sel_a\n  - sel_b"
    assert matches(detection, {"b": 1})


def test_rules_are_indexed_by_event_name_when_the_condition_requires_it() -> None:
    indexed = event_rule("sel: {eventName: [StopLogging, DeleteTrail], x: 1}\ncondition: sel")
    unindexed = event_rule("sel: {eventName: StopLogging}\nother: {x: 1}\ncondition: sel or other")
    negated = event_rule("sel: {eventName: StopLogging}\ncondition: not sel")
    assert indexed.index_keys == frozenset({"stoplogging", "deletetrail"})
    assert unindexed.index_keys is None
    assert negated.index_keys is None
