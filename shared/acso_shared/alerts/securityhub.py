"""AWS Security Finding Format (ASFF, SchemaVersion 2018-10-08): a plain finding, or one of the
`detail.findings` of a `Security Hub Findings - Imported` EventBridge event.

GuardDuty findings relayed through Security Hub keep their GuardDuty type (recovered from the
`Types` classifier), so playbooks and ATT&CK mapping treat them like native GuardDuty findings.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acso_shared.alerts import attack, severity
from acso_shared.alerts.common import (
    ErrorCode,
    ItemError,
    ParseContext,
    dicts,
    dig,
    invalid_from,
    optional_time,
    parse_time,
    text,
)
from acso_shared.alerts.models import (
    NormalizedAlert,
    ObservableType,
    Resource,
    ResourceType,
    SourceFormat,
    alert_id_for,
)
from acso_shared.alerts.observables import ObservableCollector
from acso_shared.alerts.resources import resource_id, resource_kind
from acso_shared.alerts.text import clean_description, clean_field, clean_title

SOURCE = "aws.securityhub"
ASFF_SCHEMA_VERSION = "2018-10-08"

_RESOURCE_TYPES: dict[str, ResourceType] = {
    "AwsEc2Instance": ResourceType.EC2_INSTANCE,
    "AwsIamAccessKey": ResourceType.IAM_ACCESS_KEY,
    "AwsIamUser": ResourceType.IAM_USER,
    "AwsIamRole": ResourceType.IAM_ROLE,
    "AwsS3Bucket": ResourceType.S3_BUCKET,
    "AwsEc2SecurityGroup": ResourceType.SECURITY_GROUP,
    "AwsEc2Volume": ResourceType.EBS_VOLUME,
    "AwsLambdaFunction": ResourceType.LAMBDA_FUNCTION,
    "AwsEksCluster": ResourceType.EKS_CLUSTER,
    "AwsEcsCluster": ResourceType.ECS_CLUSTER,
    "AwsRdsDbInstance": ResourceType.RDS_INSTANCE,
    "AwsAccount": ResourceType.AWS_ACCOUNT,
}

_INDICATOR_TYPES: dict[str, ObservableType] = {
    "DOMAIN": ObservableType.DOMAIN,
    "EMAIL_ADDRESS": ObservableType.EMAIL,
    "HASH_MD5": ObservableType.HASH_MD5,
    "HASH_SHA1": ObservableType.HASH_SHA1,
    "HASH_SHA256": ObservableType.HASH_SHA256,
    "HASH_SHA512": ObservableType.HASH_SHA512,
    "IPV4_ADDRESS": ObservableType.IP,
    "IPV6_ADDRESS": ObservableType.IP,
    "URL": ObservableType.URL,
}

# ProductFields keys (GuardDuty writes its finding details there, flattened with "/") by suffix.
_PRODUCT_FIELD_SUFFIXES: tuple[tuple[str, ObservableType], ...] = (
    ("/ipAddressV4", ObservableType.IP),
    ("/ipAddressV6", ObservableType.IP),
    ("/dnsRequestAction/domain", ObservableType.DOMAIN),
    ("/accessKeyId", ObservableType.ACCESS_KEY_ID),
    ("/instanceId", ObservableType.INSTANCE_ID),
)


class AsffResource(BaseModel):
    """One `Resources[]` entry."""

    model_config = ConfigDict(extra="ignore")

    Type: str = Field(min_length=1, max_length=256)
    Id: str = Field(min_length=1, max_length=2048)
    Partition: str | None = None
    Region: str | None = Field(default=None, max_length=64)
    Tags: dict[str, str] = Field(default_factory=dict)
    Details: dict[str, Any] = Field(default_factory=dict)


class AsffFindingCore(BaseModel):
    """The ASFF attributes Security Hub itself requires (BatchImportFindings), read strictly."""

    model_config = ConfigDict(extra="ignore")

    SchemaVersion: str
    Id: str = Field(min_length=1, max_length=512)
    ProductArn: str = Field(min_length=1, max_length=2048)
    GeneratorId: str = Field(min_length=1, max_length=512)
    AwsAccountId: str = Field(min_length=1, max_length=64)
    Types: list[str] = Field(default_factory=list, max_length=50)
    CreatedAt: str
    UpdatedAt: str
    FirstObservedAt: str | None = None
    LastObservedAt: str | None = None
    Severity: dict[str, Any] | None = None
    Title: str = Field(min_length=1, max_length=65536)
    Description: str = Field(min_length=1, max_length=65536)
    Resources: list[AsffResource] = Field(min_length=1, max_length=100)
    Region: str | None = Field(default=None, max_length=64)
    ProductName: str | None = Field(default=None, max_length=256)
    ProductFields: dict[str, Any] = Field(default_factory=dict)


def looks_like_finding(obj: dict[str, Any]) -> bool:
    """Detection rule: `SchemaVersion` and `ProductArn` present (ASFF's own capitalised keys)."""
    return "SchemaVersion" in obj and "ProductArn" in obj


def _resources(core: AsffFindingCore, obs: ObservableCollector) -> list[Resource]:
    out: list[Resource] = []
    for i, res in enumerate(core.Resources):
        base = f"Resources[{i}]"
        kind = _RESOURCE_TYPES.get(res.Type) or resource_kind(res.Type)
        ident, arn = resource_id(kind, res.Id)
        details = res.Details
        if kind is ResourceType.EC2_INSTANCE:
            obs.add(ObservableType.INSTANCE_ID, ident, f"{base}.Id")
            for j, ip in enumerate(dig(details, "AwsEc2Instance", "IpV4Addresses") or []):
                obs.add(ObservableType.IP, ip, f"{base}.Details.AwsEc2Instance.IpV4Addresses[{j}]")
        elif kind is ResourceType.IAM_ACCESS_KEY:
            key_details = dig(details, "AwsIamAccessKey")
            key_id = dig(key_details, "AccessKeyId") or ident
            ident = obs.add(ObservableType.ACCESS_KEY_ID, key_id, f"{base}.Id") or ident
            obs.add(
                ObservableType.PRINCIPAL,
                dig(key_details, "PrincipalName"),
                f"{base}.Details.AwsIamAccessKey.PrincipalName",
            )
            obs.add(ObservableType.PRINCIPAL, dig(key_details, "UserName"), f"{base}.Details.AwsIamAccessKey.UserName")
            obs.add(
                ObservableType.PRINCIPAL_ID,
                dig(key_details, "PrincipalId"),
                f"{base}.Details.AwsIamAccessKey.PrincipalId",
            )
        elif kind in (ResourceType.IAM_USER, ResourceType.IAM_ROLE):
            obs.add(ObservableType.PRINCIPAL, arn or ident, f"{base}.Id")
        out.append(
            Resource(
                type=kind,
                id=clean_field(ident, 2048),
                arn=arn,
                name=clean_field(ident, 1024),
                region=res.Region or core.Region,
                account_id=core.AwsAccountId,
                tags={clean_field(k, 128): clean_field(v, 256) for k, v in res.Tags.items()},
            )
        )
    return out


def _other_observables(item: dict[str, Any], core: AsffFindingCore, obs: ObservableCollector) -> None:
    network = item.get("Network")
    for key in ("SourceIpV4", "SourceIpV6", "DestinationIpV4", "DestinationIpV6"):
        obs.add(ObservableType.IP, dig(network, key), f"Network.{key}")
    for key in ("SourceDomain", "DestinationDomain"):
        obs.add(ObservableType.DOMAIN, dig(network, key), f"Network.{key}")

    action = item.get("Action")
    for name in ("NetworkConnectionAction", "AwsApiCallAction"):
        obs.add(
            ObservableType.IP,
            dig(action, name, "RemoteIpDetails", "IpAddressV4"),
            f"Action.{name}.RemoteIpDetails.IpAddressV4",
        )
    obs.add(
        ObservableType.DOMAIN,
        dig(action, "AwsApiCallAction", "DomainDetails", "Domain"),
        "Action.AwsApiCallAction.DomainDetails.Domain",
    )
    obs.add(ObservableType.DOMAIN, dig(action, "DnsRequestAction", "Domain"), "Action.DnsRequestAction.Domain")
    for i, probe in enumerate(dicts(dig(action, "PortProbeAction", "PortProbeDetails"))):
        obs.add(
            ObservableType.IP,
            dig(probe, "RemoteIpDetails", "IpAddressV4"),
            f"Action.PortProbeAction.PortProbeDetails[{i}].RemoteIpDetails.IpAddressV4",
        )

    for i, indicator in enumerate(dicts(item.get("ThreatIntelIndicators"))):
        kind = _INDICATOR_TYPES.get(str(indicator.get("Type")))
        if kind is not None:
            obs.add(kind, indicator.get("Value"), f"ThreatIntelIndicators[{i}].Value")
    for i, threat in enumerate(dicts(item.get("Threats"))):
        for j, path in enumerate(dicts(threat.get("FilePaths"))):
            obs.add_untyped(path.get("Hash"), f"Threats[{i}].FilePaths[{j}].Hash")

    for key, value in core.ProductFields.items():
        for suffix, kind in _PRODUCT_FIELD_SUFFIXES:
            if key.endswith(suffix):
                obs.add(kind, value, f"ProductFields.{key}")


def parse(item: dict[str, Any], ctx: ParseContext, *, fmt: SourceFormat, raw: dict[str, Any]) -> NormalizedAlert:
    """Normalise one ASFF finding (`item`); `raw` is what to keep (the finding, inside its event if any)."""
    try:
        core = AsffFindingCore.model_validate(item)
    except ValidationError as err:
        raise invalid_from(err, "ASFF finding") from None
    if core.SchemaVersion != ASFF_SCHEMA_VERSION:
        raise ItemError(
            ErrorCode.INVALID, f"unsupported ASFF SchemaVersion; expected {ASFF_SCHEMA_VERSION}", "SchemaVersion"
        )

    sev_block = core.Severity or dig(item, "FindingProviderFields", "Severity") or {}
    normalized = sev_block.get("Normalized")
    sev = severity.from_asff(
        text(sev_block.get("Label")),
        float(normalized) if isinstance(normalized, int | float) and not isinstance(normalized, bool) else None,
        text(sev_block.get("Original")),
    )
    if sev is None:
        raise ItemError(
            ErrorCode.INVALID,
            "needs Severity.Label (INFORMATIONAL..CRITICAL) or Severity.Normalized (0-100)",
            "Severity",
        )

    types = [t for t in core.Types if isinstance(t, str)]
    types += [t for t in dig(item, "FindingProviderFields", "Types") or [] if isinstance(t, str)]
    if not types:
        raise ItemError(ErrorCode.INVALID, "needs at least one finding type", "Types")
    guardduty_type = attack.guardduty_type_from_asff_types(types)
    finding_type = clean_field(guardduty_type or types[0])
    techniques = attack.merge(
        *(attack.techniques_in_text(t) for t in types),
        attack.techniques_for_guardduty_type(guardduty_type) if guardduty_type else (),
    )

    obs = ObservableCollector()
    resources = _resources(core, obs)
    _other_observables(item, core, obs)

    created = parse_time(core.CreatedAt, "CreatedAt")
    updated = parse_time(core.UpdatedAt, "UpdatedAt")
    first = optional_time(core.FirstObservedAt, "FirstObservedAt") or created
    last = optional_time(core.LastObservedAt, "LastObservedAt") or updated
    first, last = min(first, last), max(first, last)
    region = core.Region or core.Resources[0].Region or _arn_region(core.ProductArn)
    product = core.ProductName or text(core.ProductFields.get("aws/securityhub/ProductName"))

    return NormalizedAlert(
        alert_id=alert_id_for(SOURCE, f"{core.ProductArn}/{core.Id}"),
        source=SOURCE,
        source_format=fmt,
        source_id=core.Id,
        product=clean_field(product, 256) if product else None,
        title=clean_title(core.Title),
        description=clean_description(core.Description),
        type=finding_type,
        severity=sev,
        occurred_at=last,
        first_seen=first,
        last_seen=last,
        account_id=core.AwsAccountId,
        region=region,
        resources=resources,
        observables=obs.result(),
        attack_techniques=techniques,
        raw=raw,
    )


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 else None
