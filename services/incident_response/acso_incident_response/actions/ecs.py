"""ECS actions for GuardDuty Runtime Monitoring findings on a task: evidence, network quarantine, stop.

The order matters: a stopped Fargate task loses its network interface, so the task's details are
captured and its interface moved into the quarantine group while it still runs, and only then is
the task stopped (its service, if any, starts a clean replacement from the task definition).
"""

from __future__ import annotations

from typing import Any, ClassVar

from acso_incident_response.actions.base import ActionContext, DirectAction, Risk, State, aws_code, call
from acso_incident_response.actions.ec2 import quarantine_group
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import translate_aws_error
from acso_shared.errors import Invalid, NotFound


def task_cluster(task_arn: str) -> str:
    """The cluster a task ARN names (`arn:aws:ecs:<region>:<account>:task/<cluster>/<task id>`)."""
    resource = task_arn.split(":", 5)[-1]
    parts = resource.split("/")
    if len(parts) != 3 or parts[0] != "task":
        raise Invalid("ecs_task_arn_invalid", f"{task_arn} is not a task ARN that names its cluster")
    return parts[1]


async def describe_task(ctx: ActionContext, task_arn: str) -> dict[str, Any]:
    response = await call(
        ctx, "ecs", "DescribeTasks", cluster=task_cluster(task_arn), tasks=[task_arn], include=["TAGS"]
    )
    for task in response.get("tasks", []):
        return dict(task)
    raise NotFound("ecs_task_not_found", f"task {task_arn} does not exist")


def task_interface(task: dict[str, Any]) -> str | None:
    """The task's elastic network interface (awsvpc network mode), if it has one."""
    for attachment in task.get("attachments", []):
        if attachment.get("type") != "ElasticNetworkInterface":
            continue
        for detail in attachment.get("details", []):
            if detail.get("name") == "networkInterfaceId":
                return str(detail["value"])
    return None


async def task_tags(ctx: ActionContext, task_arn: str) -> dict[str, str]:
    """The task's tags with its cluster's: a protected cluster protects every task in it."""
    task = await describe_task(ctx, task_arn)
    clusters = await call(ctx, "ecs", "DescribeClusters", clusters=[task["clusterArn"]], include=["TAGS"])
    tags = {t["key"]: t["value"] for c in clusters.get("clusters", []) for t in c.get("tags", [])}
    return tags | {t["key"]: t["value"] for t in task.get("tags", [])}


class CaptureTask(DirectAction):
    """Record the task as ECS describes it (image digests, containers, network, task definition) as evidence."""

    name: ClassVar[str] = "ecs.capture_task"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.ECS_TASK
    revertible: ClassVar[bool] = False
    iam_actions: ClassVar[tuple[str, ...]] = ("ecs:DescribeTasks", "ecs:DescribeClusters")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        task = await describe_task(ctx, target.id)
        return {
            "task_arn": task["taskArn"],
            "cluster_arn": task.get("clusterArn"),
            "task_definition_arn": task.get("taskDefinitionArn"),
            "group": task.get("group"),
            "launch_type": task.get("launchType"),
            "last_status": task.get("lastStatus"),
            "started_by": task.get("startedBy"),
            "network_interface": task_interface(task),
            "containers": [
                {k: c.get(k) for k in ("name", "image", "imageDigest", "runtimeId", "lastStatus")}
                for c in task.get("containers", [])
            ],
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        # Reading is the whole action: the description is kept as the action's before and after state.
        return True

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        return None

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"record the details of task {target.id} (containers, images, network) as evidence"


class QuarantineTaskNetwork(DirectAction):
    """Move the task's network interface into the VPC's quarantine group (no traffic in or out).

    Only the one task's interface changes: the service's other tasks and its network configuration
    keep their groups. A task without its own interface (bridge or host network mode on EC2) cannot
    be isolated this way; the action fails with a reason, and the EC2 playbooks isolate the host.
    """

    name: ClassVar[str] = "ecs.quarantine_task_network"
    risk: ClassVar[Risk] = "low"
    target_kind: ClassVar[TargetKind] = TargetKind.ECS_TASK
    iam_actions: ClassVar[tuple[str, ...]] = (
        "ecs:DescribeTasks",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:CreateSecurityGroup",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:CreateTags",
        "ec2:ModifyNetworkInterfaceAttribute",
    )
    emulator_note: ClassVar[str] = "moto 5.2.5 fails RunTask in awsvpc mode, so no emulated task has an interface"

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        eni = task_interface(await describe_task(ctx, target.id))
        if eni is None:
            raise Invalid("ecs_task_no_interface", f"task {target.id} has no network interface of its own (awsvpc)")
        interface = await _interface(ctx, eni)
        return {
            "network_interface": eni,
            "vpc_id": interface["VpcId"],
            "groups": sorted(g["GroupId"] for g in interface.get("Groups", [])),
            "quarantine_group": await quarantine_group(ctx, str(interface["VpcId"])),
        }

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return bool(state["groups"] == [state["quarantine_group"]])

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(
            ctx,
            "ec2",
            "ModifyNetworkInterfaceAttribute",
            NetworkInterfaceId=state["network_interface"],
            Groups=[state["quarantine_group"]],
        )

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        # The interface goes with a stopped task; then there is nothing left to restore.
        try:
            await _interface(ctx, before["network_interface"])
        except NotFound:
            return
        await call(
            ctx,
            "ec2",
            "ModifyNetworkInterfaceAttribute",
            NetworkInterfaceId=before["network_interface"],
            Groups=list(before["groups"]),
        )

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        return {"security_groups": {"from": state["groups"], "to": [state["quarantine_group"]]}}

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"move the network interface of task {target.id} into the quarantine security group"


async def _interface(ctx: ActionContext, eni: str) -> dict[str, Any]:
    ec2 = await ctx.clients.client("ec2")
    try:
        response = await ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])
    except Exception as err:
        if aws_code(err) != "InvalidNetworkInterfaceID.NotFound":
            raise translate_aws_error(err, "ec2:DescribeNetworkInterfaces") from err
        response = {}
    for interface in response.get("NetworkInterfaces", []):
        return dict(interface)
    raise NotFound("network_interface_not_found", f"network interface {eni} does not exist")


class StopTask(DirectAction):
    """Stop the task. Medium risk: its service, if it has one, replaces it from the task definition."""

    name: ClassVar[str] = "ecs.stop_task"
    risk: ClassVar[Risk] = "medium"
    target_kind: ClassVar[TargetKind] = TargetKind.ECS_TASK
    # A stopped task cannot be started again; its service starts a new one.
    revertible: ClassVar[bool] = False
    iam_actions: ClassVar[tuple[str, ...]] = ("ecs:DescribeTasks", "ecs:StopTask")

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        task = await describe_task(ctx, target.id)
        return {"last_status": task.get("lastStatus"), "desired_status": task.get("desiredStatus")}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        # ECS sets the desired status to STOPPED for every task it stops, whoever asked.
        return bool(state["desired_status"] == "STOPPED")

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        await call(
            ctx,
            "ecs",
            "StopTask",
            cluster=task_cluster(target.id),
            task=target.id,
            reason=f"ACSO incident {ctx.incident_id}: GuardDuty runtime finding"[:255],
        )

    def describe(self, target: Target, params: dict[str, Any]) -> str:
        return f"stop task {target.id}"
