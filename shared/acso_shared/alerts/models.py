"""Wire schemas for alerts: the one OCSF-aligned `NormalizedAlert` every input format becomes,
and `GenericAlert`, ACSO's own alert JSON for integrations that have no native format.

`NormalizedAlert` follows the OCSF Detection Finding class (class_uid 2004, category_uid 2):
`severity.id` is OCSF `severity_id`, times are UTC, observables use OCSF's pivot idea (typed
values, with the path they came from). Everything copied from an alert is untrusted data.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

#: `source` values: the AWS services we read natively, the two open formats, our own schema.
SOURCE_PATTERN = r"^(aws\.guardduty|aws\.securityhub|ocsf|splunk|generic|acso\.[a-z0-9][a-z0-9_.-]{0,62})$"
TECHNIQUE_PATTERN = r"^T\d{4}(\.\d{3})?$"
GENERIC_SCHEMA_ID = "acso.alert/v1"


class SourceFormat(StrEnum):
    """The exact shape an alert arrived in (two shapes can share one `source`)."""

    GUARDDUTY_FINDING = "guardduty_finding"
    GUARDDUTY_EVENTBRIDGE = "guardduty_eventbridge"
    ASFF = "asff"
    SECURITYHUB_EVENTBRIDGE = "securityhub_eventbridge"
    SECURITYHUB_V2_EVENTBRIDGE = "securityhub_v2_eventbridge"
    OCSF_DETECTION_FINDING = "ocsf_detection_finding"
    OCSF_SECURITY_FINDING = "ocsf_security_finding"  # class_uid 2001 (deprecated in OCSF 1.1, still sent)
    OCSF_COMPLIANCE_FINDING = "ocsf_compliance_finding"  # class_uid 2003 (Security Hub CSPM controls)
    SPLUNK_WEBHOOK = "splunk_webhook"
    ACSO_GENERIC = "acso_generic"


class SeverityId(IntEnum):
    """OCSF `severity_id` (99 "Other" is folded into UNKNOWN; the original value is kept)."""

    UNKNOWN = 0
    INFORMATIONAL = 1
    LOW = 2
    MEDIUM = 3
    HIGH = 4
    CRITICAL = 5
    FATAL = 6


class SeverityLabel(StrEnum):
    """OCSF severity captions, lower-case."""

    UNKNOWN = "unknown"
    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"
    FATAL = "fatal"


#: Labels from least to most severe: the order "the worst of the alerts" is taken in.
SEVERITY_ORDER: list[str] = [label.value for label in SeverityLabel]
LABEL_BY_ID: dict[SeverityId, SeverityLabel] = {sid: SeverityLabel(sid.name.lower()) for sid in SeverityId}
ID_BY_LABEL: dict[SeverityLabel, SeverityId] = {label: sid for sid, label in LABEL_BY_ID.items()}


class Severity(BaseModel):
    """A normalised severity plus what the source said, so nothing is lost in mapping."""

    model_config = ConfigDict(frozen=True)

    id: SeverityId
    label: SeverityLabel
    score: float | None = Field(default=None, description="The source's numeric score (GuardDuty 1-10, ASFF 0-100)")
    original: str | None = Field(default=None, max_length=64, description="The source's own label or value")

    @model_validator(mode="after")
    def _label_matches_id(self) -> Severity:
        if LABEL_BY_ID[self.id] is not self.label:
            raise ValueError(f"severity label {self.label} does not match id {int(self.id)}")
        return self


class ObservableType(StrEnum):
    """Typed pivots extracted from alerts (values are normalised, see `observables.py`)."""

    IP = "ip"
    DOMAIN = "domain"
    URL = "url"
    EMAIL = "email"
    HASH_MD5 = "hash_md5"
    HASH_SHA1 = "hash_sha1"
    HASH_SHA256 = "hash_sha256"
    HASH_SHA512 = "hash_sha512"
    PRINCIPAL = "principal"  # an ARN, or a user/role name when no ARN is given
    PRINCIPAL_ID = "principal_id"  # the IAM unique id (AIDA..., AROA...:session)
    ACCESS_KEY_ID = "access_key_id"
    INSTANCE_ID = "instance_id"
    ACCOUNT_ID = "account_id"  # a remote/other account (the alert's own account is `account_id`)


class ResourceType(StrEnum):
    """Affected resources; `id` holds the AWS id or name (instance id, bucket name, user name...)."""

    EC2_INSTANCE = "ec2_instance"
    IAM_USER = "iam_user"
    IAM_ROLE = "iam_role"
    IAM_ACCESS_KEY = "iam_access_key"
    IAM_ROOT = "iam_root"
    S3_BUCKET = "s3_bucket"
    SECURITY_GROUP = "security_group"
    EBS_VOLUME = "ebs_volume"
    LAMBDA_FUNCTION = "lambda_function"
    EKS_CLUSTER = "eks_cluster"
    ECS_CLUSTER = "ecs_cluster"
    RDS_INSTANCE = "rds_instance"
    RDS_CLUSTER = "rds_cluster"
    ECS_TASK = "ecs_task"  # id = task ARN
    CONTAINER = "container"
    S3_OBJECT = "s3_object"  # id = "bucket/key"
    KMS_KEY = "kms_key"
    SNS_TOPIC = "sns_topic"
    SQS_QUEUE = "sqs_queue"
    CLOUDTRAIL_TRAIL = "cloudtrail_trail"
    ECS_SERVICE = "ecs_service"
    ECR_IMAGE = "ecr_image"  # id = repository name@digest (or :tag), arn = the image ARN when given
    KUBERNETES_WORKLOAD = "kubernetes_workload"  # id = "cluster/namespace/name"; its kind and uid are in tags
    RDS_SHARD_GROUP = "rds_shard_group"  # Aurora Limitless Database DB shard group
    EBS_SNAPSHOT = "ebs_snapshot"
    EC2_IMAGE = "ec2_image"
    NETWORK_INTERFACE = "network_interface"
    NETWORK_ACL = "network_acl"
    SECRETS_MANAGER_SECRET = "secretsmanager_secret"  # noqa: S105 - a resource type name, not a secret
    DYNAMODB_TABLE = "dynamodb_table"
    VPC = "vpc"
    SUBNET = "subnet"
    RDS_SNAPSHOT = "rds_snapshot"  # a DB snapshot or DB cluster snapshot
    AWS_ACCOUNT = "aws_account"
    HOST = "host"
    OTHER = "other"


ShortText = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


def _check_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a time zone")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_check_utc)]


class AlertState(StrEnum):
    """Where the finding stands in its source's own lifecycle.

    `resolved` covers every way a source says the finding no longer needs work: a passed compliance
    check, an archived record, a workflow set to resolved or suppressed, a GuardDuty finding archived.
    """

    ACTIVE = "active"
    RESOLVED = "resolved"


class Observable(BaseModel):
    """One typed value found in an alert, and the path it was found at (for evidence)."""

    model_config = ConfigDict(frozen=True)

    type: ObservableType
    value: ShortText
    name: str | None = Field(default=None, max_length=256, description="Where in the source it was found")


class Resource(BaseModel):
    """An affected resource. The first resource of an alert is its primary resource."""

    model_config = ConfigDict(frozen=True)

    type: ResourceType
    id: ShortText
    arn: str | None = Field(default=None, max_length=2048)
    name: str | None = Field(default=None, max_length=1024)
    region: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, max_length=64)
    tags: dict[str, str] = Field(default_factory=dict)


class NormalizedAlert(BaseModel):
    """One alert in ACSO's OCSF-aligned shape, whatever format it arrived in."""

    model_config = ConfigDict(frozen=True)

    alert_id: uuid.UUID = Field(description="uuid5(source, source_id) when the source names the alert, else uuid4")
    source: Annotated[str, StringConstraints(pattern=SOURCE_PATTERN)]
    source_format: SourceFormat
    source_id: str | None = Field(default=None, max_length=1024)
    product: str | None = Field(default=None, max_length=256, description="The detecting product, e.g. GuardDuty")
    title: str = Field(max_length=1024)
    description: str = Field(default="", max_length=16384)
    type: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    severity: Severity
    occurred_at: UtcDatetime
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    account_id: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=64)
    resources: list[Resource] = Field(default_factory=list)
    observables: list[Observable] = Field(default_factory=list)
    attack_techniques: list[Annotated[str, StringConstraints(pattern=TECHNIQUE_PATTERN)]] = Field(default_factory=list)
    state: AlertState = Field(default=AlertState.ACTIVE, description="The finding's lifecycle in its source")
    state_reason: str | None = Field(
        default=None,
        max_length=256,
        description="Why the source's lifecycle gives `state`, e.g. 'Compliance.Status PASSED'",
    )
    detection: str | None = Field(
        default=None,
        max_length=512,
        description="What detected it, within the source: a control id, rule or finding type (part of the fingerprint)",
    )
    notes: list[str] = Field(default_factory=list, description="What normalisation changed or could not map")
    class_uid: Literal[2004] = 2004
    category_uid: Literal[2] = 2
    raw: dict[str, Any]

    @model_validator(mode="after")
    def _seen_in_order(self) -> NormalizedAlert:
        if self.first_seen > self.last_seen:
            raise ValueError("first_seen is after last_seen")
        return self

    @property
    def primary_resource(self) -> Resource | None:
        """The resource the alert is mainly about (the first one listed)."""
        return self.resources[0] if self.resources else None

    def observables_of(self, kind: ObservableType) -> list[str]:
        """The values of one observable type, in extraction order."""
        return [o.value for o in self.observables if o.type is kind]


