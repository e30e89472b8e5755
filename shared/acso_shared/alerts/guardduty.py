"""Amazon GuardDuty findings (GuardDuty finding format, schemaVersion 2.0), raw or as the `detail`
of a `GuardDuty Finding` EventBridge event.

Resources come from `resource.*Details` by `resource.resourceType`; observables from the resource
(instance id, network interface IPs, access key, principal) and from `service.action` (remote IPs
of network connections, API calls, port probes, Kubernetes/RDS calls; DNS domains) and malware
and runtime evidence (file hashes).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acso_shared.alerts import attack, severity
from acso_shared.alerts.common import ParseContext, dicts, dig, invalid_from, parse_time, text
from acso_shared.alerts.models import (
    AlertState,
    NormalizedAlert,
    ObservableType,
    Resource,
    ResourceType,
    SourceFormat,
    alert_id_for,
)
from acso_shared.alerts.observables import ObservableCollector
from acso_shared.alerts.text import clean_description, clean_field, clean_title

SOURCE = "aws.guardduty"


class GuardDutyFindingCore(BaseModel):
    """The GuardDuty finding fields ACSO requires; the rest is read leniently."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_version: str = Field(alias="schemaVersion", min_length=1)
    id: str = Field(min_length=1, max_length=256)
    type: str = Field(min_length=3, max_length=512)
    account_id: str = Field(alias="accountId", pattern=r"^\d{12}$")
    region: str = Field(min_length=1, max_length=64)
    partition: str = "aws"
    arn: str | None = Field(default=None, max_length=2048)
    severity: float = Field(ge=0, le=10)
    title: str = Field(default="", max_length=65536)
    description: str = Field(default="", max_length=65536)
    created_at: str | None = Field(default=None, alias="createdAt")
    updated_at: str | None = Field(default=None, alias="updatedAt")
    resource: dict[str, Any]
    service: dict[str, Any]


def looks_like_finding(obj: dict[str, Any]) -> bool:
    """Detection rule: `schemaVersion` and `type` present and `service.serviceName == "guardduty"`."""
    return "schemaVersion" in obj and "type" in obj and dig(obj, "service", "serviceName") == "guardduty"


_PRIMARY_BY_RESOURCE_TYPE: dict[str, ResourceType] = {
    "Instance": ResourceType.EC2_INSTANCE,
    "AccessKey": ResourceType.IAM_ACCESS_KEY,
    "S3Bucket": ResourceType.S3_BUCKET,
    "S3Object": ResourceType.S3_OBJECT,
    "EKSCluster": ResourceType.EKS_CLUSTER,
    "ECSCluster": ResourceType.ECS_CLUSTER,
    "Container": ResourceType.CONTAINER,
    "Lambda": ResourceType.LAMBDA_FUNCTION,
    "RDSDBInstance": ResourceType.RDS_INSTANCE,
    "RDSLimitlessDB": ResourceType.RDS_SHARD_GROUP,
    "EC2NetworkInterface": ResourceType.NETWORK_INTERFACE,
    "EBSSnapshot": ResourceType.EBS_SNAPSHOT,
    "EBSVolume": ResourceType.EBS_VOLUME,
    "EC2Image": ResourceType.EC2_IMAGE,
}


