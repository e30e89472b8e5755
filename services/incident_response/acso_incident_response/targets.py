"""What a playbook step acts on: targets taken from the parsed alert, never from free text."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from acso_shared.alerts.models import NormalizedAlert, ObservableType, Resource, ResourceType


class TargetKind(StrEnum):
    EC2_INSTANCE = "ec2_instance"
    IAM_ACCESS_KEY = "iam_access_key"
    IAM_USER = "iam_user"
    IP = "ip"
    S3_BUCKET = "s3_bucket"
    S3_OBJECT = "s3_object"  # id: "bucket/key"
    ECS_TASK = "ecs_task"  # id: the task ARN (which names its cluster)
    EKS_CLUSTER = "eks_cluster"
    RDS_INSTANCE = "rds_instance"  # id: the DB instance identifier
    RDS_CLUSTER = "rds_cluster"
    RDS_SNAPSHOT = "rds_snapshot"  # id: "snapshot:<name>" or "cluster-snapshot:<name>"
    LAMBDA_FUNCTION = "lambda_function"  # id: the function name
    SECURITY_GROUP = "security_group"
    VPC = "vpc"
    SUBNET = "subnet"
    AWS_ACCOUNT = "aws_account"  # account-wide settings of the region the finding names
    CLOUDTRAIL_TRAIL = "cloudtrail_trail"  # id: the trail ARN (or name)
    KMS_KEY = "kms_key"
    SNS_TOPIC = "sns_topic"  # id: the topic ARN
    SQS_QUEUE = "sqs_queue"  # id: the queue name
    # A Security Hub finding and the resource it is about: "<resource target key>|<finding id>".
    SECURITYHUB_FINDING = "securityhub_finding"


_RESOURCE_KINDS: dict[TargetKind, ResourceType] = {
    TargetKind.EC2_INSTANCE: ResourceType.EC2_INSTANCE,
    TargetKind.IAM_ACCESS_KEY: ResourceType.IAM_ACCESS_KEY,
    TargetKind.IAM_USER: ResourceType.IAM_USER,
    TargetKind.S3_BUCKET: ResourceType.S3_BUCKET,
    TargetKind.S3_OBJECT: ResourceType.S3_OBJECT,
    TargetKind.ECS_TASK: ResourceType.ECS_TASK,
    TargetKind.EKS_CLUSTER: ResourceType.EKS_CLUSTER,
    TargetKind.RDS_INSTANCE: ResourceType.RDS_INSTANCE,
    TargetKind.RDS_CLUSTER: ResourceType.RDS_CLUSTER,
    TargetKind.RDS_SNAPSHOT: ResourceType.RDS_SNAPSHOT,
    TargetKind.LAMBDA_FUNCTION: ResourceType.LAMBDA_FUNCTION,
    TargetKind.SECURITY_GROUP: ResourceType.SECURITY_GROUP,
    TargetKind.VPC: ResourceType.VPC,
    TargetKind.SUBNET: ResourceType.SUBNET,
    TargetKind.AWS_ACCOUNT: ResourceType.AWS_ACCOUNT,
    TargetKind.CLOUDTRAIL_TRAIL: ResourceType.CLOUDTRAIL_TRAIL,
    TargetKind.KMS_KEY: ResourceType.KMS_KEY,
    TargetKind.SNS_TOPIC: ResourceType.SNS_TOPIC,
    TargetKind.SQS_QUEUE: ResourceType.SQS_QUEUE,
}
_KIND_OF_RESOURCE = {resource: kind for kind, resource in _RESOURCE_KINDS.items()}
SECURITYHUB_SOURCE = "aws.securityhub"
_ACCOUNT = re.compile(r"\b\d{12}\b")


@dataclass(frozen=True)
class Target:
    """One resource an action touches; `key` is what the action row stores (`ec2_instance:i-0abc`)."""

    kind: TargetKind
    id: str
    account_id: str | None = None
    user_name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, key: str, *, account_id: str | None = None, user_name: str | None = None) -> Target:
        kind, _, ident = key.partition(":")
        return cls(TargetKind(kind), ident, account_id, user_name)

    @property
    def finding(self) -> tuple[Target, str]:
        """A Security Hub finding target's resource and finding id."""
        if self.kind is not TargetKind.SECURITYHUB_FINDING:
            raise ValueError(f"{self.key} is not a Security Hub finding")
        resource_key, _, finding_id = self.id.rpartition("|")
        return Target.parse(resource_key, account_id=self.account_id, user_name=self.user_name), finding_id


