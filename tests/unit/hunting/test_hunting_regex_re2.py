"""Sigma `|re` runs on RE2: linear time whatever the pattern, and patterns RE2 cannot run are refused."""

from __future__ import annotations

import textwrap
import time

import pytest

from acso_shared.errors import Invalid
from acso_shared.hunting.compiled import EventRule
from acso_shared.hunting.compiler import compile_rule

pytestmark = pytest.mark.unit


def rule_text(detection: str) -> str:
    return (
        "title: regex rule\nid: 7c0f3d52-1a11-4c8e-9d6b-0b4f9f6a2e31\n"
        "logsource: {product: aws, service: cloudtrail}\ndetection:\n"
        + textwrap.indent(textwrap.dedent(detection), "  ")
    )


def event_rule(detection: str) -> EventRule:
    rule = compile_rule(rule_text(detection))
    assert isinstance(rule, EventRule)
    return rule


def test_a_catastrophic_pattern_runs_in_linear_time_on_long_input() -> None:
    rule = event_rule("sel:\n  requestParameters.name|re: '(a+)+$'\ncondition: sel")
    hostile = {"requestParameters": {"name": "a" * 200_000 + "!"}}
    started = time.perf_counter()
    assert not rule.matches(hostile)
    assert time.perf_counter() - started < 0.5  # Python's re takes longer than the universe's age here
    assert rule.matches({"requestParameters": {"name": "xaaaa"}})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [(r"(a)\1", "invalid escape sequence"), ("(?=admin)adm", "invalid perl operator"), ("(?<!x)y", "(?<!")],
)
def test_a_pattern_re2_cannot_run_is_refused_naming_the_field_and_pattern(pattern: str, reason: str) -> None:
    with pytest.raises(Invalid) as caught:
        compile_rule(rule_text(f"sel:\n  userAgent|re: '{pattern}'\ncondition: sel"))
    assert caught.value.code == "sigma_regex_unsupported"
    assert "sel.userAgent|re" in caught.value.message
    assert repr(pattern) in caught.value.message
    assert reason in caught.value.message


def test_the_i_sub_modifier_ignores_case_and_without_it_case_matters() -> None:
    insensitive = event_rule("sel:\n  userAgent|re|i: '^TERRAFORM/'\ncondition: sel")
    sensitive = event_rule("sel:\n  userAgent|re: '^TERRAFORM/'\ncondition: sel")
    record = {"userAgent": "terraform/1.7.0"}
    assert insensitive.matches(record)
    assert not sensitive.matches(record)


def test_the_m_sub_modifier_anchors_at_each_line() -> None:
    multi = event_rule("sel:\n  errorMessage|re|m: '^denied$'\ncondition: sel")
    single = event_rule("sel:\n  errorMessage|re: '^denied$'\ncondition: sel")
    record = {"errorMessage": "request failed\ndenied\nretry"}
    assert multi.matches(record)
    assert not single.matches(record)


def test_the_s_sub_modifier_lets_dot_match_newlines() -> None:
    dotall = event_rule("sel:\n  errorMessage|re|s: 'failed.denied'\ncondition: sel")
    plain = event_rule("sel:\n  errorMessage|re: 'failed.denied'\ncondition: sel")
    record = {"errorMessage": "failed\ndenied"}
    assert dotall.matches(record)
    assert not plain.matches(record)


def test_the_match_is_unanchored_as_sigma_asks() -> None:
    rule = event_rule("sel:\n  eventName|re: 'Policy'\ncondition: sel")
    assert rule.matches({"eventName": "PutBucketPolicy"})
    assert not rule.matches({"eventName": "ListBuckets"})


def test_a_mixed_wildcard_on_a_long_value_stays_fast() -> None:
    rule = event_rule("sel:\n  userAgent: '*a*a*a*a*a*a*b'\ncondition: sel")
    started = time.perf_counter()
    assert not rule.matches({"userAgent": "a" * 50_000})
    assert time.perf_counter() - started < 0.5
    assert rule.matches({"userAgent": "xaaaaaaab"})
