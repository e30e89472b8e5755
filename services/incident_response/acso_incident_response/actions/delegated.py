"""Delegated actions: the service-orchestration agent carries them out, under its own approval rules.

Incident response still owns the action (scope guard, ordering, timeline, audit): it asks for the
operation with one `operation.request` on the orchestration task queue and follows the
`operation.result` replies until one is final (see `delegation.py`).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from acso_incident_response.actions.base import ActionType
from acso_incident_response.targets import Target
from acso_shared.contracts import OperationRequest, OperationResult
from acso_shared.errors import Invalid


class DelegatedAction(ActionType):
    """An action whose execution is an operation of the service-orchestration agent."""

    @abstractmethod
    def operation_request(self, target: Target, params: dict[str, Any], incident_id: str) -> OperationRequest:
        """The operation that carries the action out (the same request on every retry)."""


def delegated_action_types(actions: dict[str, ActionType]) -> list[str]:
    """The names of the delegated action types in a catalog."""
    return sorted(name for name, action in actions.items() if isinstance(action, DelegatedAction))


STEP_PREFIX = "action:"
# How far an operation has come before it ends; a result never moves an action back.
_PROGRESS = ("requested", "pending_approval", "approved", "running")
ActionOutcome = Literal["running", "succeeded", "failed", "rejected"]


def operation_step(action_id: str) -> str:
    """The envelope `step` of an action's operation request, which the results carry back."""
    return f"{STEP_PREFIX}{action_id}"


def action_id_of_step(step: str | None) -> str | None:
    """The action a result's `step` names, or None when it names none."""
    if not step or not step.startswith(STEP_PREFIX) or len(step) == len(STEP_PREFIX):
        return None
    return step[len(STEP_PREFIX) :]


@dataclass(frozen=True)
class ResultMeaning:
    """What one `operation.result` means for the action that asked for the operation."""

    action_status: ActionOutcome
    stage: str
    error: str | None = None
    reason: str | None = None


def interpret(result: OperationResult) -> ResultMeaning:
    """Map an operation's status to the action's: progress keeps it running, the rest finish it."""
    status = result.status
    operation = result.operation_id or "(not created)"
    if status in _PROGRESS[1:]:
        return ResultMeaning("running", status)
    if status == "succeeded":
        return ResultMeaning("succeeded", status)
    if status in ("failed", "partially_failed"):
        instances = ", ".join(f"{i}: {s}" for i, s in sorted(result.per_instance.items()))
        detail = f" ({instances})" if instances else ""
        return ResultMeaning("failed", status, error=f"operation_{status}: operation {operation} {status}{detail}")
    if status == "rejected":
        return ResultMeaning("rejected", status, reason=f"operation {operation} was rejected by an it_operator")
    if status.startswith("rejected:"):
        refusal = status.partition(":")[2] or "unspecified"
        return ResultMeaning("rejected", "rejected", reason=f"service orchestration refused the operation: {refusal}")
    raise Invalid("operation_status_unknown", f"operation {operation} reports an unknown status {status!r}")


def advances(recorded: str | None, stage: str) -> bool:
    """Whether a progress stage is news: later than the one recorded (results may arrive out of order)."""
    before = _PROGRESS.index(recorded) if recorded in _PROGRESS else -1
    return _PROGRESS.index(stage) > before
