"""How an operation becomes a ServiceNow change request: type, risk, plans, dates, states and notes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from acso_service_orchestration.itsm.models import ChangeType, Severity
from acso_service_orchestration.itsm.servicenow import ChangeState
from acso_service_orchestration.operations.change_requests import (
    cancel_notes,
    change_request_spec,
    close_code,
    close_notes,
    target_state,
)
from acso_service_orchestration.operations.models import InstanceResult, Operation
from acso_service_orchestration.operations.policy import window_interval
from acso_service_orchestration.settings import MaintenanceWindow

pytestmark = pytest.mark.unit

OPERATION_ID = "5f0c8d2e-1b7a-4c3e-9d6f-2a1b3c4d5e6f"
CREATED = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # a Wednesday
WEEKEND = (MaintenanceWindow(days=("sat",), start="22:00", end="04:00"),)


def _operation(**overrides: Any) -> Operation:
    values: dict[str, Any] = {
        "id": OPERATION_ID,
        "operation": "patch",
        "status": "pending_approval",
        "risk": "high",
        "approval_required": True,
        "approval_reasons": ["high_risk"],
        "document": "AWS-RunPatchBaseline",
        "parameters": {"Operation": ["Install"], "RebootOption": ["RebootIfNeeded"]},
        "targets": [{"instance_id": "i-0a1b2c3d4e5f60718"}],
        "max_concurrency": "50%",
        "max_errors": "0",
        "emergency": False,
        "window": {"applies": False, "in_window": True},
        "rollback_plan": "Restore from the pre-patch snapshot.",
        "compliance": [],
        "requested_by": "sub-1",
        "requested_by_name": "demo-it-operator",
        "requested_via": "api",
        "created_at": CREATED,
        **overrides,
    }
    return Operation.model_validate(values)


def test_a_high_risk_operation_is_a_normal_change_with_high_risk_and_impact_and_its_plans() -> None:
    spec = change_request_spec(_operation(), ())

    assert spec.correlation_id == OPERATION_ID
    assert (spec.type, spec.risk, spec.impact) == (ChangeType.NORMAL, "high", Severity.HIGH)
    assert spec.short_description == "patch on 1 instance(s)"
    assert spec.backout_plan == "Restore from the pre-patch snapshot."
    assert "AWS-RunPatchBaseline with Operation=Install; RebootOption=RebootIfNeeded" in spec.implementation_plan
    assert "Targets (1): i-0a1b2c3d4e5f60718" in spec.implementation_plan
    assert "Approval required (high_risk)" in spec.description
    assert OPERATION_ID in spec.test_plan
    assert (spec.start_date, spec.end_date) == (None, None)


def test_low_risk_is_a_standard_change_and_an_emergency_is_an_emergency_change_whatever_its_risk() -> None:
    low = change_request_spec(_operation(risk="low", rollback_plan=None), ())
    emergency = change_request_spec(_operation(risk="low", emergency=True), ())
    medium = change_request_spec(_operation(risk="medium"), ())

    assert (low.type, low.risk, low.impact) == (ChangeType.STANDARD, "low", Severity.INFORMATIONAL)
    assert low.backout_plan.startswith("No automated rollback")
    assert emergency.type is ChangeType.EMERGENCY
    assert (medium.type, medium.risk, medium.impact) == (ChangeType.NORMAL, "moderate", Severity.MEDIUM)


def test_the_write_up_gives_the_title_description_and_steps() -> None:
    writeup = {
        "reasoning": "deterministic",
        "title": "Patch the web tier",
        "description": "Install pending patches.",
        "justification": "CVE-2026-1234",
        "risk_assessment": "Reboots possible.",
        "implementation_steps": ["Drain the node", "Patch"],
        "backout_plan": "Written-up backout",
        "confidence": 1.0,
        "provider": "none",
    }
    spec = change_request_spec(_operation(change_request=writeup), ())

    assert spec.short_description == "Patch the web tier"
    assert spec.description.startswith("Install pending patches.\nJustification: CVE-2026-1234")
    assert "1. Drain the node\n2. Patch" in spec.implementation_plan
    # The catalog's rollback plan is the authority; the write-up only fills in when there is none.
    assert spec.backout_plan == "Restore from the pre-patch snapshot."
    assert change_request_spec(_operation(change_request=writeup, rollback_plan=None), ()).backout_plan == (
        "Written-up backout"
    )


def test_an_operation_bound_to_a_window_is_planned_for_the_next_window() -> None:
    spec = change_request_spec(_operation(window={"applies": True, "in_window": False}), WEEKEND)

    assert spec.start_date == datetime(2026, 11, 7, 22, 0, tzinfo=UTC)
    assert spec.end_date == datetime(2026, 11, 8, 4, 0, tzinfo=UTC)


def test_the_window_interval_is_the_open_window_or_else_the_next() -> None:
    inside = datetime(2026, 11, 8, 1, 0, tzinfo=UTC)  # Sunday 01:00, in Saturday night's window

    assert window_interval(WEEKEND, inside) == (
        datetime(2026, 11, 7, 22, 0, tzinfo=UTC),
        datetime(2026, 11, 8, 4, 0, tzinfo=UTC),
    )
    # At the closing minute that window is over: the next Saturday's is meant.
    assert window_interval(WEEKEND, datetime(2026, 11, 8, 4, 0, tzinfo=UTC)) == (
        datetime(2026, 11, 14, 22, 0, tzinfo=UTC),
        datetime(2026, 11, 15, 4, 0, tzinfo=UTC),
    )
    assert window_interval((), inside) is None


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("pending_approval", ChangeState.NEW),
        ("approved", ChangeState.SCHEDULED),
        ("running", ChangeState.IMPLEMENT),
        ("succeeded", ChangeState.CLOSED),
        ("partially_failed", ChangeState.CLOSED),
        ("failed", ChangeState.CLOSED),
        ("rejected", ChangeState.CANCELED),
    ],
)
def test_the_change_state_follows_the_operation_status(status: Any, state: ChangeState) -> None:
    assert target_state(status) is state


def test_the_close_code_says_how_the_operation_went() -> None:
    assert [close_code(s) for s in ("succeeded", "partially_failed", "failed")] == [
        "successful",
        "successful_issues",
        "unsuccessful",
    ]


def test_close_notes_give_the_summary_and_each_instance() -> None:
    finished = _operation(
        status="partially_failed",
        summary={"total": 2, "succeeded": 1, "failed": 1, "cancelled": 0},
        instances=[
            InstanceResult(instance_id="i-0000000000000000a", status="succeeded", command_id="c-1", response_code=0),
            InstanceResult(instance_id="i-0000000000000000b", status="failed", command_id="c-2", response_code=2),
        ],
    )

    assert close_notes(finished).splitlines() == [
        f"ACSO operation {OPERATION_ID} partially_failed: 1 of 2 instance(s) succeeded, 1 failed, 0 cancelled.",
        "i-0000000000000000a: succeeded, exit code 0, command c-1",
        "i-0000000000000000b: failed, exit code 2, command c-2",
    ]


def test_cancel_notes_name_who_rejected_and_why() -> None:
    with_comment = _operation(status="rejected", rejected_by="demo-admin", rejection_comment="freeze")
    without = _operation(status="rejected", rejected_by="demo-admin")

    assert cancel_notes(with_comment) == "Rejected in ACSO by demo-admin: freeze"
    assert cancel_notes(without) == "Rejected in ACSO by demo-admin."
