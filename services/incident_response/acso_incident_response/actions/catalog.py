"""Every action type by name, and the live tags the scope guard reads for each target kind."""

from __future__ import annotations

from acso_incident_response.actions import account, ecs, eks, encryption, lambdas, rds, s3, security_groups, trails, vpc
from acso_incident_response.actions.base import ActionContext, ActionType
from acso_incident_response.actions.ec2 import (
    QuarantineInstance,
    SnapshotVolumes,
    StopInstance,
    TagInstance,
    describe_instance,
    instance_tags,
)
from acso_incident_response.actions.iam import (
    DeactivateAccessKey,
    DeactivateUnrotatedKeys,
    DeactivateUnusedKeys,
    DenyAllPolicy,
    user_of_key,
    user_tags,
)
from acso_incident_response.actions.network import BlockBucketPublicAccess, BlockIp, bucket_tags
from acso_incident_response.actions.securityhub import ResolveFinding
from acso_incident_response.actions.ssm import CollectForensics
from acso_incident_response.targets import Target, TargetKind

ACTIONS: dict[str, ActionType] = {
    action.name: action
    for action in (
        SnapshotVolumes(),
        QuarantineInstance(),
        TagInstance(),
        StopInstance(),
        DeactivateAccessKey(),
        DenyAllPolicy(),
        BlockIp(),
        BlockBucketPublicAccess(),
        CollectForensics(),
        # GuardDuty families beyond EC2 and IAM
        ecs.CaptureTask(),
        ecs.QuarantineTaskNetwork(),
        ecs.StopTask(),
        eks.TagCluster(),
        eks.RestrictPublicEndpoint(),
        eks.KubernetesResponse(),
        rds.SnapshotDbInstance(),
        rds.RotateMasterCredential(),
        rds.IsolateDbInstance(),
        lambdas.PublishEvidenceVersion(),
        lambdas.ThrottleFunction(),
        lambdas.RemovePublicFunctionUrl(),
        s3.TagObject(),
        s3.QuarantineObject(),
        # Security Hub remediations
        s3.BlockAccountPublicAccess(),
        s3.EnableBucketEncryption(),
        s3.RequireTls(),
        s3.EnableAccessLogging(),
        s3.SetLifecyclePolicy(),
        security_groups.RevokeOpenIngress(),
        security_groups.RemoveDefaultGroupRules(),
        vpc.EnableFlowLogs(),
        vpc.DisableSubnetPublicIp(),
        vpc.RequireImdsV2(),
        account.EnableEbsDefaultEncryption(),
        account.EnableGuardDuty(),
        account.EnableConfigRecording(),
        account.EnableMultiRegionTrail(),
        account.SetPasswordPolicy(),
        trails.EncryptTrail(),
        trails.EnableLogFileValidation(),
        trails.SendTrailToCloudWatch(),
        DeactivateUnrotatedKeys(),
        DeactivateUnusedKeys(),
        encryption.EnableKeyRotation(),
        encryption.EncryptTopic(),
        encryption.EncryptQueue(),
        rds.DisablePublicAccess(),
        rds.EnableMultiAz(),
        rds.EnableEnhancedMonitoring(),
        rds.EnableDeletionProtection(),
        rds.EnableAutoMinorVersionUpgrade(),
        rds.EnableClusterDeletionProtection(),
        rds.MakeSnapshotPrivate(),
        rds.EncryptSnapshot(),
        lambdas.RemovePublicPermissions(),
        ResolveFinding(),
    )
}


