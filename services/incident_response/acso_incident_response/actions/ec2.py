"""EC2 actions: forensic EBS snapshots, the quarantine security group, tagging, stopping."""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, State, aws_code
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error
from acso_shared.errors import NotFound

ACTION_TAG = "acso:action-id"


async def describe_instance(ctx: ActionContext, instance_id: str) -> dict[str, Any]:
    """The instance as EC2 describes it; NotFound when it does not exist.

    Read once per action execution (`ctx.reads`): the scope guard and `current` share it.
    """

    async def load() -> dict[str, Any]:
        ec2 = await ctx.clients.client("ec2")
        try:
            response: dict[str, Any] = await ec2.describe_instances(InstanceIds=[instance_id])
        except Exception as err:
            raise translate_aws_error(err, "ec2:DescribeInstances") from err
        return response

    response = await ctx.reads.get(f"ec2:instance:{instance_id}", load)
    for reservation in response.get("Reservations", []):
        for instance in reservation.get("Instances", []):
            return dict(instance)
    raise NotFound("instance_not_found", f"instance {instance_id} does not exist")


def instance_tags(instance: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in instance.get("Tags", [])}


class SnapshotVolumes(DirectAction):
    """Snapshot every EBS volume of an instance, tagged with the action id so a retry finds them."""

    name: ClassVar[str] = "ec2.snapshot_volumes"
    iam_actions: ClassVar[tuple[str, ...]] = (
        "ec2:DescribeInstances",
        "ec2:DescribeSnapshots",
        "ec2:CreateSnapshot",
        "ec2:CreateTags",
    )
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.EC2_INSTANCE
    # Forensic evidence is never deleted by a revert.
    revertible: ClassVar[bool] = False

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        instance = await describe_instance(ctx, target.id)
        volumes = sorted(
            m["Ebs"]["VolumeId"] for m in instance.get("BlockDeviceMappings", []) if m.get("Ebs", {}).get("VolumeId")
        )
        ec2 = await ctx.clients.client("ec2")
        try:
            response = await ec2.describe_snapshots(
                OwnerIds=["self"], Filters=[{"Name": f"tag:{ACTION_TAG}", "Values": [ctx.action_id]}]
            )
        except Exception as err:
            raise translate_aws_error(err, "ec2:DescribeSnapshots") from err
        snapshots = {s["VolumeId"]: s["SnapshotId"] for s in response.get("Snapshots", [])}
        # Sizes are what the incident's response cost is estimated from (forensic storage).
        sizes = {s["SnapshotId"]: s.get("VolumeSize", 0) for s in response.get("Snapshots", [])}
        return {"volumes": volumes, "snapshots": snapshots, "sizes_gib": sizes}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return all(volume in state["snapshots"] for volume in state["volumes"])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        ec2 = await ctx.clients.client("ec2")
        for volume in state["volumes"]:
            if volume in state["snapshots"]:
                continue
            tags = [
                {"Key": ACTION_TAG, "Value": ctx.action_id},
                {"Key": "acso:incident", "Value": ctx.incident_id},
                {"Key": "acso:source-instance", "Value": target.id},
            ]
            try:
                await ec2.create_snapshot(
                    VolumeId=volume,
                    Description=f"ACSO forensic snapshot of {target.id} for incident {ctx.incident_id}",
                    TagSpecifications=[{"ResourceType": "snapshot", "Tags": tags}],
                )
            except Exception as err:
                raise translate_aws_error(err, "ec2:CreateSnapshot") from err

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"snapshot every EBS volume of {target.id} for forensics"


