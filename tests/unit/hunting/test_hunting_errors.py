"""Malformed or unsupported Sigma is rejected with a clear error, and a bad rule never stops the others."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from acso_shared.errors import Conflict, Invalid, NotFound
from acso_shared.hunting.compiled import EventRule
from acso_shared.hunting.compiler import compile_rule
from acso_shared.hunting.models import RuleErrorStage
from acso_shared.hunting.pack import RulePack

pytestmark = pytest.mark.unit

GOOD = """
title: good
id: 0b6f2f8e-3b1c-4a57-9a0a-6a6f1f6c2a01
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventName: LeaveOrganization}
  condition: sel
level: critical
"""


def rule_text(
    detection: str, logsource: str = "{product: aws, service: cloudtrail}", rule_id: str | None = None
) -> str:
    head = f"title: t\nid: {rule_id or '7c0d7a39-4d8e-4f8e-8d9b-0d6f7c1b2a33'}\nlogsource: {logsource}\n"
    return head + "detection:\n" + textwrap.indent(textwrap.dedent(detection), "  ")


def rejected(text: str) -> Invalid:
    with pytest.raises(Invalid) as caught:
        compile_rule(text)
    return caught.value


def test_yaml_syntax_error_names_line_and_problem() -> None:
    err = rejected("title: x\ndetection:\n  sel: {eventName: [A, B}\n")
    assert err.code == "sigma_invalid"
    assert "line 3" in err.message


def test_document_that_is_not_a_mapping_is_rejected() -> None:
    assert "expected a Sigma rule mapping" in rejected("- just\n- a list\n").message


def test_empty_text_is_rejected() -> None:
    assert rejected("").code == "sigma_invalid"


def test_unknown_modifier_is_named() -> None:
    err = rejected(rule_text("sel: {eventName|sortof: x}\ncondition: sel"))
    assert err.code == "sigma_invalid"
    assert "sortof" in err.message


def test_condition_naming_a_missing_selection_is_named() -> None:
    err = rejected(rule_text("sel: {eventName: x}\ncondition: sel and nosuch"))
    assert err.code == "sigma_invalid"
    assert "nosuch" in err.message


def test_invalid_regular_expression_is_named() -> None:
    err = rejected(rule_text("sel: {eventName|re: '(unclosed'}\ncondition: sel"))
    assert err.code == "sigma_invalid"
    assert "(unclosed" in err.message


def test_rule_without_id_is_rejected() -> None:
    text = "title: t\nlogsource: {product: aws}\ndetection:\n  sel: {a: 1}\n  condition: sel\n"
    assert "no id" in rejected(text).message


def test_rule_for_another_log_source_is_unsupported() -> None:
    err = rejected(
        rule_text("sel: {Image: x}\ncondition: sel", logsource="{product: windows, category: process_creation}")
    )
    assert err.code == "sigma_unsupported"
    assert "windows" in err.message


def test_expand_placeholder_is_unsupported() -> None:
    err = rejected(rule_text("sel: {userName|expand: '%admins%'}\ncondition: sel"))
    assert err.code == "sigma_unsupported"
    assert "%admins%" in err.message


def test_deprecated_aggregation_in_condition_is_rejected() -> None:
    err = rejected(rule_text("sel: {a: 1}\ncondition: sel | count() > 5"))
    assert err.code == "sigma_invalid"
    assert "correlations" in err.message


def correlation(condition: str, corr_type: str = "event_count") -> str:
    base = rule_text("sel: {eventName: GetSecretValue}\ncondition: sel").replace("title: t\n", "title: t\nname: base\n")
    return (
        base
        + "\n---\ntitle: c\nid: 3f0e7d4c-1f1a-4c1e-b8f5-7d2f3c4b5a66\ncorrelation:\n"
        + f"  type: {corr_type}\n  rules: [base]\n  group-by: [userIdentity.arn]\n  timespan: 5m\n"
        + f"  condition: {condition}\n"
    )


def test_correlation_with_a_less_than_condition_is_unsupported() -> None:
    err = rejected(correlation("{lt: 3}"))
    assert err.code == "sigma_unsupported"
    assert "lt" in err.message


def test_correlation_type_the_engine_lacks_is_unsupported() -> None:
    err = rejected(correlation("{gte: 3, field: x}", corr_type="value_sum"))
    assert err.code == "sigma_unsupported"
    assert "value_sum" in err.message


def test_correlation_referencing_an_unknown_rule_is_invalid() -> None:
    assert rejected(correlation("{gte: 3}").replace("rules: [base]", "rules: [other]")).code == "sigma_invalid"


def test_two_unrelated_rules_in_one_text_are_rejected() -> None:
    other = GOOD.replace("0b6f2f8e-3b1c-4a57-9a0a-6a6f1f6c2a01", "1b6f2f8e-3b1c-4a57-9a0a-6a6f1f6c2a02")
    assert "found 2" in rejected(GOOD + "---\n" + other).message


def test_oversized_text_is_rejected_before_parsing() -> None:
    assert "limit" in rejected("#" * 300_000).message


def test_a_bad_rule_is_reported_and_the_good_ones_still_run() -> None:
    pack = RulePack.from_texts({"good.yml": GOOD, "bad.yml": "title: [unclosed"})

    hits = pack.evaluate([{"eventName": "LeaveOrganization"}])

    assert [h.title for h in hits] == ["good"]
    [error] = pack.errors
    assert error.source == "bad.yml"
    assert error.stage is RuleErrorStage.COMPILE
    assert error.code == "sigma_invalid"


def test_a_rule_failing_at_evaluation_is_reported_and_others_still_run() -> None:
    good = compile_rule(GOOD)
    assert isinstance(good, EventRule)

    def explode(_: Any) -> bool:
        raise RuntimeError("boom")

    broken = EventRule(
        meta=good.meta.model_copy(update={"id": "broken"}), name=None, predicate=explode, index_keys=None
    )
    pack = RulePack([broken, good])

    hits = pack.evaluate([{"eventName": "LeaveOrganization"}, {"eventName": "Other"}])

    assert [h.rule_id for h in hits] == [good.meta.id]
    [error] = pack.errors
    assert (error.source, error.stage, error.occurrences) == ("broken", RuleErrorStage.EVALUATE, 2)


def test_events_that_are_not_objects_are_skipped_and_reported() -> None:
    pack = RulePack([compile_rule(GOOD)])

    hits = pack.evaluate([["not", "a", "record"], {"eventName": "LeaveOrganization"}])  # type: ignore[list-item]

    assert len(hits) == 1
    assert pack.errors[0].code == "event_not_object"


def test_adding_a_rule_id_twice_conflicts() -> None:
    pack = RulePack([compile_rule(GOOD)])
    with pytest.raises(Conflict):
        pack.add(compile_rule(GOOD))


def test_unknown_rule_id_is_not_found() -> None:
    with pytest.raises(NotFound):
        RulePack().disable("nope")
