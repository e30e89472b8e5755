"""AWS Security Finding Format (ASFF, SchemaVersion 2018-10-08): a plain finding, or one of the
`detail.findings` of a `Security Hub Findings - Imported` EventBridge event.

Identity: a finding is its `Id` within its `ProductArn` (alert_id = uuid5 of both); an update of a
finding (new `UpdatedAt`, a new compliance result) is the same alert.

What detected it (`detection`, part of the fingerprint) and `type` (what playbooks match):
- control findings, consolidated (`Compliance.SecurityControlId`, e.g. `EC2.19`): detection
  `EC2.19`, type `securityhub:control/EC2.19`;
- control findings, legacy per-standard (`ProductFields.ControlId`, or `ProductFields.RuleId` for
  CIS 1.2.0): detection is the standard and the id (`aws-foundational-security-best-practices/v/
  1.0.0/EC2.19`, `cis-aws-foundations-benchmark/v/1.2.0/1.4`). When the id is a security control
  id (`<Service>.<n>`, as every FSBP id is) the type is `securityhub:control/EC2.19`, the same as
  the consolidated finding's, so one playbook serves both; a standard-specific id (CIS `1.4`,
  `CIS.4.1`) is kept as given and qualified by its standard:
  `securityhub:control/cis-aws-foundations-benchmark/v/1.2.0/1.4`;
- GuardDuty findings relayed through Security Hub keep their GuardDuty type (recovered from the
  `Types` classifier) as type and detection, so playbooks and ATT&CK mapping treat them like native
  GuardDuty findings;
- anything else: `GeneratorId` (with the vulnerability id, for Inspector-style findings), type
  `Types[0]`.

Lifecycle (`state`): resolved when `RecordState` is `ARCHIVED`, `Workflow.Status` is `RESOLVED`
or `SUPPRESSED` (or, without `Workflow`, the deprecated `WorkflowState` is `RESOLVED` or
`DEFERRED`, which Security Hub maps to `SUPPRESSED`), or `Compliance.Status` is `PASSED` or
`NOT_AVAILABLE`. `NOT_AVAILABLE` means the check could not be evaluated (the resource was deleted,
or AWS Config does not record it): there is no failure to act on, so it opens nothing and closes
a known failure; `WARNING` and `FAILED` stay active.
"""

from __future__ import annotations

import re
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
    strings,
    text,
)
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
    "AwsRdsDbCluster": ResourceType.RDS_CLUSTER,
    "AwsRdsDbSnapshot": ResourceType.RDS_SNAPSHOT,
    "AwsRdsDbClusterSnapshot": ResourceType.RDS_SNAPSHOT,
    "AwsEcsTask": ResourceType.ECS_TASK,
    "AwsEcsService": ResourceType.ECS_SERVICE,
    "AwsEcrContainerImage": ResourceType.ECR_IMAGE,
    "Container": ResourceType.CONTAINER,
    "AwsKmsKey": ResourceType.KMS_KEY,
    "AwsSnsTopic": ResourceType.SNS_TOPIC,
    "AwsSqsQueue": ResourceType.SQS_QUEUE,
    "AwsCloudTrailTrail": ResourceType.CLOUDTRAIL_TRAIL,
    "AwsEc2NetworkAcl": ResourceType.NETWORK_ACL,
    "AwsEc2NetworkInterface": ResourceType.NETWORK_INTERFACE,
    "AwsEc2Vpc": ResourceType.VPC,
    "AwsEc2Subnet": ResourceType.SUBNET,
    "AwsEc2Snapshot": ResourceType.EBS_SNAPSHOT,
    "AwsSecretsManagerSecret": ResourceType.SECRETS_MANAGER_SECRET,
    "AwsDynamoDbTable": ResourceType.DYNAMODB_TABLE,
    "AwsS3Object": ResourceType.S3_OBJECT,
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
    Compliance: dict[str, Any] = Field(default_factory=dict)
    Workflow: dict[str, Any] = Field(default_factory=dict)
    WorkflowState: str | None = None
    RecordState: str | None = None


