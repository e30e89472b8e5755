"""AWS Config compliance mapping (real response shapes) and the ticket-sync helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from acso_service_orchestration.tickets.sync import comment_key, retry_delay, to_snapshot
from acso_shared.aws.compliance import ComplianceReader, compliance_from_results
from acso_shared.contracts import IncidentComment, TicketSync
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit

RECORDED = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)


def _result(rule: str, compliance: str, annotation: str | None = None) -> dict[str, Any]:
    """One `EvaluationResults` item as GetComplianceDetailsByResource returns it."""
    result: dict[str, Any] = {
        "EvaluationResultIdentifier": {
            "EvaluationResultQualifier": {
                "ConfigRuleName": rule,
                "ResourceType": "AWS::EC2::Instance",
                "ResourceId": "i-0abc12345678",
                "EvaluationMode": "DETECTIVE",
            },
            "OrderingTimestamp": RECORDED,
        },
        "ComplianceType": compliance,
        "ResultRecordedTime": RECORDED,
        "ConfigRuleInvokedTime": RECORDED,
    }
    if annotation:
        result["Annotation"] = annotation
    return result


def test_one_failing_rule_makes_the_resource_non_compliant_and_is_listed_first() -> None:
    verdict = compliance_from_results(
        "AWS::EC2::Instance",
        "i-0abc12345678",
        [_result("ec2-imdsv2-check", "COMPLIANT"), _result("restricted-ssh", "NON_COMPLIANT", "port 22 open")],
    )
    assert verdict.state == "non_compliant"
    assert [(r.rule, r.compliance, r.annotation) for r in verdict.rules] == [
        ("restricted-ssh", "NON_COMPLIANT", "port 22 open"),
        ("ec2-imdsv2-check", "COMPLIANT", None),
    ]
    assert verdict.rules[0].recorded_at == RECORDED


@pytest.mark.parametrize(
    ("kinds", "state"),
    [(["COMPLIANT", "NOT_APPLICABLE"], "compliant"), (["INSUFFICIENT_DATA"], "not_evaluated"), ([], "not_evaluated")],
)
def test_the_verdict_folds_every_rule(kinds: list[str], state: str) -> None:
    results = [_result(f"rule-{n}", kind) for n, kind in enumerate(kinds)]
    assert compliance_from_results("AWS::EC2::Instance", "i-1", results).state == state


class PagedConfig:
    def __init__(self, pages: list[dict[str, Any]] | None = None, error: str | None = None, status: int = 400) -> None:
        self.pages = pages or []
        self.error = error
        self.status = status
        self.calls: list[dict[str, Any]] = []

    async def get_compliance_details_by_resource(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error:
            response: Any = {"Error": {"Code": self.error}, "ResponseMetadata": {"HTTPStatusCode": self.status}}
            raise ClientError(response, "GetComplianceDetailsByResource")
        return self.pages[len(self.calls) - 1]


async def test_the_reader_follows_next_tokens() -> None:
    config = PagedConfig(
        [
            {"EvaluationResults": [_result("a", "COMPLIANT")], "NextToken": "t1"},
            {"EvaluationResults": [_result("b", "NON_COMPLIANT")]},
        ]
    )

    async def client() -> PagedConfig:
        return config

    verdict = await ComplianceReader(client).resource("i-1")
    assert verdict.state == "non_compliant"
    assert [c.get("NextToken") for c in config.calls] == [None, "t1"]


async def test_an_api_error_degrades_to_unknown_with_the_reason() -> None:
    async def client() -> PagedConfig:
        return PagedConfig(error="NoAvailableConfigurationRecorderException")

    verdict = await ComplianceReader(client).resource("i-1")
    assert (verdict.state, verdict.reason) == ("unknown", "config_error:NoAvailableConfigurationRecorderException")


async def test_config_failing_itself_is_not_asked_again_for_other_resources_for_a_while() -> None:
    config = PagedConfig(error="InternalFailure", status=500)
    clock = [0.0]

    async def client() -> PagedConfig:
        return config

    reader = ComplianceReader(client, unknown_cache_s=30, clock=lambda: clock[0])
    first, second = await reader.resource("i-1"), await reader.resource("i-2")
    assert [c["ResourceId"] for c in config.calls] == ["i-1"]
    assert (second.state, second.reason) == ("unknown", first.reason) == ("unknown", "config_error:InternalFailure")
    clock[0] = 31
    await reader.resource("i-3")
    assert [c["ResourceId"] for c in config.calls] == ["i-1", "i-3"]


async def test_a_refusal_about_one_resource_does_not_stop_questions_about_others() -> None:
    config = PagedConfig(error="AccessDeniedException", status=400)

    async def client() -> PagedConfig:
        return config

    reader = ComplianceReader(client, unknown_cache_s=30)
    await reader.resource("i-1")
    await reader.resource("i-2")
    assert [c["ResourceId"] for c in config.calls] == ["i-1", "i-2"]


def _sync(**overrides: Any) -> TicketSync:
    values: dict[str, Any] = {
        "incident_id": "INC-1",
        "title": "Suspicious access",
        "status": "contained",
        "severity": "high",
        "updated_at": RECORDED,
    }
    values.update(overrides)
    return TicketSync(**values)


def test_a_comment_keeps_its_key_across_snapshots_and_blank_comments_are_dropped() -> None:
    comment = IncidentComment(author="alice", text="Key disabled.", created_at=RECORDED, source="jira")
    blank = IncidentComment(author="bob", text="   ", created_at=RECORDED)
    snapshot = to_snapshot(_sync(comments=[comment, blank]))
    [only] = snapshot.comments
    assert only.id == comment_key(RECORDED, "alice", "Key disabled.")
    assert only.source == "jira"
    assert to_snapshot(_sync(comments=[comment])).comments[0].id == only.id


def test_an_incident_id_unsafe_for_itsm_queries_is_invalid() -> None:
    with pytest.raises(Invalid) as caught:
        to_snapshot(_sync(incident_id="INC-1^ORactive=true"))
    assert caught.value.code == "ticket_sync_invalid"


def test_retries_back_off_exponentially_up_to_the_cap() -> None:
    assert [retry_delay(n, 30, 600) for n in (1, 2, 3, 6)] == [30, 60, 120, 600]
