"""Resource identity helpers shared by the formats that name resources by ARN or type string."""

from __future__ import annotations

import re

from acso_shared.alerts.models import ResourceType

# Checked in order against the lower-cased, alphanumeric-only type string, so "AWS::EC2::Instance",
# "AwsEc2Instance" and "ec2_instance" all land on the same ResourceType.
_KIND_HINTS: tuple[tuple[str, ResourceType], ...] = (
    ("accesskey", ResourceType.IAM_ACCESS_KEY),
    ("securitygroup", ResourceType.SECURITY_GROUP),
    ("networkacl", ResourceType.NETWORK_ACL),
    ("networkinterface", ResourceType.NETWORK_INTERFACE),
    ("ec2instance", ResourceType.EC2_INSTANCE),
    ("ec2volume", ResourceType.EBS_VOLUME),
    ("ebsvolume", ResourceType.EBS_VOLUME),
    ("ec2snapshot", ResourceType.EBS_SNAPSHOT),
    ("ebssnapshot", ResourceType.EBS_SNAPSHOT),
    ("ec2image", ResourceType.EC2_IMAGE),
    ("ec2vpc", ResourceType.VPC),
    ("ec2subnet", ResourceType.SUBNET),
    ("s3object", ResourceType.S3_OBJECT),
    ("s3bucket", ResourceType.S3_BUCKET),
    ("iamuser", ResourceType.IAM_USER),
    ("iamrole", ResourceType.IAM_ROLE),
    ("lambda", ResourceType.LAMBDA_FUNCTION),
    ("ekscluster", ResourceType.EKS_CLUSTER),
    ("ecscluster", ResourceType.ECS_CLUSTER),
    ("ecstask", ResourceType.ECS_TASK),
    ("ecsservice", ResourceType.ECS_SERVICE),
    ("ecrcontainerimage", ResourceType.ECR_IMAGE),
    ("container", ResourceType.CONTAINER),
    ("rdsdbclustersnapshot", ResourceType.RDS_SNAPSHOT),
    ("rdsdbsnapshot", ResourceType.RDS_SNAPSHOT),
    ("rdsdbcluster", ResourceType.RDS_CLUSTER),
    ("rdsdbinstance", ResourceType.RDS_INSTANCE),
    ("rdsinstance", ResourceType.RDS_INSTANCE),
    ("kmskey", ResourceType.KMS_KEY),
    ("snstopic", ResourceType.SNS_TOPIC),
    ("sqsqueue", ResourceType.SQS_QUEUE),
    ("cloudtrailtrail", ResourceType.CLOUDTRAIL_TRAIL),
    ("secretsmanagersecret", ResourceType.SECRETS_MANAGER_SECRET),
    ("dynamodbtable", ResourceType.DYNAMODB_TABLE),
    ("account", ResourceType.AWS_ACCOUNT),
)
_EXACT: dict[str, ResourceType] = {
    "instance": ResourceType.EC2_INSTANCE,
    "bucket": ResourceType.S3_BUCKET,
    "host": ResourceType.HOST,
    "device": ResourceType.HOST,
    "pod": ResourceType.KUBERNETES_WORKLOAD,
    "vpc": ResourceType.VPC,
    "subnet": ResourceType.SUBNET,
}
# Types whose id is the whole ARN resource part, or the whole ARN (see `resource_id`).
_ID_IS_ARN = frozenset({ResourceType.ECS_TASK})
_ID_IS_PATH = frozenset({ResourceType.S3_OBJECT})
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

    The id is the resource part's last segment (instance id, bucket name, user name), with its
    resource-type prefix dropped for ARNs written `type:name` (`function:my-fn`, `db:orders`,
    `cluster:orders`, `secret:name`); an ECS task keeps its whole ARN (task ids are only unique
    within their cluster), an S3 object its `bucket/key`. Access key ids written as
    `AWS::IAM::AccessKey:ASIA...` (GuardDuty via Security Hub) lose the prefix.
    """
    if kind in (ResourceType.IAM_ACCESS_KEY, ResourceType.AWS_ACCOUNT) and not raw_id.startswith("arn:"):
        # `AWS::IAM::AccessKey:ASIA...`, and ASFF's account resource id `AWS::::Account:123456789012`.
        return raw_id.rsplit(":", 1)[-1], None
    if not raw_id.startswith("arn:"):
        return raw_id, None
    parts = raw_id.split(":", 5)
    if len(parts) < 6:
        return raw_id, raw_id
    if kind is ResourceType.AWS_ACCOUNT and parts[4]:
        return parts[4], raw_id
    if kind in _ID_IS_ARN:
        return raw_id, raw_id
    tail = parts[5].rstrip("/")
    if kind in _ID_IS_PATH:
        return tail, raw_id
    if "/" in tail:
        return (tail.rsplit("/", 1)[-1] or tail), raw_id
    if ":" in tail:
        return (tail.split(":", 1)[1] or tail), raw_id
    return tail, raw_id
