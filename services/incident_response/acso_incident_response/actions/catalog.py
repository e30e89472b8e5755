"""Every action type by name, and the live tags the scope guard reads for each target kind."""

from __future__ import annotations

from acso_incident_response.actions.base import ActionContext, ActionType
from acso_incident_response.actions.ec2 import (
    QuarantineInstance,
    SnapshotVolumes,
    StopInstance,
    TagInstance,
    describe_instance,
    instance_tags,
)
from acso_incident_response.actions.iam import DeactivateAccessKey, DenyAllPolicy, user_of_key, user_tags
from acso_incident_response.actions.network import BlockBucketPublicAccess, BlockIp, bucket_tags
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
    )
}


async def resource_tags(ctx: ActionContext, target: Target) -> dict[str, str]:
    """The target's live tags (an access key carries its user's tags; an IP has none)."""
    if target.kind is TargetKind.EC2_INSTANCE:
        return instance_tags(await describe_instance(ctx, target.id))
    if target.kind is TargetKind.IAM_USER:
        return await user_tags(ctx, target.id)
    if target.kind is TargetKind.IAM_ACCESS_KEY:
        return await user_tags(ctx, await user_of_key(ctx, target))
    if target.kind is TargetKind.S3_BUCKET:
        return await bucket_tags(ctx.clients, target.id)
    return {}
