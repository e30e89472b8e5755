"""The change-request write-up of an operation, through the reasoning layer.

The deterministic write-up comes from the change record alone (operation, document, targets, risk,
approval reasons, window, rollback plan) and always exists; the model may write it up for ITSM
reviewers. The requester's reason is free text and reaches the model only as quoted evidence;
target instance ids are validated on the way in and are the only identifiers the write-up may name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from acso_service_orchestration.operations.models import Operation
from acso_shared.llm import Evidence, Purpose, ReasoningLayer, ReasoningOutcome, ReasoningTask
from acso_shared.llm.outputs import ChangeRequestWriteup
from acso_shared.llm.records import reasoning_record

PURPOSE = Purpose.CHANGE_REQUEST
Publish = Callable[[ReasoningOutcome[ChangeRequestWriteup]], Awaitable[object]]


def _targets(operation: Operation) -> str:
    ids = [t.instance_id for t in operation.targets]
    return ", ".join(ids[:20]) + (f" and {len(ids) - 20} more" if len(ids) > 20 else "")


def deterministic_writeup(operation: Operation) -> ChangeRequestWriteup:
    """The write-up the change record gives on its own."""
    approval = (
        "approval required: " + "; ".join(operation.approval_reasons)
        if operation.approval_required
        else "no approval required by the change policy"
    )
    window = "must run inside a maintenance window" if operation.window.applies else "not bound to a maintenance window"
    requested = f"Requested by {operation.requested_by_name} via {operation.requested_via}" + (
        f" for incident {operation.incident_id}" if operation.incident_id else ""
    )
    return ChangeRequestWriteup(
        title=f"{operation.operation} on {len(operation.targets)} instance(s)"[:160],
        description=(
            f"Run SSM document {operation.document} on {_targets(operation)} "
            f"(max concurrency {operation.max_concurrency}, max errors {operation.max_errors})."
        )[:4000],
        justification=(f"{requested}. Reason given: {operation.reason}" if operation.reason else f"{requested}.")[
            :2000
        ],
        risk_assessment=f"Risk {operation.risk}; {approval}; {window}."[:2000],
        implementation_steps=[
            f"Confirm the targets are running: {_targets(operation)}",
            f"Send {operation.document} through SSM Run Command with the recorded parameters",
            "Record each instance's result on the change record and report the outcome",
        ],
        backout_plan=(operation.rollback_plan or "No automated rollback: restore from the pre-change state.")[:2000],
        confidence=1.0,
    )


def instruction(operation: Operation) -> str:
    """Trusted text only: validated enums, counts and document names from the change record."""
    return (
        f"Write the change request for operation {operation.operation} (SSM document {operation.document}) on "
        f"{len(operation.targets)} instance(s): risk {operation.risk}, "
        f"{'approval required' if operation.approval_required else 'no approval required'}, "
        f"{'maintenance window applies' if operation.window.applies else 'no maintenance window'}, "
        f"rollback plan: {'yes' if operation.rollback_plan else 'none recorded'}. "
        "The requester's stated reason follows as quoted evidence."
    )


class ChangeRequestWriter:
    """Writes change requests through the runtime's reasoning layer."""

    def __init__(self, layer: ReasoningLayer, publish: Publish) -> None:
        self._layer = layer
        self._publish = publish

    async def write(self, operation: Operation) -> dict[str, Any]:
        """The change-request record: the write-up and how it was written."""
        evidence = [Evidence(source="operation.reason", text=operation.reason)] if operation.reason else []
        outcome = await self._layer.run(
            ReasoningTask(
                agent="service_orchestration",
                purpose=PURPOSE.value,
                instruction=instruction(operation),
                output_model=ChangeRequestWriteup,
                deterministic=deterministic_writeup(operation),
                evidence=evidence,
                allowed_resources=frozenset(t.instance_id for t in operation.targets),
                incident_id=operation.incident_id,
            )
        )
        await self._publish(outcome)
        return {**reasoning_record(outcome), **outcome.output.model_dump(mode="json")}
