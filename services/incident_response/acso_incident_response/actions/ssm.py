"""Actions carried out on an instance through Systems Manager, by the service-orchestration agent."""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, Risk, State
from acso_incident_response.actions.delegated import DelegatedAction
from acso_incident_response.actions.ec2 import describe_instance
from acso_incident_response.lifecycle import SENDER
from acso_incident_response.targets import Target, TargetKind
from acso_shared.contracts import OperationRequest


class CollectForensics(DelegatedAction):
    """Collect volatile evidence (processes, sockets, logins) on the instance through SSM.

    The evidence only exists while the instance runs and is reachable, so playbooks run this
    before the instance is isolated. Collecting changes nothing on the instance.
    """

    name: ClassVar[str] = "ssm.collect_forensics"
    iam_actions: ClassVar[tuple[str, ...]] = ("ec2:DescribeInstances",)
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.EC2_INSTANCE
    # The evidence stays: there is nothing to undo.
    revertible: ClassVar[bool] = False

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        # What the evidence was taken from: whether the instance ran and which network it was on.
        instance = await describe_instance(ctx, target.id)
        return {
            "instance_state": instance.get("State", {}).get("Name"),
            "security_groups": sorted(g["GroupId"] for g in instance.get("SecurityGroups", [])),
        }

    def operation_request(self, target: Target, params: dict[str, Any], incident_id: str) -> OperationRequest:
        return OperationRequest(
            operation="collect_forensics",
            instance_ids=[target.id],
            requested_by=SENDER,
            incident_id=incident_id,
            reason=f"incident {incident_id}: volatile evidence of {target.id} before it is isolated",
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"collect volatile forensic evidence on {target.id} through SSM"
