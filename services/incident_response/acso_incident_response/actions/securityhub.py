"""Close the loop on a Security Hub finding: verify the remediation on the resource, then resolve the finding.

The finding target carries the resource the finding is about, so this step reads that resource again
with the remediation's own check before it touches the finding: a remediation that failed, was
rejected or blocked, or was undone since, leaves the finding open (the steps after an action run
whatever its outcome). moto has no `BatchUpdateFindings`; the request is unit-specified against the
botocore service model instead.
"""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, State, call
from acso_incident_response.targets import Target, TargetKind
from acso_shared.errors import Conflict, Invalid, Upstream

UPDATED_BY = "acso-incident-response"
RESOLVED = "RESOLVED"


def product_arn(finding_id: str) -> str:
    """The Security Hub product ARN of a Security Hub control finding, from the finding's own ARN."""
    parts = finding_id.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "securityhub" or not parts[3]:
        raise Invalid("finding_id_invalid", f"{finding_id} is not a Security Hub finding ARN")
    return f"arn:{parts[1]}:securityhub:{parts[3]}::product/aws/securityhub"


def resolve_request(finding_id: str, note: str, status: str = RESOLVED) -> dict[str, Any]:
    """The BatchUpdateFindings request that sets a finding's workflow status, with a note."""
    return {
        "FindingIdentifiers": [{"Id": finding_id, "ProductArn": product_arn(finding_id)}],
        "Workflow": {"Status": status},
        "Note": {"Text": note[:512], "UpdatedBy": UPDATED_BY},
    }


class ResolveFinding(DirectAction):
    """Mark the finding RESOLVED with a note, once the remediation's check (`params.verify`) passes.

    `params.verify` names the remediation action and `params.verify_params` its parameters; the
    check is that action's own reading of the resource. Revert sets the workflow status found before.
    """

    name: ClassVar[str] = "securityhub.resolve_finding"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.SECURITYHUB_FINDING
    iam_actions: ClassVar[tuple[str, ...]] = ("securityhub:GetFindings", "securityhub:BatchUpdateFindings")
    not_emulated: ClassVar[tuple[str, ...]] = ("securityhub:BatchUpdateFindings",)

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        resource, finding_id = target.finding
        return {
            "finding_id": finding_id,
            "resource": resource.key,
            "workflow": await finding_workflow(ctx, finding_id),
            "remediated": await remediated(ctx, resource, params),
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["workflow"] == RESOLVED)

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        if not state["remediated"]:
            raise Conflict(
                "finding_not_remediated",
                f"{state['resource']} still fails the check of {params.get('verify')}; the finding stays open",
            )
        note = (
            f"ACSO incident {ctx.incident_id}: remediated by {params.get('verify')} and verified by reading"
            f" {state['resource']} again (action {ctx.action_id})"
        )
        await update_workflow(ctx, state["finding_id"], note, RESOLVED)

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        note = f"ACSO incident {ctx.incident_id}: the remediation was reverted; the finding is open again"
        await update_workflow(ctx, before["finding_id"], note, before["workflow"] or "NEW")

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"workflow_status": {"from": state["workflow"], "to": RESOLVED}, "remediated_now": state["remediated"]}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        _, finding_id = target.finding
        return f"mark Security Hub finding {finding_id} RESOLVED with a note, once {params.get('verify')} verifies"


async def remediated(ctx: ActionContext, resource: Target, params: dict[str, Any]) -> bool:
    """Whether the remediation named by `params.verify` finds the resource in its wanted state."""
    from acso_incident_response.actions.catalog import ACTIONS  # the catalog imports this module

    check = ACTIONS.get(str(params.get("verify")))
    if not isinstance(check, DirectAction) or check.target_kind is not resource.kind:
        raise Invalid("verify_action_invalid", f"{params.get('verify')!r} cannot check {resource.key}")
    verify_params = dict(params.get("verify_params", {}))
    return check.done(await check.current(ctx, resource, verify_params), verify_params)


async def finding_workflow(ctx: ActionContext, finding_id: str) -> str | None:
    """The finding's workflow status, or None when Security Hub does not know the finding."""
    found = await call(
        ctx,
        "securityhub",
        "GetFindings",
        Filters={"Id": [{"Value": finding_id, "Comparison": "EQUALS"}]},
        MaxResults=10,
    )
    for finding in found.get("Findings", []):
        # Filter here too: an emulator that ignores filters returns every finding.
        if finding.get("Id") == finding_id:
            return str((finding.get("Workflow") or {}).get("Status") or finding.get("WorkflowState") or "NEW")
    return None


async def update_workflow(ctx: ActionContext, finding_id: str, note: str, status: str) -> None:
    response = await call(ctx, "securityhub", "BatchUpdateFindings", **resolve_request(finding_id, note, status))
    refused = response.get("UnprocessedFindings", [])
    if refused:
        codes = ", ".join(str(r.get("ErrorCode")) for r in refused)
        raise Upstream("finding_update_refused", f"Security Hub did not update {finding_id}: {codes}")
