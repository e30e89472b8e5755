"""EKS actions: tag the cluster, restrict its public API endpoint, and hand Kubernetes-side work over.

The AWS API reaches the cluster's configuration, not what runs inside it: isolating a pod, removing
a role binding or an anonymous-access grant needs the Kubernetes API. That part is an operation of
the service-orchestration agent (an SSM runbook on the cluster's nodes, under its approval rules and
with its change ticket), which incident response requests and follows like any delegated action.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from acso_incident_response.actions.base import (
    ActionContext,
    DirectAction,
    Risk,
    SettingsAction,
    State,
    aws_code,
    call,
)
from acso_incident_response.actions.delegated import DelegatedAction
from acso_incident_response.lifecycle import SENDER
from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target, TargetKind
from acso_shared.contracts import OperationRequest
from acso_shared.errors import Invalid
from acso_shared.logging import get_logger


async def describe_cluster(ctx: ActionContext, name: str) -> dict[str, Any]:
    return dict((await call(ctx, "eks", "DescribeCluster", name=name))["cluster"])


async def cluster_tags(ctx: ActionContext, name: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in (await describe_cluster(ctx, name)).get("tags", {}).items()}


class TagCluster(DirectAction):
    """Tag the cluster with its incident, so whoever looks at it knows it is under investigation."""

    name: ClassVar[str] = "eks.tag_cluster"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.EKS_CLUSTER
    iam_actions: ClassVar[tuple[str, ...]] = ("eks:DescribeCluster", "eks:TagResource", "eks:UntagResource")

    def _wanted(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, str]:
        return {"acso:incident": ctx.incident_id, **{str(k): str(v) for k, v in params.get("tags", {}).items()}}

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        cluster = await describe_cluster(ctx, target.id)
        tags = cluster.get("tags", {})
        wanted = self._wanted(ctx, params)
        return {"arn": cluster["arn"], "tags": {k: tags.get(k) for k in sorted(wanted)}, "wanted": wanted}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return all(state["tags"].get(k) == v for k, v in state["wanted"].items())

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(ctx, "eks", "TagResource", resourceArn=state["arn"], tags=state["wanted"])

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        restore = {k: v for k, v in before["tags"].items() if v is not None}
        remove = [k for k, v in before["tags"].items() if v is None]
        if restore:
            await call(ctx, "eks", "TagResource", resourceArn=before["arn"], tags=restore)
        for key in remove:
            # One key per call: the emulator keeps only one of a repeated `tagKeys` query parameter.
            await call(ctx, "eks", "UntagResource", resourceArn=before["arn"], tagKeys=[key])

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"tag EKS cluster {target.id} with its incident"


class RestrictPublicEndpoint(SettingsAction):
    """Limit the cluster's public API endpoint to the allow-listed CIDRs, or close it.

    The allow-list is the operator's (`ACSO_EKS_ENDPOINT_ALLOWED_CIDRS`, put into `params.cidrs` when
    the step is planned); without one the public endpoint is turned off and the private one on.

    High risk: whoever manages the cluster from outside the allow-list loses access until reverted.
    With `public_access: false` (Security Hub EKS.1) the public endpoint is turned off, and the
    private endpoint on, so the cluster stays reachable from its VPC.
    """

    name: ClassVar[str] = "eks.restrict_public_endpoint"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.EKS_CLUSTER
    iam_actions: ClassVar[tuple[str, ...]] = (
        "eks:DescribeCluster",
        "eks:UpdateClusterConfig",
        "eks:ListUpdates",
        "eks:DescribeUpdate",
    )

    def planned_params(self, params: dict[str, Any], settings: Settings) -> dict[str, Any]:
        if "cidrs" in params or params.get("public_access") is False or not settings.eks_endpoint_allowed_cidrs:
            return params
        return {**params, "cidrs": list(settings.eks_endpoint_allowed_cidrs)}

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        config = (await describe_cluster(ctx, target.id)).get("resourcesVpcConfig", {})
        settings = {
            "endpointPublicAccess": bool(config.get("endpointPublicAccess", True)),
            "endpointPrivateAccess": bool(config.get("endpointPrivateAccess", False)),
            "publicAccessCidrs": sorted(config.get("publicAccessCidrs") or ["0.0.0.0/0"]),
        }
        # EKS applies an endpoint change over minutes; an accepted one is the configuration being set.
        return settings | await _endpoint_update_in_progress(ctx, target.id)

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("public_access") is False or not params.get("cidrs"):
            return {"endpointPublicAccess": False, "endpointPrivateAccess": True}
        cidrs = sorted(str(c) for c in params.get("cidrs", []))
        if not cidrs or any(c in ("0.0.0.0/0", "::/0") for c in cidrs):
            raise Invalid(
                "eks_allow_list_invalid", "restricting the endpoint needs an allow-list of CIDRs, not the world"
            )
        return {"endpointPublicAccess": True, "publicAccessCidrs": cidrs}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        await call(ctx, "eks", "UpdateClusterConfig", name=target.id, resourcesVpcConfig=values)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        if params.get("public_access") is False or not params.get("cidrs"):
            return f"turn off the public API endpoint of EKS cluster {target.id} (private endpoint on)"
        return f"restrict the public API endpoint of EKS cluster {target.id} to {', '.join(params.get('cidrs', []))}"


log = get_logger("acso.incident_response.actions.eks")

_UPDATE_PARAMS = {
    "EndpointPublicAccess": "endpointPublicAccess",
    "EndpointPrivateAccess": "endpointPrivateAccess",
    "PublicAccessCidrs": "publicAccessCidrs",
}


async def _endpoint_update_in_progress(ctx: ActionContext, name: str) -> dict[str, Any]:
    """The settings of an endpoint-access update EKS has accepted and not finished (empty: none).

    An emulator without the update APIs (moto applies the change at once) has nothing in progress.
    """
    # One attempt: the lookup is a refinement, not worth a retry budget.
    eks = await ctx.clients.client("eks", attempts=1)
    try:
        updates = (await eks.list_updates(name=name)).get("updateIds", [])
        for update_id in updates:
            update = (await eks.describe_update(name=name, updateId=update_id))["update"]
            if update.get("type") != "EndpointAccessUpdate" or update.get("status") != "InProgress":
                continue
            found: dict[str, Any] = {}
            for param in update.get("params", []):
                key = _UPDATE_PARAMS.get(param.get("type", ""))
                if key == "publicAccessCidrs":
                    found[key] = sorted(json.loads(param["value"]))
                elif key:
                    found[key] = str(param.get("value")).lower() == "true"
            return found
    except Exception as err:
        # Without it the described configuration stands; at worst a change still in progress
        # reads as not done yet, and the action says so.
        log.warning("eks_update_lookup_failed", cluster=name, code=aws_code(err) or type(err).__name__)
    return {}


class KubernetesResponse(DelegatedAction):
    """The Kubernetes-side response (isolate the workload, revoke the binding), done by service orchestration.

    `params.runbook` names the orchestration runbook; it runs on the cluster's nodes (tag
    `eks:cluster-name`) and opens the operation's change ticket there.
    """

    name: ClassVar[str] = "eks.kubernetes_response"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.EKS_CLUSTER
    revertible: ClassVar[bool] = False
    iam_actions: ClassVar[tuple[str, ...]] = ("eks:DescribeCluster",)

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        cluster = await describe_cluster(ctx, target.id)
        return {"status": cluster.get("status"), "version": cluster.get("version"), "arn": cluster.get("arn")}

    def operation_request(self, target: Target, params: dict[str, Any], incident_id: str) -> OperationRequest:
        return OperationRequest(
            operation="run_runbook",
            tag_filter={"eks:cluster-name": target.id},
            parameters={"runbook": str(params.get("runbook", "eks-isolate-workload"))},
            requested_by=SENDER,
            incident_id=incident_id,
            reason=(
                f"incident {incident_id}: GuardDuty finding on EKS cluster {target.id} needs a Kubernetes API change"
                f" ({params.get('why', 'isolate the affected workload')}); the AWS API cannot make it"
            ),
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return (
            f"ask service orchestration to {params.get('why', 'isolate the affected workload')} in EKS cluster"
            f" {target.id} through the Kubernetes API (runbook {params.get('runbook', 'eks-isolate-workload')})"
        )
