"""VPC, subnet and instance-setting remediations: flow logs (EC2.6), no public IPs on launch (EC2.15),
IMDSv2 only (EC2.8)."""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, SettingsAction, State, call
from acso_incident_response.actions.ec2 import ACTION_TAG, describe_instance
from acso_incident_response.actions.roles import LOG_BUCKET_IAM, ensure_log_bucket
from acso_incident_response.targets import Target, TargetKind
from acso_shared.errors import NotFound, Upstream


async def vpc_tags(ctx: ActionContext, vpc_id: str) -> dict[str, str]:
    for vpc in (await call(ctx, "ec2", "DescribeVpcs", VpcIds=[vpc_id])).get("Vpcs", []):
        return {t["Key"]: t["Value"] for t in vpc.get("Tags", [])}
    raise NotFound("vpc_not_found", f"VPC {vpc_id} does not exist")


async def describe_subnet(ctx: ActionContext, subnet_id: str) -> dict[str, Any]:
    for subnet in (await call(ctx, "ec2", "DescribeSubnets", SubnetIds=[subnet_id])).get("Subnets", []):
        return dict(subnet)
    raise NotFound("subnet_not_found", f"subnet {subnet_id} does not exist")


async def subnet_tags(ctx: ActionContext, subnet_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in (await describe_subnet(ctx, subnet_id)).get("Tags", [])}


class EnableFlowLogs(DirectAction):
    """EC2.6: VPC flow logs of rejected traffic (`params.traffic`, REJECT as FSBP asks) to the ACSO log bucket.

    Delivered to S3, so no IAM role is needed. Revert deletes the flow logs this action created.
    """

    name: ClassVar[str] = "ec2.enable_flow_logs"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.VPC
    iam_actions: ClassVar[tuple[str, ...]] = (
        "ec2:DescribeFlowLogs",
        "ec2:CreateFlowLogs",
        "ec2:DeleteFlowLogs",
        "ec2:CreateTags",
        "logs:CreateLogDelivery",
        "logs:DeleteLogDelivery",
        *LOG_BUCKET_IAM,
    )

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        found = await call(ctx, "ec2", "DescribeFlowLogs", Filters=[{"Name": "resource-id", "Values": [target.id]}])
        logs = found.get("FlowLogs", [])
        mine = [f["FlowLogId"] for f in logs if {"Key": ACTION_TAG, "Value": ctx.action_id} in f.get("Tags", [])]
        return {"flow_logs": sorted(f["FlowLogId"] for f in logs), "created": sorted(mine)}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["flow_logs"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        bucket = await ensure_log_bucket(ctx, target.account_id or "")
        response = await call(
            ctx,
            "ec2",
            "CreateFlowLogs",
            ResourceIds=[target.id],
            ResourceType="VPC",
            TrafficType=str(params.get("traffic", "REJECT")),
            LogDestinationType="s3",
            LogDestination=f"arn:aws:s3:::{bucket}",
            TagSpecifications=[
                {
                    "ResourceType": "vpc-flow-log",
                    "Tags": [
                        {"Key": ACTION_TAG, "Value": ctx.action_id},
                        {"Key": "acso:incident", "Value": ctx.incident_id},
                    ],
                }
            ],
        )
        # CreateFlowLogs answers 200 with the refusals listed per resource.
        refused = response.get("Unsuccessful", [])
        if refused:
            error = refused[0].get("Error", {})
            raise Upstream("flow_logs_refused", f"ec2:CreateFlowLogs: {error.get('Code')}: {error.get('Message')}")

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        created = (await self.current(ctx, target, {}))["created"]
        if created:
            await call(ctx, "ec2", "DeleteFlowLogs", FlowLogIds=created)

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"turn on flow logs ({params.get('traffic', 'REJECT')} traffic) for VPC {target.id}"


class DisableSubnetPublicIp(SettingsAction):
    """EC2.15: instances launched into the subnet get no public IPv4 address unless they ask for one."""

    name: ClassVar[str] = "ec2.disable_subnet_public_ip"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.SUBNET
    iam_actions: ClassVar[tuple[str, ...]] = ("ec2:DescribeSubnets", "ec2:ModifySubnetAttribute")

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        return {"MapPublicIpOnLaunch": bool((await describe_subnet(ctx, target.id)).get("MapPublicIpOnLaunch"))}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"MapPublicIpOnLaunch": False}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        await call(
            ctx,
            "ec2",
            "ModifySubnetAttribute",
            SubnetId=target.id,
            MapPublicIpOnLaunch={"Value": values["MapPublicIpOnLaunch"]},
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"stop subnet {target.id} from giving new instances public IP addresses"


class RequireImdsV2(SettingsAction):
    """EC2.8: the instance metadata service answers only session (IMDSv2) requests.

    High risk: software on the instance that still uses IMDSv1 loses its credentials.
    """

    name: ClassVar[str] = "ec2.require_imdsv2"
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.EC2_INSTANCE
    iam_actions: ClassVar[tuple[str, ...]] = ("ec2:DescribeInstances", "ec2:ModifyInstanceMetadataOptions")

    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        options = (await describe_instance(ctx, target.id)).get("MetadataOptions", {})
        return {"HttpTokens": options.get("HttpTokens", "optional")}

    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"HttpTokens": "required"}

    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        await call(ctx, "ec2", "ModifyInstanceMetadataOptions", InstanceId=target.id, HttpTokens=values["HttpTokens"])

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"require IMDSv2 on instance {target.id}"