def _after(marker: str, value: str) -> str:
    return value.split(marker, 1)[1] if marker in value else value


def _identifier(kind: TargetKind, resource: Resource) -> str:
    """The id each action's AWS API takes for the resource, from the normalised resource."""
    ident, arn = resource.id, resource.arn or ""
    if kind is TargetKind.RDS_INSTANCE:
        return _after(":db:", arn) if ":db:" in arn else ident.removeprefix("db:")
    if kind is TargetKind.RDS_CLUSTER:
        return _after(":cluster:", arn) if ":cluster:" in arn else ident.removeprefix("cluster:")
    if kind is TargetKind.RDS_SNAPSHOT:
        if ":cluster-snapshot:" in arn:
            return "cluster-snapshot:" + _after(":cluster-snapshot:", arn)
        if ":snapshot:" in arn:
            return "snapshot:" + _after(":snapshot:", arn)
        return ident if ident.startswith(("snapshot:", "cluster-snapshot:")) else f"snapshot:{ident}"
    if kind is TargetKind.LAMBDA_FUNCTION:
        # arn:aws:lambda:region:account:function:name[:qualifier]
        name = _after(":function:", arn) if ":function:" in arn else ident.removeprefix("function:")
        return name.split(":", 1)[0]
    if kind in (TargetKind.CLOUDTRAIL_TRAIL, TargetKind.SNS_TOPIC, TargetKind.ECS_TASK) and arn:
        return arn
    if kind is TargetKind.SQS_QUEUE:
        return arn.rsplit(":", 1)[-1] if arn else ident.rstrip("/").rsplit("/", 1)[-1]
    if kind is TargetKind.KMS_KEY:
        return arn or ident
    if kind is TargetKind.AWS_ACCOUNT:
        # ASFF names an account `AWS::::Account:123456789012`.
        found = _ACCOUNT.search(ident)
        return found.group(0) if found else (resource.account_id or ident)
    return ident


def finding_targets(alert: NormalizedAlert) -> list[Target]:
    """The Security Hub finding, once per resource it names that a remediation can act on."""
    if alert.source != SECURITYHUB_SOURCE or not alert.source_id:
        return []
    found: list[Target] = []
    for resource in alert.resources:
        kind = _KIND_OF_RESOURCE.get(resource.type)
        if kind is None:
            continue
        account = resource.account_id or alert.account_id
        inner = Target(kind, _identifier(kind, resource), account)
        found.append(Target(TargetKind.SECURITYHUB_FINDING, f"{inner.key}|{alert.source_id}", account))
    return found


def _is_public_ipv4(value: str) -> bool:
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return False
    return address.version == 4 and address.is_global


def targets_of(alert: NormalizedAlert, kind: TargetKind) -> list[Target]:
    """The targets of `kind` an alert names, in the order the alert lists them, without repeats."""
    found: dict[str, Target] = {}
    if kind is TargetKind.IP:
        for observable in alert.observables:
            # IPs found under `resource.` describe our own resource (its public address), not the attacker.
            if observable.type is not ObservableType.IP or (observable.name or "").startswith("resource."):
                continue
            if _is_public_ipv4(observable.value):
                found.setdefault(observable.value, Target(kind, observable.value, alert.account_id))
        return list(found.values())
    if kind is TargetKind.SECURITYHUB_FINDING:
        return finding_targets(alert)
    users = [r.id for r in alert.resources if r.type is ResourceType.IAM_USER]
    for resource in alert.resources:
        if resource.type is not _RESOURCE_KINDS[kind]:
            continue
        user = users[0] if kind is TargetKind.IAM_ACCESS_KEY and users else None
        account = resource.account_id or alert.account_id
        ident = _identifier(kind, resource)
        found.setdefault(ident, Target(kind, ident, account, user))
    return list(found.values())