async def quarantine_group(ctx: ActionContext, vpc_id: str) -> str:
    """The VPC's quarantine security group (no ingress, no egress), created once."""
    ec2 = await ctx.clients.client("ec2")
    name = ctx.settings.quarantine_sg_pattern.format(env=ctx.settings.env, vpc_id=vpc_id)
    filters = [{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    try:
        found = (await ec2.describe_security_groups(Filters=filters)).get("SecurityGroups", [])
        if found:
            return str(found[0]["GroupId"])
        try:
            created = await ec2.create_security_group(
                GroupName=name,
                Description="ACSO quarantine: no inbound or outbound traffic",
                VpcId=vpc_id,
                TagSpecifications=[
                    {"ResourceType": "security-group", "Tags": [{"Key": "acso:quarantine", "Value": "true"}]}
                ],
            )
        except Exception as err:
            if aws_code(err) != "InvalidGroup.Duplicate":
                raise
            # Another action created it at the same moment.
            found = (await ec2.describe_security_groups(Filters=filters)).get("SecurityGroups", [])
            return str(found[0]["GroupId"])
        group_id = str(created["GroupId"])
        # A new group allows all egress by default; quarantine means nothing leaves either.
        await ec2.revoke_security_group_egress(
            GroupId=group_id, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
        return group_id
    except Exception as err:
        raise translate_aws_error(err, "ec2:quarantine group") from err


class QuarantineInstance(DirectAction):
    """Replace the instance's security groups with the VPC's quarantine group."""

    name: ClassVar[str] = "ec2.quarantine"
    iam_actions: ClassVar[tuple[str, ...]] = (
        "ec2:DescribeInstances",
        "ec2:DescribeSecurityGroups",
        "ec2:CreateSecurityGroup",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags",
        "ec2:ModifyInstanceAttribute",
    )
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.EC2_INSTANCE

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        instance = await describe_instance(ctx, target.id)
        vpc_id = str(instance["VpcId"])
        return {
            "vpc_id": vpc_id,
            "groups": sorted(g["GroupId"] for g in instance.get("SecurityGroups", [])),
            "quarantine_group": await quarantine_group(ctx, vpc_id),
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["groups"] == [state["quarantine_group"]])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await _set_groups(ctx, target.id, [state["quarantine_group"]])

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        await _set_groups(ctx, target.id, list(before["groups"]))

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"move {target.id} into the quarantine security group (no traffic in or out)"


async def _set_groups(ctx: ActionContext, instance_id: str, groups: list[str]) -> None:
    ec2 = await ctx.clients.client("ec2")
    try:
        await ec2.modify_instance_attribute(InstanceId=instance_id, Groups=groups)
    except Exception as err:
        raise translate_aws_error(err, "ec2:ModifyInstanceAttribute") from err


class TagInstance(DirectAction):
    """Tag the instance with its incident so everybody looking at it knows why it is isolated."""

    name: ClassVar[str] = "ec2.tag"
    iam_actions: ClassVar[tuple[str, ...]] = ("ec2:DescribeInstances", "ec2:CreateTags", "ec2:DeleteTags")
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.EC2_INSTANCE

    def _wanted(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, str]:
        return {"acso:incident": ctx.incident_id, **{str(k): str(v) for k, v in params.get("tags", {}).items()}}

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        tags = instance_tags(await describe_instance(ctx, target.id))
        wanted = self._wanted(ctx, params)
        # The previous value of each key we set (None: absent), which is what a revert restores.
        return {"tags": {key: tags.get(key) for key in sorted(wanted)}, "wanted": wanted}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return all(state["tags"].get(k) == v for k, v in state["wanted"].items())

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        ec2 = await ctx.clients.client("ec2")
        tags = [{"Key": k, "Value": v} for k, v in state["wanted"].items()]
        try:
            await ec2.create_tags(Resources=[target.id], Tags=tags)
        except Exception as err:
            raise translate_aws_error(err, "ec2:CreateTags") from err

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        ec2 = await ctx.clients.client("ec2")
        restore = [{"Key": k, "Value": v} for k, v in before["tags"].items() if v is not None]
        remove = [{"Key": k} for k, v in before["tags"].items() if v is None]
        try:
            if restore:
                await ec2.create_tags(Resources=[target.id], Tags=restore)
            if remove:
                await ec2.delete_tags(Resources=[target.id], Tags=remove)
        except Exception as err:
            raise translate_aws_error(err, "ec2:revert tags") from err

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"tag {target.id} with its incident"


class StopInstance(DirectAction):
    """Stop the instance (high risk: it interrupts whatever legitimate work it also does)."""

    name: ClassVar[str] = "ec2.stop"
    iam_actions: ClassVar[tuple[str, ...]] = ("ec2:DescribeInstances", "ec2:StopInstances", "ec2:StartInstances")
    risk: ClassVar[Risk] = "high"
    target_kind: ClassVar[TargetKind] = TargetKind.EC2_INSTANCE

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        instance = await describe_instance(ctx, target.id)
        return {"state": instance["State"]["Name"]}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return state["state"] in ("stopping", "stopped", "shutting-down", "terminated")

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        ec2 = await ctx.clients.client("ec2")
        try:
            await ec2.stop_instances(InstanceIds=[target.id])
        except Exception as err:
            raise translate_aws_error(err, "ec2:StopInstances") from err

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        if before["state"] not in ("running", "pending"):
            return
        ec2 = await ctx.clients.client("ec2")
        try:
            await ec2.start_instances(InstanceIds=[target.id])
        except Exception as err:
            raise translate_aws_error(err, "ec2:StartInstances") from err

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"stop instance {target.id}"
