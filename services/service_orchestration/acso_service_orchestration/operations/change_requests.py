"""How an operation appears as an ITSM change request: the record it opens and the state it keeps.

Pure functions of the change record and the settings, so every mapping is unit-tested:
- type: `emergency` for an emergency operation, `standard` for a low-risk one (pre-approved by the
  change policy), `normal` otherwise; risk and impact follow the operation's risk;
- state follows the operation's status: pending_approval -> New (ACSO's it_operator/admin is the
  approver of record, so ServiceNow's own approval states are not used), approved -> Scheduled
  (it may wait for its window), running -> Implement, finished -> Review then Closed with a close
  code from the outcome, rejected -> Canceled.
"""

from __future__ import annotations

from typing import Final, Literal

from acso_service_orchestration.itsm.models import ChangeRequestSpec, ChangeType, Severity
from acso_service_orchestration.itsm.servicenow import ChangeCloseCode, ChangeState
from acso_service_orchestration.itsm.text import truncate
from acso_service_orchestration.operations.models import Operation, OperationStatus
from acso_service_orchestration.operations.policy import window_interval
from acso_service_orchestration.settings import MaintenanceWindow

_TEXT_MAX: Final = 4000  # ServiceNow's default length of description and the plan fields
_SHORT_MAX: Final = 160
_SHOWN_INSTANCES: Final = 50
_CHANGE_RISK: Final[dict[str, Literal["high", "moderate", "low"]]] = {
    "high": "high",
    "medium": "moderate",
    "low": "low",
}
# Impact pairs with ServiceNow's 1 High / 2 Medium / 3 Low through the adapter's severity mapping.
_IMPACT: Final = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.INFORMATIONAL}
_STATE: Final[dict[OperationStatus, ChangeState]] = {
    "pending_approval": ChangeState.NEW,
    "approved": ChangeState.SCHEDULED,
    "running": ChangeState.IMPLEMENT,
    "succeeded": ChangeState.CLOSED,
    "partially_failed": ChangeState.CLOSED,
    "failed": ChangeState.CLOSED,
    "rejected": ChangeState.CANCELED,
}
_CLOSE_CODE: Final[dict[OperationStatus, ChangeCloseCode]] = {
    "succeeded": "successful",
    "partially_failed": "successful_issues",
    "failed": "unsuccessful",
}


def change_type(operation: Operation) -> ChangeType:
    """Emergency for emergency operations, standard for low risk, normal otherwise."""
    if operation.emergency:
        return ChangeType.EMERGENCY
    return ChangeType.STANDARD if operation.risk == "low" else ChangeType.NORMAL


def _lines(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def change_request_spec(operation: Operation, windows: tuple[MaintenanceWindow, ...]) -> ChangeRequestSpec:
    """The change_request ACSO opens for an operation (correlation_id = the operation id)."""
    writeup = operation.change_request
    title = writeup.title if writeup is not None else f"{operation.operation} on {len(operation.targets)} instance(s)"
    approval = (
        f"Approval required ({', '.join(operation.approval_reasons)}) by an it_operator or admin in ACSO."
        if operation.approval_required
        else "No approval required by the ACSO change policy."
    )
    description = _lines(
        writeup.description if writeup is not None else None,
        f"Justification: {writeup.justification}" if writeup is not None else None,
        f"Risk assessment: {writeup.risk_assessment}" if writeup is not None else None,
        approval,
        f"ACSO operation {operation.id}, requested by {operation.requested_by_name} via {operation.requested_via}"
        + (f" for incident {operation.incident_id}" if operation.incident_id else "")
        + ".",
    )
    ids = [t.instance_id for t in operation.targets]
    shown = ", ".join(ids[:_SHOWN_INSTANCES]) + (
        f" and {len(ids) - _SHOWN_INSTANCES} more" if len(ids) > _SHOWN_INSTANCES else ""
    )
    parameters = "; ".join(f"{name}={' && '.join(values)}" for name, values in sorted(operation.parameters.items()))
    steps = writeup.implementation_steps if writeup is not None else []
    implementation = _lines(
        f"SSM Run Command document {operation.document}" + (f" with {parameters}" if parameters else ""),
        f"Targets ({len(ids)}): {shown}",
        f"Max concurrency {operation.max_concurrency}, max errors {operation.max_errors}; one command per "
        "instance, results recorded per instance on the ACSO change record.",
        *(f"{n}. {step}" for n, step in enumerate(steps, start=1)),
    )
    backout = (
        operation.rollback_plan
        or (writeup.backout_plan if writeup is not None else "")
        or "No automated rollback: restore the instances from their pre-change state."
    )
    test_plan = (
        "Each target's SSM command invocation must end Success with response code 0; ACSO records every "
        f"instance's status, exit code and output on operation {operation.id} and closes this change with them."
    )
    start = end = None
    if operation.window.applies:
        interval = window_interval(windows, operation.created_at)
        if interval is not None:
            start, end = interval
    return ChangeRequestSpec(
        correlation_id=operation.id,
        short_description=truncate(title, _SHORT_MAX),
        description=truncate(description, _TEXT_MAX),
        type=change_type(operation),
        risk=_CHANGE_RISK[operation.risk],
        impact=_IMPACT[operation.risk],
        implementation_plan=truncate(implementation, _TEXT_MAX),
        backout_plan=truncate(backout, _TEXT_MAX),
        test_plan=test_plan,
        start_date=start,
        end_date=end,
    )


def target_state(status: OperationStatus) -> ChangeState:
    """The change_request state that matches an operation status."""
    return _STATE[status]


def close_code(status: OperationStatus) -> ChangeCloseCode:
    """successful, successful_issues or unsuccessful, from how the operation finished."""
    return _CLOSE_CODE[status]


def close_notes(operation: Operation) -> str:
    """The outcome and each instance's result, for the change request's close notes."""
    summary = operation.summary
    head = (
        f"ACSO operation {operation.id} {operation.status}: {summary.get('succeeded', 0)} of "
        f"{summary.get('total', len(operation.instances))} instance(s) succeeded, {summary.get('failed', 0)} failed, "
        f"{summary.get('cancelled', 0)} cancelled."
    )
    lines = [head]
    for instance in operation.instances:
        code = f", exit code {instance.response_code}" if instance.response_code is not None else ""
        command = f", command {instance.command_id}" if instance.command_id else ""
        lines.append(f"{instance.instance_id}: {instance.status}{code}{command}")
    return truncate("\n".join(lines), _TEXT_MAX)


def cancel_notes(operation: Operation) -> str:
    """Why the change request was canceled: the rejection in ACSO."""
    who = operation.rejected_by or "an approver"
    comment = f": {operation.rejection_comment}" if operation.rejection_comment else "."
    return truncate(f"Rejected in ACSO by {who}{comment}", _TEXT_MAX)
