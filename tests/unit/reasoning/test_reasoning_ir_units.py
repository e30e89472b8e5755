"""Incident-response reasoning without I/O: proposal review, deterministic plans, incident usage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.planning import action_id_for
from acso_incident_response.reasoning import (
    PROPOSAL_TOOLS,
    deterministic_plan,
    incident_usage,
    review_proposals,
    scope_of,
)
from acso_shared.alerts.models import (
    NormalizedAlert,
    Observable,
    ObservableType,
    Resource,
    ResourceType,
    Severity,
    SeverityId,
    SeverityLabel,
    SourceFormat,
)
from acso_shared.contracts import TriageResult
from acso_shared.llm import Proposal

pytestmark = pytest.mark.unit

INSTANCE = "i-0123456789abcdef0"
PUBLIC_IP = "8.8.4.4"


def alert() -> NormalizedAlert:
    now = datetime.now(UTC)
    return NormalizedAlert(
        alert_id=uuid.uuid4(),
        source="aws.guardduty",
        source_format=SourceFormat.GUARDDUTY_FINDING,
        source_id="f-1",
        product="GuardDuty",
        title="Tor client",
        type="UnauthorizedAccess:EC2/TorClient",
        severity=Severity(id=SeverityId.HIGH, label=SeverityLabel.HIGH),
        occurred_at=now,
        first_seen=now,
        last_seen=now,
        account_id="123456789012",
        resources=[Resource(type=ResourceType.EC2_INSTANCE, id=INSTANCE)],
        observables=[
            Observable(type=ObservableType.IP, value=PUBLIC_IP),
            Observable(type=ObservableType.IP, value="10.0.0.7"),
        ],
        raw={},
    )


def proposal(tool: str, action: str, field: str, value: str, rationale: str = "") -> Proposal:
    return Proposal(
        proposal_id=f"prop-{uuid.uuid4().hex[:8]}",
        action=action,
        tool=tool,
        resource_ids={field: value},
        parameters={"rationale": rationale},
    )


def test_every_proposal_tool_proposes_an_action_on_the_kind_of_target_it_names() -> None:
    for tool in PROPOSAL_TOOLS:
        assert ACTIONS[tool.action].target_kind is tool.kind, tool.name


def test_the_scope_holds_the_alerts_targets_and_not_its_private_addresses() -> None:
    assert scope_of(alert()).allowed == frozenset({INSTANCE, PUBLIC_IP})


def test_a_new_proposal_becomes_a_step_that_runs_after_the_playbook() -> None:
    [review] = review_proposals(
        "inc-1",
        [proposal("stop_instance", "ec2.stop", "instance_id", INSTANCE)],
        scope_of(alert()),
        {},
        ["forensic-snapshot", "quarantine"],
    )

    assert review.outcome == "planned"
    assert review.step is not None
    assert (review.step.id, review.step.after) == ("llm-ec2-stop", ("forensic-snapshot", "quarantine"))
    assert review.action_id == action_id_for("inc-1", "llm-ec2-stop", f"ec2_instance:{INSTANCE}")


def test_a_proposal_the_playbook_already_planned_or_repeated_in_the_run_is_a_duplicate() -> None:
    existing = {("ec2.quarantine", f"ec2_instance:{INSTANCE}"): "action-1"}
    reviews = review_proposals(
        "inc-1",
        [
            proposal("isolate_instance", "ec2.quarantine", "instance_id", INSTANCE),
            proposal("block_ip", "waf.block_ip", "ip", PUBLIC_IP, "first"),
            proposal("block_ip", "waf.block_ip", "ip", PUBLIC_IP, "second"),
        ],
        scope_of(alert()),
        existing,
        [],
    )

    assert [(r.outcome, r.action_id is not None) for r in reviews] == [
        ("duplicate", True),
        ("planned", True),
        ("duplicate", True),
    ]
    assert reviews[0].action_id == "action-1"
    assert reviews[2].action_id == reviews[1].action_id


def test_an_alert_identifier_offered_to_a_tool_of_another_kind_is_refused() -> None:
    [review] = review_proposals(
        "inc-1",
        [proposal("isolate_instance", "ec2.quarantine", "instance_id", PUBLIC_IP)],
        scope_of(alert()),
        {},
        [],
    )

    assert (review.outcome, review.code, review.step) == ("refused", "target_not_in_alert", None)


def test_without_a_playbook_the_plan_says_there_is_no_automated_containment() -> None:
    triage = TriageResult(
        incident_id="inc-1", alert_id="a-1", verdict="suspicious", severity=SeverityLabel.MEDIUM, confidence=0.5
    )

    plan = deterministic_plan(alert(), triage, None, [])

    assert plan.summary.startswith("No playbook matches UnauthorizedAccess:EC2/TorClient")
    assert plan.confidence == 1.0


def test_the_incident_usage_adds_triage_plan_and_every_summary() -> None:
    reasoning = {
        "triage": {"usage": {"model_calls": 1, "input_tokens": 100, "output_tokens": 10, "cost_usd": "0.001"}},
        "plan": {"usage": {"model_calls": 2, "input_tokens": 200, "output_tokens": 20, "cost_usd": "0.002"}},
        "summaries_usage": {"model_calls": 3, "input_tokens": 300, "output_tokens": 30, "cost_usd": "0.003"},
        "summary": {"usage": {"model_calls": 1, "input_tokens": 999}},
    }

    usage = incident_usage(reasoning)

    # The latest summary's usage is already inside summaries_usage: it is not counted twice.
    assert (usage["model_calls"], usage["input_tokens"], usage["total_tokens"]) == (6, 600, 660)
    assert float(usage["cost_usd"]) == pytest.approx(0.006)
