"""The scope guard reads each new kind of resource's live tags from the emulator: a resource tagged
`acso:protected=true` (or inside a protected cluster or bucket) is never acted on; an untagged one is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from acso_incident_response.policy import check
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import AwsClientFactory
from tests.integration.incident_response.catalogue_support import (
    bucket,
    context,
    db_instance,
    ecs_task,
    eks_cluster,
    lambda_function,
    security_group,
    target,
    unique,
    vpc_with_subnet,
)
from tests.integration.incident_response.ir_support import ACCOUNT
from tests.support.stack import TestStack

pytestmark = pytest.mark.integration

PROTECTED = {"acso:protected": "true"}


async def _ecs_task(aws: AwsClientFactory, protect: bool) -> Target:
    task_arn, _ = await ecs_task(aws, tags=PROTECTED if protect else None)
    return target(TargetKind.ECS_TASK, task_arn)


async def _eks(aws: AwsClientFactory, protect: bool) -> Target:
    name = await eks_cluster(aws)
    if protect:
        eks = await aws.client("eks")
        arn = (await eks.describe_cluster(name=name))["cluster"]["arn"]
        await eks.tag_resource(resourceArn=arn, tags=PROTECTED)
    return target(TargetKind.EKS_CLUSTER, name)


async def _rds(aws: AwsClientFactory, protect: bool) -> Target:
    tags = [{"Key": "acso:protected", "Value": "true"}] if protect else []
    name, _ = await db_instance(aws, Tags=tags)
    return target(TargetKind.RDS_INSTANCE, name)


async def _lambda(aws: AwsClientFactory, protect: bool) -> Target:
    name = await lambda_function(aws)
    if protect:
        client = await aws.client("lambda")
        arn = (await client.get_function(FunctionName=name))["Configuration"]["FunctionArn"]
        await client.tag_resource(Resource=arn, Tags=PROTECTED)
    return target(TargetKind.LAMBDA_FUNCTION, name)


async def _s3_object(aws: AwsClientFactory, protect: bool) -> Target:
    name = await bucket(aws)
    s3 = await aws.client("s3")
    await s3.put_object(Bucket=name, Key="a/b.bin", Body=b"x")
    if protect:
        await s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "acso:protected", "Value": "true"}]})
    return target(TargetKind.S3_OBJECT, f"{name}/a/b.bin")


async def _group(aws: AwsClientFactory, protect: bool) -> Target:
    vpc, _ = await vpc_with_subnet(aws)
    group = await security_group(aws, vpc, [])
    if protect:
        ec2 = await aws.client("ec2")
        await ec2.create_tags(Resources=[group], Tags=[{"Key": "acso:protected", "Value": "true"}])
    return target(TargetKind.SECURITY_GROUP, group)


async def _vpc(aws: AwsClientFactory, protect: bool) -> Target:
    vpc, _ = await vpc_with_subnet(aws)
    if protect:
        ec2 = await aws.client("ec2")
        await ec2.create_tags(Resources=[vpc], Tags=[{"Key": "acso:protected", "Value": "true"}])
    return target(TargetKind.VPC, vpc)


async def _subnet(aws: AwsClientFactory, protect: bool) -> Target:
    _, subnets = await vpc_with_subnet(aws)
    if protect:
        ec2 = await aws.client("ec2")
        await ec2.create_tags(Resources=[subnets[0]], Tags=[{"Key": "acso:protected", "Value": "true"}])
    return target(TargetKind.SUBNET, subnets[0])


async def _trail(aws: AwsClientFactory, protect: bool) -> Target:
    name = await bucket(aws)
    cloudtrail = await aws.client("cloudtrail")
    tags = [{"Key": "acso:protected", "Value": "true"}] if protect else []
    arn = (await cloudtrail.create_trail(Name=unique("trail"), S3BucketName=name, TagsList=tags))["TrailARN"]
    return target(TargetKind.CLOUDTRAIL_TRAIL, arn)


async def _key(aws: AwsClientFactory, protect: bool) -> Target:
    kms = await aws.client("kms")
    tags = [{"TagKey": "acso:protected", "TagValue": "true"}] if protect else []
    return target(TargetKind.KMS_KEY, (await kms.create_key(Tags=tags))["KeyMetadata"]["Arn"])


async def _topic(aws: AwsClientFactory, protect: bool) -> Target:
    sns = await aws.client("sns")
    tags = [{"Key": "acso:protected", "Value": "true"}] if protect else []
    return target(TargetKind.SNS_TOPIC, (await sns.create_topic(Name=unique("topic"), Tags=tags))["TopicArn"])


async def _queue(aws: AwsClientFactory, protect: bool) -> Target:
    sqs = await aws.client("sqs")
    name = unique("queue")
    await sqs.create_queue(QueueName=name, tags=PROTECTED if protect else {})
    return target(TargetKind.SQS_QUEUE, name)


async def _finding(aws: AwsClientFactory, protect: bool) -> Target:
    group = await _group(aws, protect)
    finding = f"arn:aws:securityhub:us-east-1:{ACCOUNT}:security-control/EC2.19/finding/{unique('f')}"
    return target(TargetKind.SECURITYHUB_FINDING, f"{group.key}|{finding}")


BUILDERS: dict[str, Callable[[AwsClientFactory, bool], Awaitable[Target]]] = {
    "ecs_task (cluster tag)": _ecs_task,
    "eks_cluster": _eks,
    "rds_instance": _rds,
    "lambda_function": _lambda,
    "s3_object (bucket tag)": _s3_object,
    "security_group": _group,
    "vpc": _vpc,
    "subnet": _subnet,
    "cloudtrail_trail": _trail,
    "kms_key": _key,
    "sns_topic": _topic,
    "sqs_queue": _queue,
    "securityhub_finding (its resource's tag)": _finding,
}


@pytest.mark.parametrize("kind", list(BUILDERS))
async def test_a_protected_resource_of_each_new_kind_is_blocked_and_an_untagged_one_allowed(
    stack: TestStack, aws: AwsClientFactory, kind: str
) -> None:
    ctx = context(stack, aws)
    allowed = await check(ctx, await BUILDERS[kind](aws, False), actions_in_incident=0)
    assert (allowed.allowed, allowed.code) == (True, "allowed")
    blocked = await check(ctx, await BUILDERS[kind](aws, True), actions_in_incident=0)
    assert (blocked.allowed, blocked.code) == (False, "resource_protected")


async def test_a_resource_that_does_not_exist_is_blocked_not_allowed(stack: TestStack, aws: AwsClientFactory) -> None:
    ctx = context(stack, aws)
    decision = await check(ctx, target(TargetKind.EKS_CLUSTER, unique("missing")), actions_in_incident=0)
    assert (decision.allowed, decision.code) == (False, "policy_error")


async def test_an_account_wide_remediation_in_another_account_is_blocked(
    stack: TestStack, aws: AwsClientFactory
) -> None:
    ctx = context(stack, aws)
    decision = await check(ctx, Target(TargetKind.AWS_ACCOUNT, "210987654321", "210987654321"), actions_in_incident=0)
    assert (decision.allowed, decision.code) == (False, "account_not_allowed")
