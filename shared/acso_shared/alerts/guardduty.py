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
    "EKSCluster": ResourceType.EKS_CLUSTER,
    "ECSCluster": ResourceType.ECS_CLUSTER,
    "Lambda": ResourceType.LAMBDA_FUNCTION,
    "RDSDBInstance": ResourceType.RDS_INSTANCE,
}


def _tags(value: Any) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag in dicts(value):
        key, val = text(tag.get("key")), tag.get("value")
        if key is not None:
            tags[clean_field(key, 128)] = clean_field(str(val), 256) if val is not None else ""
    return tags


def _resources(core: GuardDutyFindingCore, obs: ObservableCollector) -> list[Resource]:
    res = core.resource
    acct, region, partition = core.account_id, core.region, core.partition
    out: list[Resource] = []

    instance = dig(res, "instanceDetails")
    instance_id = obs.add(
        ObservableType.INSTANCE_ID, dig(instance, "instanceId"), "resource.instanceDetails.instanceId"
    )
    if instance_id:
        out.append(
            Resource(
                type=ResourceType.EC2_INSTANCE,
                id=instance_id,
                region=region,
                account_id=acct,
                arn=f"arn:{partition}:ec2:{region}:{acct}:instance/{instance_id}",
                tags=_tags(dig(instance, "tags")),
            )
        )
    for i, nic in enumerate(dicts(dig(instance, "networkInterfaces"))):
        base = f"resource.instanceDetails.networkInterfaces[{i}]"
        obs.add(ObservableType.IP, nic.get("publicIp"), f"{base}.publicIp")
        obs.add(ObservableType.IP, nic.get("privateIpAddress"), f"{base}.privateIpAddress")
        for sg in dicts(nic.get("securityGroups")):
            group_id = text(sg.get("groupId"))
            if group_id and group_id.startswith("sg-"):
                group_name = text(sg.get("groupName"))
                out.append(
                    Resource(
                        type=ResourceType.SECURITY_GROUP,
                        id=clean_field(group_id, 64),
                        region=region,
                        account_id=acct,
                        name=clean_field(group_name, 255) if group_name else None,
                    )
                )

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
        out.append(Resource(type=ResourceType.IAM_ACCESS_KEY, id=key_id, account_id=acct, region=region))
    if user_name:
        user_type = text(dig(key, "userType"))
        if user_type == "IAMUser":
            # No ARN is built: the user's IAM path is not in the finding, so a guessed ARN could be wrong.
            out.append(Resource(type=ResourceType.IAM_USER, id=user_name, name=user_name, account_id=acct))
        elif user_type == "AssumedRole":
            out.append(Resource(type=ResourceType.IAM_ROLE, id=user_name, name=user_name, account_id=acct))
        elif user_type == "Root":
            out.append(
                Resource(type=ResourceType.IAM_ROOT, id=acct, account_id=acct, arn=f"arn:{partition}:iam::{acct}:root")
            )

    for bucket in dicts(dig(res, "s3BucketDetails")):
        name = text(bucket.get("name"))
        if name:
            out.append(
                Resource(
                    type=ResourceType.S3_BUCKET,
                    id=clean_field(name, 255),
                    name=clean_field(name, 255),
                    arn=text(bucket.get("arn")),
                    account_id=acct,
                    region=region,
                    tags=_tags(bucket.get("tags")),
                )
            )

    for details, kind, id_key, arn_key in (
        ("eksClusterDetails", ResourceType.EKS_CLUSTER, "name", "arn"),
        ("ecsClusterDetails", ResourceType.ECS_CLUSTER, "name", "arn"),
        ("lambdaDetails", ResourceType.LAMBDA_FUNCTION, "functionName", "functionArn"),
        ("rdsDbInstanceDetails", ResourceType.RDS_INSTANCE, "dbInstanceIdentifier", "dbInstanceArn"),
    ):
        block = dig(res, details)
        ident = text(dig(block, id_key))
        if ident:
            out.append(
                Resource(
                    type=kind,
                    id=clean_field(ident, 255),
                    name=clean_field(ident, 255),
                    arn=text(dig(block, arn_key)),
                    account_id=acct,
                    region=region,
                    tags=_tags(dig(block, "tags")),
                )
            )
    primary = _PRIMARY_BY_RESOURCE_TYPE.get(text(dig(res, "resourceType")) or "")
    # The finding's own resourceType names the primary resource: it goes first (stable sort).
    return sorted(out, key=lambda r: r.type is not primary)


_REMOTE_IP_ACTIONS = (
    "networkConnectionAction",
    "awsApiCallAction",
    "kubernetesApiCallAction",
    "rdsLoginAttemptAction",
)


def _action_observables(service: dict[str, Any], obs: ObservableCollector) -> None:
    action = dig(service, "action") or {}
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
        raw=raw,
    )


def optional_service_time(service: dict[str, Any], key: str) -> datetime | None:
    """`service.<key>` as a UTC datetime, or None when absent."""
    value = service.get(key)
    return parse_time(value, f"service.{key}") if value else None