_SECURITY_CONTROL_ID = re.compile(r"^[A-Za-z][A-Za-z0-9]*\.\d+$")
# `arn:aws:securityhub:::standards/<path>`, `arn:aws:securityhub:::ruleset/<path>`, or
# `arn:aws:securityhub:<region>:<account>:control/<path>/<control>`.
_STANDARD_IN_ARN = re.compile(r"^arn:[^:]+:securityhub:[^:]*:[^:]*:(?:standards|ruleset|subscription|control)/(.+)$")


def _standard(fields: dict[str, Any], control_id: str) -> str | None:
    """The standard a legacy control finding belongs to, as `name/v/version` (from its ARNs)."""
    for key in ("StandardsArn", "StandardsGuideArn", "StandardsSubscriptionArn", "StandardsControlArn"):
        match = _STANDARD_IN_ARN.match(text(fields.get(key)) or "")
        if match:
            path = match.group(1)
            if key == "StandardsControlArn" and path.endswith("/" + control_id):
                path = path[: -len(control_id) - 1]
            return path.strip("/") or None
    return None


def _identity(item: dict[str, Any], core: AsffFindingCore, types: list[str]) -> tuple[str, str]:
    """(type, detection): see the module docstring."""
    consolidated = text(core.Compliance.get("SecurityControlId"))
    if consolidated:
        control = clean_field(consolidated, 128)
        return f"securityhub:control/{control}", control
    legacy = text(core.ProductFields.get("ControlId")) or text(core.ProductFields.get("RuleId"))
    if legacy:
        control = clean_field(legacy, 128)
        standard = _standard(core.ProductFields, legacy)
        detection = f"{clean_field(standard, 256)}/{control}" if standard else control
        if _SECURITY_CONTROL_ID.match(control) or not standard:
            return f"securityhub:control/{control}", detection
        return f"securityhub:control/{detection}", detection
    guardduty_type = attack.guardduty_type_from_asff_types(types)
    if guardduty_type:
        finding_type = clean_field(guardduty_type)
        return finding_type, finding_type
    vulnerability = next((text(v.get("Id")) for v in dicts(item.get("Vulnerabilities")) if text(v.get("Id"))), None)
    detection = f"{core.GeneratorId}/{vulnerability}" if vulnerability else core.GeneratorId
    return clean_field(types[0]), clean_field(detection)


def _lifecycle(core: AsffFindingCore) -> tuple[AlertState, str | None]:
    """(state, reason) from RecordState, Workflow and Compliance: see the module docstring."""
    record = (core.RecordState or "").upper()
    workflow = (text(core.Workflow.get("Status")) or "").upper()
    legacy_workflow = (core.WorkflowState or "").upper()
    compliance = (text(core.Compliance.get("Status")) or "").upper()
    if record == "ARCHIVED":
        return AlertState.RESOLVED, "RecordState ARCHIVED"
    if workflow in ("RESOLVED", "SUPPRESSED"):
        return AlertState.RESOLVED, f"Workflow.Status {workflow}"
    if not workflow and legacy_workflow in ("RESOLVED", "DEFERRED"):
        return AlertState.RESOLVED, f"WorkflowState {legacy_workflow}"
    if compliance in ("PASSED", "NOT_AVAILABLE"):
        return AlertState.RESOLVED, f"Compliance.Status {compliance}"
    return AlertState.ACTIVE, None


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
            for j, ip in enumerate(strings(dig(details, "AwsEc2Instance", "IpV4Addresses"))):
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
        elif kind is ResourceType.ECR_IMAGE:
            image = dig(details, "AwsEcrContainerImage")
            repository, digest = text(dig(image, "RepositoryName")), text(dig(image, "ImageDigest"))
            if repository and digest:
                ident = f"{repository}@{digest}"
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

    provider_severity = dig(item, "FindingProviderFields", "Severity")
    sev_block = core.Severity or (provider_severity if isinstance(provider_severity, dict) else {})
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
    types += strings(dig(item, "FindingProviderFields", "Types"))
    if not types:
        raise ItemError(ErrorCode.INVALID, "needs at least one finding type", "Types")
    guardduty_type = attack.guardduty_type_from_asff_types(types)
    finding_type, detection = _identity(item, core, types)
    state, state_reason = _lifecycle(core)
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
        state=state,
        state_reason=state_reason,
        detection=detection,
        raw=raw,
    )


def _arn_region(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] or None if len(parts) > 3 else None