def alert_id_for(source: str, source_id: str | None) -> uuid.UUID:
    """A deterministic id when the source names the alert, so a redelivery maps to the same alert."""
    if source_id is None:
        return uuid.uuid4()
    return uuid.uuid5(uuid.NAMESPACE_URL, f"acso-alert:{source}:{source_id}")


# ---- ACSO's own generic alert schema ----------------------------------------------------------


class GenericObservable(BaseModel):
    """An observable in a generic alert."""

    model_config = ConfigDict(extra="forbid")

    type: ObservableType
    value: ShortText


class GenericResource(BaseModel):
    """A resource in a generic alert."""

    model_config = ConfigDict(extra="forbid")

    type: ResourceType
    id: ShortText
    arn: str | None = Field(default=None, max_length=2048)
    name: str | None = Field(default=None, max_length=1024)
    region: str | None = Field(default=None, max_length=64)
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    tags: dict[str, str] = Field(default_factory=dict, max_length=50)


class GenericAlert(BaseModel):
    """ACSO's generic alert JSON (`"schema": "acso.alert/v1"`), for producers without a native format.

    Recognised by its `schema` key. Unknown keys are rejected so typos surface as 400s instead of
    silently dropped data. `severity` is an OCSF label (`"high"`) or severity_id (0-6).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_id: Literal["acso.alert/v1"] = Field(alias="schema")
    source: Annotated[str, StringConstraints(pattern=r"^(generic|acso\.[a-z0-9][a-z0-9_.-]{0,62})$")] = "generic"
    id: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=4096)]
    description: str = Field(default="", max_length=65536)
    type: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    severity: SeverityLabel | Annotated[int, Field(ge=0, le=6)]
    occurred_at: datetime
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    account_id: str | None = Field(default=None, pattern=r"^\d{12}$", description="The 12-digit AWS account id")
    region: str | None = Field(default=None, max_length=64)
    product: str | None = Field(default=None, max_length=256)
    status: AlertState = Field(default=AlertState.ACTIVE, description="`resolved` when the producer closed it")
    resources: list[GenericResource] = Field(default_factory=list, max_length=100)
    observables: list[GenericObservable] = Field(default_factory=list, max_length=500)
    attack_techniques: list[Annotated[str, StringConstraints(pattern=TECHNIQUE_PATTERN)]] = Field(
        default_factory=list, max_length=50
    )

    @field_validator("occurred_at", "first_seen", "last_seen")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamp must carry a time zone, e.g. 2026-01-01T00:00:00Z")
        return value


def technique_ok(value: str) -> bool:
    """True when `value` is an ATT&CK technique or sub-technique id (T1078, T1078.004)."""
    return re.fullmatch(TECHNIQUE_PATTERN, value) is not None
