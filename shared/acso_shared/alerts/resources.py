"""Resource identity helpers shared by the formats that name resources by ARN or type string."""

from __future__ import annotations

import re

from acso_shared.alerts.models import ResourceType

# Checked in order against the lower-cased, alphanumeric-only type string, so "AWS::EC2::Instance",
# "AwsEc2Instance" and "ec2_instance" all land on the same ResourceType.
_KIND_HINTS: tuple[tuple[str, ResourceType], ...] = (
    ("accesskey", ResourceType.IAM_ACCESS_KEY),
    ("securitygroup", ResourceType.SECURITY_GROUP),
    ("ec2instance", ResourceType.EC2_INSTANCE),
    ("ec2volume", ResourceType.EBS_VOLUME),
    ("ebsvolume", ResourceType.EBS_VOLUME),
    ("s3bucket", ResourceType.S3_BUCKET),
    ("iamuser", ResourceType.IAM_USER),
    ("iamrole", ResourceType.IAM_ROLE),
    ("lambda", ResourceType.LAMBDA_FUNCTION),
    ("ekscluster", ResourceType.EKS_CLUSTER),
    ("ecscluster", ResourceType.ECS_CLUSTER),
    ("rdsdbinstance", ResourceType.RDS_INSTANCE),
    ("rdsinstance", ResourceType.RDS_INSTANCE),
    ("account", ResourceType.AWS_ACCOUNT),
)
_EXACT: dict[str, ResourceType] = {
    "instance": ResourceType.EC2_INSTANCE,
    "bucket": ResourceType.S3_BUCKET,
    "host": ResourceType.HOST,
    "device": ResourceType.HOST,
}
_NON_ALNUM = re.compile(r"[^a-z0-9]")


def resource_kind(type_name: str | None) -> ResourceType:
    """The ResourceType a free-form type string (OCSF `resources[].type`, ASFF `Type`) denotes."""
    if not type_name:
        return ResourceType.OTHER
    key = _NON_ALNUM.sub("", type_name.lower())
    if key in _EXACT:
        return _EXACT[key]
    for hint, kind in _KIND_HINTS:
        if hint in key:
            return kind
    return ResourceType.OTHER


def resource_id(kind: ResourceType, raw_id: str) -> tuple[str, str | None]:
    """(id, arn) from a resource identifier that is an ARN for most AWS types.

    The id is the resource part's last segment (instance id, bucket name, user name); access key
    ids written as `AWS::IAM::AccessKey:ASIA...` (GuardDuty via Security Hub) lose the prefix.
    """
    if kind is ResourceType.IAM_ACCESS_KEY and not raw_id.startswith("arn:"):
        return raw_id.rsplit(":", 1)[-1], None
    if not raw_id.startswith("arn:"):
        return raw_id, None
    parts = raw_id.split(":", 5)
    if len(parts) < 6:
        return raw_id, raw_id
    if kind is ResourceType.AWS_ACCOUNT and parts[4]:
        return parts[4], raw_id
    tail = parts[5].rstrip("/")
    return (tail.rsplit("/", 1)[-1] or tail), raw_id
