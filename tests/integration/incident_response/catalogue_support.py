"""Emulated resources for the response-catalogue specs: one builder per resource family, unique names."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from typing import Any

from acso_incident_response.actions.base import ActionContext, ActionType, DirectAction
from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import AwsClientFactory
from tests.integration.incident_response.ir_support import ACCOUNT
from tests.support.stack import TestStack


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def context(stack: TestStack, aws: AwsClientFactory) -> ActionContext:
    settings = stack.service_settings(Settings, allowed_account_ids=(ACCOUNT,))
    return ActionContext(aws, settings, str(uuid.uuid4()), unique("inc"))


@dataclass
class Run:
    """What one action did to one resource: the states it read before, after applying, after reverting."""

    before: dict[str, Any]
    after: dict[str, Any]
    preview: dict[str, Any]
    reverted: dict[str, Any] | None


async def run_action(
    ctx: ActionContext, name: str, target: Target, params: dict[str, Any] | None = None, *, revert: bool = True
) -> Run:
    """Apply the action as the executor does (read, apply when not done, read again), then revert it."""
    action: ActionType = ACTIONS[name]
    assert isinstance(action, DirectAction)
    params = params or {}
    before = await action.current(ctx, target, params)
    assert not action.done(before, params), f"{name}: the resource was already in the wanted state"
    preview = action.preview(before, params)
    await action.apply(ctx, target, params, before)
    after = await action.current(ctx, target, params)
    assert action.done(after, params), f"{name}: the change did not take effect: {after}"
    reverted = None
    if revert:
        await action.revert(ctx, target, before)
        reverted = await action.current(ctx, target, params)
    return Run(before, after, preview, reverted)


async def vpc_with_subnet(aws: AwsClientFactory) -> tuple[str, list[str]]:
    ec2 = await aws.client("ec2")
    vpc = (await ec2.create_vpc(CidrBlock="10.40.0.0/16"))["Vpc"]["VpcId"]
    subnets = [
        (await ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=f"us-east-1{zone}"))[
            "Subnet"
        ]["SubnetId"]
        for i, zone in ((1, "a"), (2, "b"))
    ]
    return vpc, subnets


async def security_group(aws: AwsClientFactory, vpc: str, ingress: list[dict[str, Any]]) -> str:
    ec2 = await aws.client("ec2")
    group = (await ec2.create_security_group(GroupName=unique("sg"), Description="spec", VpcId=vpc))["GroupId"]
    if ingress:
        await ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=ingress)
    return str(group)


async def ingress_of(aws: AwsClientFactory, group: str) -> list[tuple[str, int | None, int | None, str]]:
    """The group's inbound rules as (protocol, from, to, cidr), sorted."""
    ec2 = await aws.client("ec2")
    found = (await ec2.describe_security_groups(GroupIds=[group]))["SecurityGroups"][0]
    return sorted(
        (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIp"])
        for p in found.get("IpPermissions", [])
        for r in p.get("IpRanges", [])
    )


async def groups_of_interface(aws: AwsClientFactory, eni: str) -> list[str]:
    ec2 = await aws.client("ec2")
    found = (await ec2.describe_network_interfaces(NetworkInterfaceIds=[eni]))["NetworkInterfaces"][0]
    return sorted(g["GroupId"] for g in found["Groups"])


async def ecs_task(aws: AwsClientFactory, tags: dict[str, str] | None = None) -> tuple[str, str]:
    """A running bridge-mode task on an EC2 container instance: (task ARN, cluster name).

    moto 5.2.5 fails RunTask in awsvpc mode (its network interface lacks `private_dns_name`), so
    emulated tasks have no interface of their own.
    """
    ec2 = await aws.client("ec2")
    image = (await ec2.describe_images(Owners=["amazon"]))["Images"][0]["ImageId"]
    instance = (await ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1))["Instances"][0]["InstanceId"]
    ecs = await aws.client("ecs")
    cluster = unique("cluster")
    await ecs.create_cluster(clusterName=cluster, tags=[{"key": k, "value": v} for k, v in (tags or {}).items()])
    document = json.dumps({"instanceId": instance, "region": "us-east-1", "accountId": ACCOUNT})
    await ecs.register_container_instance(cluster=cluster, instanceIdentityDocument=document)
    family = unique("task")
    await ecs.register_task_definition(
        family=family,
        networkMode="bridge",
        containerDefinitions=[
            {"name": "app", "image": "public.ecr.aws/nginx/nginx:1.27", "essential": True, "cpu": 256, "memory": 512}
        ],
    )
    task = (await ecs.run_task(cluster=cluster, taskDefinition=family, launchType="EC2"))["tasks"][0]
    return str(task["taskArn"]), cluster


async def iam_role(aws: AwsClientFactory, service: str) -> str:
    iam = await aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    return str(
        (await iam.create_role(RoleName=unique("role"), AssumeRolePolicyDocument=json.dumps(trust)))["Role"]["Arn"]
    )


async def eks_cluster(aws: AwsClientFactory) -> str:
    _, subnets = await vpc_with_subnet(aws)
    eks = await aws.client("eks")
    name = unique("eks")
    await eks.create_cluster(
        name=name,
        roleArn=await iam_role(aws, "eks.amazonaws.com"),
        resourcesVpcConfig={"subnetIds": subnets, "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
    )
    return name


async def db_instance(aws: AwsClientFactory, *, managed_secret: bool = False, **extra: Any) -> tuple[str, str]:
    """A DB instance in its own VPC: (identifier, its security group)."""
    vpc, subnets = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [])
    rds = await aws.client("rds")
    subnet_group = unique("dbsubnets")
    await rds.create_db_subnet_group(DBSubnetGroupName=subnet_group, DBSubnetGroupDescription="spec", SubnetIds=subnets)
    name = unique("db")
    kwargs: dict[str, Any] = {
        "DBInstanceIdentifier": name,
        "DBInstanceClass": "db.t3.micro",
        "Engine": "postgres",
        "MasterUsername": "acso",
        "AllocatedStorage": 20,
        "DBSubnetGroupName": subnet_group,
        "VpcSecurityGroupIds": [group],
        **extra,
    }
    if managed_secret:
        kwargs["ManageMasterUserPassword"] = True
    else:
        kwargs["MasterUserPassword"] = "initial-password-1"
    await rds.create_db_instance(**kwargs)
    return name, group


async def lambda_function(aws: AwsClientFactory) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    client = await aws.client("lambda")
    name = unique("fn")
    await client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=await iam_role(aws, "lambda.amazonaws.com"),
        Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()},
    )
    return name


async def bucket(aws: AwsClientFactory, *, versioned: bool = False) -> str:
    s3 = await aws.client("s3")
    name = unique("acso-spec")
    await s3.create_bucket(Bucket=name)
    if versioned:
        await s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def target(kind: TargetKind, ident: str) -> Target:
    return Target(kind, ident, ACCOUNT)
