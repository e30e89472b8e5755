"""Rule lint: fields CloudTrail does not have, objects compared with scalars, conditions that never hold."""

from __future__ import annotations

import textwrap

import pytest

from acso_shared.hunting.lint import LintFinding, Severity, known_field, lint_text

pytestmark = pytest.mark.unit


def lint(detection: str) -> list[LintFinding]:
    text = (
        "title: linted\nid: 0b9d2a4e-3c55-4f71-8a9e-1d2f3a4b5c6d\n"
        "logsource: {product: aws, service: cloudtrail}\ndetection:\n"
        + textwrap.indent(textwrap.dedent(detection), "  ")
    )
    return lint_text(text)


def codes(findings: list[LintFinding]) -> set[tuple[str, str, str | None]]:
    return {(f.severity.value, f.code, f.field) for f in findings}


def test_a_clean_rule_has_no_findings() -> None:
    detection = """
    sel:
      eventSource: cloudtrail.amazonaws.com
      eventName: [StopLogging, DeleteTrail]
      userIdentity.sessionContext.sessionIssuer.arn|endswith: ':role/admin'
      requestParameters.name|contains: prod
      readOnly: false
    condition: sel
    """
    assert lint(detection) == []


def test_object_valued_fields_compared_with_scalars_are_errors() -> None:
    found = codes(lint("sel:\n  requestParameters: foo\n  userIdentity: x\ncondition: sel"))
    assert ("error", "field_is_object", "requestParameters") in found
    assert ("error", "field_is_object", "userIdentity") in found


def test_an_existence_test_on_an_object_field_is_fine() -> None:
    assert lint("sel:\n  additionalEventData|exists: true\ncondition: sel") == []


def test_fields_outside_the_record_format_are_warnings() -> None:
    found = codes(lint("sel:\n  eventNmae: StopLogging\n  userIdentity.usrName: bob\ncondition: sel"))
    assert ("warning", "field_unknown", "eventNmae") in found
    assert ("warning", "field_unknown", "userIdentity.usrName") in found


def test_api_specific_objects_are_not_checked_below_their_top_level() -> None:
    for field in ("requestParameters.anything.deep", "responseElements.x", "additionalEventData.MFAUsed"):
        assert known_field(field)
    assert not known_field("eventName.x")


def test_an_event_source_that_is_no_endpoint_never_matches() -> None:
    found = lint("sel: {eventSource: cloudtrail}\ncondition: sel")
    assert codes(found) == {("error", "value_impossible", "eventSource")}
    assert "amazonaws.com" in found[0].message


def test_a_field_required_to_equal_two_values_at_once_is_unsatisfiable() -> None:
    found = lint("a: {eventName: StopLogging}\nb: {eventName: DeleteTrail}\ncondition: a and b")
    assert codes(found) == {("error", "condition_unsatisfiable", "eventName")}


def test_overlapping_requirements_are_satisfiable() -> None:
    assert lint("a: {eventName: [StopLogging, DeleteTrail]}\nb: {eventName: DeleteTrail}\ncondition: a and b") == []


def test_a_contradiction_in_one_alternative_only_is_still_reported() -> None:
    detection = "a: {eventName: A}\nb: {eventName: B}\nc: {eventName: C}\ncondition: (a and b) or c"
    assert ("error", "condition_unsatisfiable", "eventName") in codes(lint(detection))


def test_a_bare_negation_is_flagged_as_firing_on_nearly_everything() -> None:
    found = lint("a: {eventName: StopLogging}\ncondition: not a")
    assert [(f.severity, f.code) for f in found] == [(Severity.WARNING, "condition_unanchored")]


def test_booleans_take_only_true_or_false() -> None:
    assert codes(lint("sel: {readOnly: 'no'}\ncondition: sel")) == {("error", "value_impossible", "readOnly")}


def test_text_that_is_not_sigma_has_no_lint_findings() -> None:
    assert lint_text("detection: [") == []