#: What the scope guard's tag reads need, per target kind (besides the actions' own `iam_actions`).
SCOPE_GUARD_IAM: dict[TargetKind, tuple[str, ...]] = {
    TargetKind.EC2_INSTANCE: ("ec2:DescribeInstances",),
    TargetKind.IAM_USER: ("iam:ListUserTags",),
    TargetKind.IAM_ACCESS_KEY: ("iam:GetAccessKeyLastUsed", "iam:ListUserTags"),
    TargetKind.S3_BUCKET: ("s3:GetBucketTagging",),
    TargetKind.S3_OBJECT: ("s3:GetObjectTagging", "s3:GetBucketTagging"),
    TargetKind.ECS_TASK: ("ecs:DescribeTasks", "ecs:DescribeClusters"),
    TargetKind.EKS_CLUSTER: ("eks:DescribeCluster",),
    TargetKind.RDS_INSTANCE: ("rds:DescribeDBInstances",),
    TargetKind.RDS_CLUSTER: ("rds:DescribeDBClusters",),
    TargetKind.RDS_SNAPSHOT: ("rds:DescribeDBSnapshots", "rds:DescribeDBClusterSnapshots"),
    TargetKind.LAMBDA_FUNCTION: ("lambda:GetFunction",),
    TargetKind.SECURITY_GROUP: ("ec2:DescribeSecurityGroups",),
    TargetKind.VPC: ("ec2:DescribeVpcs",),
    TargetKind.SUBNET: ("ec2:DescribeSubnets",),
    TargetKind.CLOUDTRAIL_TRAIL: ("cloudtrail:GetTrail", "cloudtrail:ListTags"),
    TargetKind.KMS_KEY: ("kms:ListResourceTags",),
    TargetKind.SNS_TOPIC: ("sns:ListTagsForResource",),
    TargetKind.SQS_QUEUE: ("sqs:GetQueueUrl", "sqs:ListQueueTags"),
}


def iam_needs() -> dict[str, tuple[str, ...]]:
    """Every IAM action incident response's actions and scope guard need, by what needs it."""
    needs = {name: action.iam_actions for name, action in ACTIONS.items()}
    needs |= {f"scope guard ({kind.value})": iam for kind, iam in SCOPE_GUARD_IAM.items()}
    return needs


async def resource_tags(ctx: ActionContext, target: Target) -> dict[str, str]:
    """The target's live tags, which the scope guard reads for the protected tag.

    An access key carries its user's tags, an ECS task its cluster's, an S3 object its bucket's, a
    Security Hub finding its resource's. An IP and an account have none: for them the account
    allow-list is the guard.
    """
    kind = target.kind
    if kind is TargetKind.EC2_INSTANCE:
        return instance_tags(await describe_instance(ctx, target.id))
    if kind is TargetKind.IAM_USER:
        return await user_tags(ctx, target.id)
    if kind is TargetKind.IAM_ACCESS_KEY:
        return await user_tags(ctx, await user_of_key(ctx, target))
    if kind is TargetKind.S3_BUCKET:
        return await bucket_tags(ctx.clients, target.id)
    if kind is TargetKind.S3_OBJECT:
        return await s3.object_tags(ctx, target.id)
    if kind is TargetKind.ECS_TASK:
        return await ecs.task_tags(ctx, target.id)
    if kind is TargetKind.EKS_CLUSTER:
        return await eks.cluster_tags(ctx, target.id)
    if kind in (TargetKind.RDS_INSTANCE, TargetKind.RDS_CLUSTER, TargetKind.RDS_SNAPSHOT):
        return await rds.rds_tags(ctx, target)
    if kind is TargetKind.LAMBDA_FUNCTION:
        return await lambdas.function_tags(ctx, target.id)
    if kind is TargetKind.SECURITY_GROUP:
        return await security_groups.group_tags(ctx, target.id)
    if kind is TargetKind.VPC:
        return await vpc.vpc_tags(ctx, target.id)
    if kind is TargetKind.SUBNET:
        return await vpc.subnet_tags(ctx, target.id)
    if kind is TargetKind.CLOUDTRAIL_TRAIL:
        return await trails.trail_tags(ctx, target.id)
    if kind is TargetKind.KMS_KEY:
        return await encryption.key_tags(ctx, target.id)
    if kind is TargetKind.SNS_TOPIC:
        return await encryption.topic_tags(ctx, target.id)
    if kind is TargetKind.SQS_QUEUE:
        return await encryption.queue_tags(ctx, target)
    if kind is TargetKind.SECURITYHUB_FINDING:
        resource, _ = target.finding
        return await resource_tags(ctx, resource)
    return {}
