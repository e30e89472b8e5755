"""Delegated actions without I/O: what each operation result means for the action, and the malware playbook."""

from __future__ import annotations

import pytest

from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.actions.delegated import (
    DelegatedAction,
    ResultMeaning,
    action_id_of_step,
    advances,
    delegated_action_types,
    interpret,
    operation_step,
)
from acso_incident_response.playbook import load_playbooks, select_playbook
from acso_incident_response.targets import Target, TargetKind
from acso_shared.contracts import OperationRequest, OperationResult
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit

BOOKS = load_playbooks()


def _result(status: str, operation_id: str = "op-1", **per_instance: str) -> OperationResult:
    return OperationResult(operation_id=operation_id, incident_id="inc-1", status=status, per_instance=per_instance)


@pytest.mark.parametrize("status", ["pending_approval", "approved", "running"])
def test_progress_keeps_the_action_running(status: str) -> None:
    assert interpret(_result(status)) == ResultMeaning("running", status)


def test_a_succeeded_operation_succeeds_the_action() -> None:
    assert interpret(_result("succeeded", **{"i-1": "succeeded"})) == ResultMeaning("succeeded", "succeeded")


@pytest.mark.parametrize("status", ["failed", "partially_failed"])
def test_a_failed_operation_fails_the_action_with_an_error_naming_operation_and_status(status: str) -> None:
    meaning = interpret(_result(status, "op-42", **{"i-2": "failed", "i-1": "succeeded"}))

    assert meaning.action_status == "failed"
    assert meaning.error == f"operation_{status}: operation op-42 {status} (i-1: succeeded, i-2: failed)"


def test_an_operation_rejected_by_an_operator_rejects_the_action() -> None:
    meaning = interpret(_result("rejected", "op-7"))

    assert meaning.action_status == "rejected"
    assert meaning.reason == "operation op-7 was rejected by an it_operator"


def test_an_operation_the_policy_refuses_rejects_the_action_with_the_policy_reason() -> None:
    meaning = interpret(_result("rejected:instances_not_running", ""))

    assert meaning == ResultMeaning(
        "rejected", "rejected", reason="service orchestration refused the operation: instances_not_running"
    )


@pytest.mark.parametrize("status", ["requested", "cancelled", "", "weird"])
def test_an_unknown_status_is_invalid(status: str) -> None:
    with pytest.raises(Invalid) as caught:
        interpret(_result(status))
    assert caught.value.code == "operation_status_unknown"


def test_progress_never_moves_back_and_the_same_stage_twice_is_no_news() -> None:
    assert advances("requested", "pending_approval")
    assert advances("pending_approval", "approved")
    assert advances(None, "running")
    assert not advances("pending_approval", "pending_approval")
    assert not advances("approved", "pending_approval")
    assert not advances("running", "approved")


def test_the_request_step_carries_the_action_id_back() -> None:
    assert operation_step("a-1") == "action:a-1"
    assert action_id_of_step(operation_step("a-1")) == "a-1"
    assert action_id_of_step("action:") is None
    assert action_id_of_step("ticket_sync") is None
    assert action_id_of_step(None) is None


def test_forensic_collection_is_a_low_risk_irreversible_action_delegated_to_orchestration() -> None:
    action = ACTIONS["ssm.collect_forensics"]

    assert isinstance(action, DelegatedAction)
    assert (action.risk, action.revertible, action.target_kind) == ("low", False, TargetKind.EC2_INSTANCE)
    assert delegated_action_types(ACTIONS) == ["eks.kubernetes_response", "ssm.collect_forensics"]
    request = action.operation_request(Target(TargetKind.EC2_INSTANCE, "i-0abc", "123456789012"), {}, "inc-9")
    assert request == OperationRequest(
        operation="collect_forensics",
        instance_ids=["i-0abc"],
        requested_by="incident_response",
        incident_id="inc-9",
        reason=request.reason,
    )
    assert "inc-9" in request.reason
    assert request.parameters == {}


@pytest.mark.parametrize("finding_type", ["Backdoor:EC2/C&CActivity.B!DNS", "Trojan:EC2/DropPoint"])
def test_malware_findings_take_the_malware_playbook(finding_type: str) -> None:
    book = select_playbook(BOOKS, finding_type, ["T1071"], [TargetKind.EC2_INSTANCE, TargetKind.IP])

    assert book is not None
    assert book.id == "malware-ec2-instance"


@pytest.mark.parametrize("finding_type", ["UnauthorizedAccess:EC2/TorIPCaller", "UnauthorizedAccess:EC2/TorClient"])
def test_unauthorized_access_stays_on_the_compromised_instance_fast_path(finding_type: str) -> None:
    book = select_playbook(BOOKS, finding_type, [], [TargetKind.EC2_INSTANCE, TargetKind.IP])

    assert book is not None
    assert book.id == "compromised-ec2-instance"
    assert "ssm.collect_forensics" not in [s.action for s in book.steps]


def test_the_malware_playbook_collects_evidence_in_parallel_then_quarantines_tags_and_blocks() -> None:
    book = next(b for b in BOOKS if b.id == "malware-ec2-instance")
    steps = {s.id: (s.action, set(s.after)) for s in book.steps}

    assert steps == {
        "collect-forensics": ("ssm.collect_forensics", set()),
        "forensic-snapshot": ("ec2.snapshot_volumes", set()),
        "quarantine": ("ec2.quarantine", {"collect-forensics", "forensic-snapshot"}),
        "tag": ("ec2.tag", {"quarantine"}),
        "block-ip": ("waf.block_ip", {"quarantine"}),
    }
    assert book.description