def _tags(value: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in dicts(value):
        key, val = text(tag.get("key")), tag.get("value")
        if key is not None and len(tags) < 50:
            tags[clean_field(key, 128)] = clean_field(str(val), 256) if val is not None else ""
    return tags


class _Builder:
    """Collects a finding's resources, all in the finding's account and region."""

    def __init__(self, core: GuardDutyFindingCore) -> None:
        self.acct, self.region, self.partition = core.account_id, core.region, core.partition
        self.out: list[Resource] = []

    def add(
        self,
        kind: ResourceType,
        ident: Any,
        *,
        arn: Any = None,
        name: Any = None,
        tags: dict[str, str] | None = None,
        region: bool = True,
        max_len: int = 2048,
    ) -> Resource | None:
        value = text(ident)
        if value is None:
            return None
        arn_text, name_text = text(arn), text(name)
        resource = Resource(
            type=kind,
            id=clean_field(value, max_len),
            arn=clean_field(arn_text, 2048) if arn_text else None,
            name=clean_field(name_text, 1024) if name_text else None,
            region=self.region if region else None,
            account_id=self.acct,
            tags=tags or {},
        )
        self.out.append(resource)
        return resource


def _container(b: _Builder, container: dict[str, Any], base: str) -> None:
    """One GuardDuty `Container`: its runtime id (or its name when the runtime id is absent)."""
    image = text(container.get("image"))
    tags = {"image": clean_field(image, 256)} if image else {}
    runtime = text(container.get("containerRuntime"))
    if runtime:
        tags["containerRuntime"] = clean_field(runtime, 64)
    b.add(
        ResourceType.CONTAINER,
        text(container.get("id")) or text(container.get("name")),
        name=container.get("name"),
        tags=tags,
    )


def _instance(b: _Builder, res: dict[str, Any], obs: ObservableCollector, primary: ResourceType | None) -> None:
    instance = dig(res, "instanceDetails")
    instance_id = obs.add(
        ObservableType.INSTANCE_ID, dig(instance, "instanceId"), "resource.instanceDetails.instanceId"
    )
    if instance_id:
        b.add(
            ResourceType.EC2_INSTANCE,
            instance_id,
            arn=f"arn:{b.partition}:ec2:{b.region}:{b.acct}:instance/{instance_id}",
            tags=_tags(dig(instance, "tags")),
        )
    for i, nic in enumerate(dicts(dig(instance, "networkInterfaces"))):
        base = f"resource.instanceDetails.networkInterfaces[{i}]"
        obs.add(ObservableType.IP, nic.get("publicIp"), f"{base}.publicIp")
        obs.add(ObservableType.IP, nic.get("privateIpAddress"), f"{base}.privateIpAddress")
        for j, ip in enumerate(dicts(nic.get("ipv6Addresses"))):
            obs.add(ObservableType.IP, ip, f"{base}.ipv6Addresses[{j}]")
        if primary is ResourceType.NETWORK_INTERFACE:
            b.add(ResourceType.NETWORK_INTERFACE, nic.get("networkInterfaceId"))
        for sg in dicts(nic.get("securityGroups")):
            group_id = text(sg.get("groupId"))
            if group_id and group_id.startswith("sg-"):
                b.add(ResourceType.SECURITY_GROUP, group_id, name=sg.get("groupName"), max_len=64)


def _access_key(b: _Builder, res: dict[str, Any], obs: ObservableCollector) -> None:
    key = dig(res, "accessKeyDetails")
    key_id = obs.add(ObservableType.ACCESS_KEY_ID, dig(key, "accessKeyId"), "resource.accessKeyDetails.accessKeyId")
    user_name = obs.add(ObservableType.PRINCIPAL, dig(key, "userName"), "resource.accessKeyDetails.userName")
    principal_id = obs.add(
        ObservableType.PRINCIPAL_ID, dig(key, "principalId"), "resource.accessKeyDetails.principalId"
    )
    if principal_id and ":" in principal_id:
        # Instance role sessions are named after the instance: AROA...:i-0123456789abcdef0.
        obs.add(ObservableType.INSTANCE_ID, principal_id.split(":", 1)[1], "resource.accessKeyDetails.principalId")
    if key_id:
        b.add(ResourceType.IAM_ACCESS_KEY, key_id)
    if user_name:
        user_type = text(dig(key, "userType"))
        if user_type == "IAMUser":
            # No ARN is built: the user's IAM path is not in the finding, so a guessed ARN could be wrong.
            b.add(ResourceType.IAM_USER, user_name, name=user_name, region=False)
        elif user_type == "AssumedRole":
            b.add(ResourceType.IAM_ROLE, user_name, name=user_name, region=False)
        elif user_type == "Root":
            b.add(ResourceType.IAM_ROOT, b.acct, arn=f"arn:{b.partition}:iam::{b.acct}:root", region=False)


def _buckets(b: _Builder, res: dict[str, Any], obs: ObservableCollector) -> None:
    for i, bucket in enumerate(dicts(dig(res, "s3BucketDetails"))):
        name = text(bucket.get("name"))
        if not name:
            continue
        b.add(
            ResourceType.S3_BUCKET, name, name=name, arn=bucket.get("arn"), tags=_tags(bucket.get("tags")), max_len=255
        )
        # Malware Protection for S3: the scanned object, as `bucket/key` (its version in the tags).
        for j, obj in enumerate(dicts(bucket.get("s3ObjectDetails"))):
            key = text(obj.get("key"))
            if not key:
                continue
            tags = {
                label: clean_field(value, 256)
                for label, field in (("versionId", "versionId"), ("eTag", "eTag"))
                if (value := text(obj.get(field)))
            }
            b.add(ResourceType.S3_OBJECT, f"{name}/{key}", arn=obj.get("objectArn"), name=key, tags=tags)
            obs.add_untyped(obj.get("hash"), f"resource.s3BucketDetails[{i}].s3ObjectDetails[{j}].hash")


def _kubernetes(b: _Builder, res: dict[str, Any], obs: ObservableCollector) -> None:
    cluster = dig(res, "eksClusterDetails")
    b.add(
        ResourceType.EKS_CLUSTER,
        dig(cluster, "name"),
        name=dig(cluster, "name"),
        arn=dig(cluster, "arn"),
        tags=_tags(dig(cluster, "tags")),
    )
    workload = dig(res, "kubernetesDetails", "kubernetesWorkloadDetails")
    name, namespace = text(dig(workload, "name")), text(dig(workload, "namespace"))
    if name:
        tags = {
            label: clean_field(value, 256)
            for label, field in (("kind", "type"), ("uid", "uid"), ("namespace", "namespace"))
            if (value := text(dig(workload, field)))
        }
        # Workload names are unique only within a namespace of one cluster.
        cluster_name = text(dig(cluster, "name")) or "-"
        b.add(ResourceType.KUBERNETES_WORKLOAD, f"{cluster_name}/{namespace or 'default'}/{name}", name=name, tags=tags)
    for i, container in enumerate(dicts(dig(workload, "containers"))):
        _container(b, container, f"resource.kubernetesDetails.kubernetesWorkloadDetails.containers[{i}]")
    user = dig(res, "kubernetesDetails", "kubernetesUserDetails")
    # EKS access entries map IAM identities to Kubernetes users: an ARN user name is a cloud principal.
    obs.add(
        ObservableType.PRINCIPAL, dig(user, "username"), "resource.kubernetesDetails.kubernetesUserDetails.username"
    )


def _ecs(b: _Builder, res: dict[str, Any]) -> None:
    cluster = dig(res, "ecsClusterDetails")
    task = dig(cluster, "taskDetails")
    task_arn = text(dig(task, "arn"))
    if task_arn:
        tags = _tags(dig(task, "tags"))
        for label, field in (("taskDefinitionArn", "definitionArn"), ("launchType", "launchType"), ("group", "group")):
            value = text(dig(task, field))
            if value:
                tags[label] = clean_field(value, 256)
        b.add(ResourceType.ECS_TASK, task_arn, arn=task_arn, name=task_arn.rsplit("/", 1)[-1], tags=tags)
    b.add(
        ResourceType.ECS_CLUSTER,
        dig(cluster, "name"),
        name=dig(cluster, "name"),
        arn=dig(cluster, "arn"),
        tags=_tags(dig(cluster, "tags")),
    )
    for i, container in enumerate(dicts(dig(task, "containers"))):
        _container(b, container, f"resource.ecsClusterDetails.taskDetails.containers[{i}]")


def _databases(b: _Builder, res: dict[str, Any]) -> None:
    db = dig(res, "rdsDbInstanceDetails")
    b.add(
        ResourceType.RDS_INSTANCE,
        dig(db, "dbInstanceIdentifier"),
        name=dig(db, "dbInstanceIdentifier"),
        arn=dig(db, "dbInstanceArn"),
        tags=_tags(dig(db, "tags")),
    )
    limitless = dig(res, "rdsLimitlessDbDetails")
    b.add(
        ResourceType.RDS_SHARD_GROUP,
        dig(limitless, "dbShardGroupIdentifier"),
        name=dig(limitless, "dbShardGroupIdentifier"),
        arn=dig(limitless, "dbShardGroupArn"),
        tags=_tags(dig(limitless, "tags")),
    )
    for block in (db, limitless):
        cluster = text(dig(block, "dbClusterIdentifier"))
        if cluster and not any(r.type is ResourceType.RDS_CLUSTER and r.id == cluster for r in b.out):
            b.add(ResourceType.RDS_CLUSTER, cluster, name=cluster)


def _lambda(b: _Builder, res: dict[str, Any], obs: ObservableCollector) -> None:
    fn = dig(res, "lambdaDetails")
    b.add(
        ResourceType.LAMBDA_FUNCTION,
        dig(fn, "functionName"),
        name=dig(fn, "functionName"),
        arn=dig(fn, "functionArn"),
        tags=_tags(dig(fn, "tags")),
    )
    # The execution role is the identity the function acts as: a compromised function uses it.
    obs.add(ObservableType.PRINCIPAL, dig(fn, "role"), "resource.lambdaDetails.role")
    for sg in dicts(dig(fn, "vpcConfig", "securityGroups")):
        group_id = text(sg.get("groupId"))
        if group_id and group_id.startswith("sg-"):
            b.add(ResourceType.SECURITY_GROUP, group_id, name=sg.get("groupName"), max_len=64)


def _volumes(b: _Builder, res: dict[str, Any]) -> None:
    for volume in dicts(dig(res, "ebsVolumeDetails", "scannedVolumeDetails")):
        arn = text(volume.get("volumeArn"))
        if arn:
            b.add(ResourceType.EBS_VOLUME, arn.rsplit("/", 1)[-1], arn=arn, name=volume.get("deviceName"))
    snapshot = text(dig(res, "ebsSnapshotDetails", "snapshotArn"))
    if snapshot:
        b.add(ResourceType.EBS_SNAPSHOT, snapshot.rsplit("/", 1)[-1], arn=snapshot)
    image = text(dig(res, "ec2ImageDetails", "imageArn"))
    if image:
        b.add(ResourceType.EC2_IMAGE, image.rsplit("/", 1)[-1], arn=image)


def _resources(core: GuardDutyFindingCore, obs: ObservableCollector) -> list[Resource]:
    """Typed resources of every GuardDuty resource family, the `resourceType` one first.

    An ECS finding about a task lists the task first (it is what runs the workload), then its
    cluster and containers; a Kubernetes finding lists the cluster, then its workload and containers.
    """
    res = core.resource
    b = _Builder(core)
    primary = _PRIMARY_BY_RESOURCE_TYPE.get(text(dig(res, "resourceType")) or "")
    _instance(b, res, obs, primary)
    _access_key(b, res, obs)
    _buckets(b, res, obs)
    _kubernetes(b, res, obs)
    _ecs(b, res)
    container = dig(res, "containerDetails")
    if isinstance(container, dict):
        _container(b, container, "resource.containerDetails")
    _databases(b, res)
    _lambda(b, res, obs)
    _volumes(b, res)
    if primary is ResourceType.ECS_CLUSTER and any(r.type is ResourceType.ECS_TASK for r in b.out):
        primary = ResourceType.ECS_TASK
    if primary is ResourceType.S3_BUCKET and any(r.type is ResourceType.S3_OBJECT for r in b.out):
        primary = ResourceType.S3_OBJECT
    # The finding's own resourceType names the primary resource: it goes first (stable sort).
    return sorted(b.out, key=lambda r: r.type is not primary)


_REMOTE_IP_ACTIONS = (
    "networkConnectionAction",
    "awsApiCallAction",
    "kubernetesApiCallAction",
    "rdsLoginAttemptAction",
)


def _action_observables(service: dict[str, Any], obs: ObservableCollector) -> None:
    action = dig(service, "action")
    for name in _REMOTE_IP_ACTIONS:
        details = dig(action, name, "remoteIpDetails")
        base = f"service.action.{name}.remoteIpDetails"
        obs.add(ObservableType.IP, dig(details, "ipAddressV4"), f"{base}.ipAddressV4")
        obs.add(ObservableType.IP, dig(details, "ipAddressV6"), f"{base}.ipAddressV6")
    for i, probe in enumerate(dicts(dig(action, "portProbeAction", "portProbeDetails"))):
        obs.add(
            ObservableType.IP,
            dig(probe, "remoteIpDetails", "ipAddressV4"),
            f"service.action.portProbeAction.portProbeDetails[{i}].remoteIpDetails.ipAddressV4",
        )
    obs.add(
        ObservableType.IP,
        dig(action, "networkConnectionAction", "localIpDetails", "ipAddressV4"),
        "service.action.networkConnectionAction.localIpDetails.ipAddressV4",
    )
    obs.add(ObservableType.DOMAIN, dig(action, "dnsRequestAction", "domain"), "service.action.dnsRequestAction.domain")
    obs.add(
        ObservableType.DOMAIN,
        dig(action, "awsApiCallAction", "domainDetails", "domain"),
        "service.action.awsApiCallAction.domainDetails.domain",
    )
    obs.add(
        ObservableType.ACCOUNT_ID,
        dig(action, "awsApiCallAction", "remoteAccountDetails", "accountId"),
        "service.action.awsApiCallAction.remoteAccountDetails.accountId",
    )

    detections = dig(service, "ebsVolumeScanDetails", "scanDetections", "threatDetectedByName", "threatNames")
    for i, threat in enumerate(dicts(detections)):
        for j, path in enumerate(dicts(threat.get("filePaths"))):
            obs.add(
                ObservableType.HASH_SHA256,
                path.get("hash"),
                f"service.ebsVolumeScanDetails.scanDetections.threatDetectedByName.threatNames[{i}]"
                f".filePaths[{j}].hash",
            )
    # Malware Protection for S3 (and Backup): service.malwareScanDetails.threats[].itemPaths[].hash.
    for i, threat in enumerate(dicts(dig(service, "malwareScanDetails", "threats"))):
        base = f"service.malwareScanDetails.threats[{i}]"
        obs.add_untyped(threat.get("hash"), f"{base}.hash")
        for j, item_path in enumerate(dicts(threat.get("itemPaths"))):
            obs.add_untyped(item_path.get("hash"), f"{base}.itemPaths[{j}].hash")
    obs.add(
        ObservableType.HASH_SHA256,
        dig(service, "runtimeDetails", "process", "executableSha256"),
        "service.runtimeDetails.process.executableSha256",
    )


def _time(value: str | None, field: str) -> datetime | None:
    return parse_time(value, field) if value else None


def parse(item: dict[str, Any], ctx: ParseContext, *, fmt: SourceFormat, raw: dict[str, Any]) -> NormalizedAlert:
    """Normalise one GuardDuty finding (`item`); `raw` is what to keep (the whole event if wrapped)."""
    try:
        core = GuardDutyFindingCore.model_validate(item)
    except ValidationError as err:
        raise invalid_from(err, "GuardDuty finding") from None
    service = core.service
    obs = ObservableCollector()
    resources = _resources(core, obs)
    _action_observables(service, obs)

    created = _time(core.created_at, "createdAt")
    updated = _time(core.updated_at, "updatedAt") or created
    first = optional_service_time(service, "eventFirstSeen") or created or ctx.received_at
    last = optional_service_time(service, "eventLastSeen") or updated or first
    first, last = min(first, last), max(first, last)

    finding_type = clean_field(core.type)
    archived = service.get("archived") is True
    return NormalizedAlert(
        alert_id=alert_id_for(SOURCE, core.id),
        source=SOURCE,
        source_format=fmt,
        source_id=core.id,
        product="GuardDuty",
        title=clean_title(core.title or finding_type),
        description=clean_description(core.description),
        type=finding_type,
        severity=severity.from_guardduty_score(core.severity),
        occurred_at=last,
        first_seen=first,
        last_seen=last,
        account_id=core.account_id,
        region=core.region,
        resources=resources,
        observables=obs.result(),
        attack_techniques=attack.merge(attack.techniques_for_guardduty_type(core.type)),
        state=AlertState.RESOLVED if archived else AlertState.ACTIVE,
        state_reason="service.archived true" if archived else None,
        detection=finding_type,
        raw=raw,
    )


def optional_service_time(service: dict[str, Any], key: str) -> datetime | None:
    """`service.<key>` as a UTC datetime, or None when absent."""
    value = service.get(key)
    return parse_time(value, f"service.{key}") if value else None
