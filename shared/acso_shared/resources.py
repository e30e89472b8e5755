"""The one resource manifest: every AWS resource ACSO uses, named once.

Local provisioning, tests, the compose init step and the Terraform consistency
check all read names from here, so a queue or bucket is never spelled twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Agent(StrEnum):
    """The five agents; the value is the Python (snake_case) name."""

    SUPERVISOR = "supervisor"
    THREAT_HUNTER = "threat_hunter"
    INCIDENT_RESPONSE = "incident_response"
    SERVICE_ORCHESTRATION = "service_orchestration"
    FINANCIAL_INTELLIGENCE = "financial_intelligence"

    @property
    def kebab(self) -> str:
        """The agent's name in AWS resource names and URLs."""
        return self.value.replace("_", "-")

    @property
    def default_port(self) -> int:
        return AGENT_PORTS[self]


AGENT_PORTS: dict[Agent, int] = {
    Agent.SUPERVISOR: 8000,
    Agent.THREAT_HUNTER: 8001,
    Agent.INCIDENT_RESPONSE: 8002,
    Agent.SERVICE_ORCHESTRATION: 8003,
    Agent.FINANCIAL_INTELLIGENCE: 8004,
}

ROLES: tuple[str, ...] = ("analyst", "responder", "it_operator", "executive", "admin")
"""Cognito groups, least to most privileged is not implied: see the permission matrix."""

DLQ_MAX_RECEIVE_COUNT = 5


@dataclass(frozen=True)
class QueueSpec:
    name: str
    dlq_name: str
    visibility_timeout_s: int = 60
    message_retention_s: int = 345_600  # 4 days, SQS's default
    dlq_retention_s: int = 1_209_600  # 14 days, the maximum, so nothing expires unseen
    max_receive_count: int = DLQ_MAX_RECEIVE_COUNT


@dataclass(frozen=True)
class KeySchema:
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    key: KeySchema


# EventBridge wraps each finding event into ACSO's message envelope on its way to the findings
# queue, so the supervisor's one SQS consumer handles it like any other `alert.ingest` task, with
# the event id as idempotency key (EventBridge delivers at least once).
FINDINGS_INPUT_PATHS: dict[str, str] = {"id": "$.id"}
FINDINGS_INPUT_TEMPLATE = (
    '{"idempotency_key": "eventbridge:<id>", "kind": "alert.ingest", "sender": "eventbridge", '
    '"payload": {"alerts": [<aws.events.event.json>]}}'
)
# A scheduled hunt: each firing has its own event id, so each is a new task, never a duplicate.
SCHEDULED_HUNT_INPUT_PATHS: dict[str, str] = {"id": "$.id", "time": "$.time"}
SCHEDULED_HUNT_INPUT_TEMPLATE = (
    '{"idempotency_key": "hunt.scheduled:<id>", "kind": "hunt.scheduled", "sender": "eventbridge", '
    '"payload": {"scheduled_at": "<time>"}}'
)
SCHEDULED_HUNT_RATE = "rate(1 hour)"


@dataclass(frozen=True)
class EventRuleSpec:
    """An EventBridge rule: an event pattern on a bus, delivered to an SQS queue or SNS topic."""

    name: str
    bus_name: str
    event_pattern: dict[str, object] | None = None
    schedule_expression: str | None = None
    target_queue: str | None = None
    target_topic: str | None = None
    description: str = ""
    input_paths: dict[str, str] | None = None
    input_template: str | None = None


@dataclass(frozen=True)
class CognitoSpec:
    user_pool_name: str
    app_client_name: str
    machine_client_name: str
    resource_server_identifier: str
    groups: tuple[str, ...] = ROLES
    machine_scopes: tuple[str, ...] = ("alerts.write", "webhooks.write", "read")


@dataclass(frozen=True)
class ResourceManifest:
    """Every AWS resource name for one environment (`acso-{env}-...`)."""

    env: str
    account_id: str
    region: str
    task_queues: dict[Agent, QueueSpec]
    results_queue: QueueSpec
    findings_queue: QueueSpec
    tables: dict[str, TableSpec]
    artifacts_bucket: str
    threat_intel_bucket: str
    notifications_topic: str
    event_bus: str
    event_rules: tuple[EventRuleSpec, ...]
    kms_alias: str
    secrets: dict[str, str]
    cognito: CognitoSpec
    demo_users: dict[str, str] = field(default_factory=dict)

    @property
    def prefix(self) -> str:
        return f"acso-{self.env}-"

    def all_queues(self) -> list[QueueSpec]:
        return [*self.task_queues.values(), self.results_queue, self.findings_queue]

    def table(self, logical_name: str) -> TableSpec:
        return self.tables[logical_name]


def build_manifest(env: str = "local", account_id: str = "123456789012", region: str = "us-east-1") -> ResourceManifest:
    """Name every resource of environment `env`.

    Bucket names carry the account id because S3 names are global across AWS.
    """
    p = f"acso-{env}-"
    task_queues = {
        agent: QueueSpec(name=f"{p}{agent.kebab}-tasks", dlq_name=f"{p}{agent.kebab}-tasks-dlq") for agent in Agent
    }
    results = QueueSpec(name=f"{p}supervisor-results", dlq_name=f"{p}supervisor-results-dlq")
    findings = QueueSpec(name=f"{p}supervisor-findings", dlq_name=f"{p}supervisor-findings-dlq")
    tables = {
        "agent_registry": TableSpec(f"{p}agent-registry", KeySchema("agent")),
        "agent_state": TableSpec(f"{p}agent-state", KeySchema("pk", "sk", ttl_attribute="expires_at")),
        "idempotency": TableSpec(f"{p}idempotency", KeySchema("idempotency_key", ttl_attribute="expires_at")),
    }
    bus = f"{p}bus"
    rules = (
        EventRuleSpec(
            name=f"{p}guardduty-findings",
            bus_name="default",
            event_pattern={"source": ["aws.guardduty"], "detail-type": ["GuardDuty Finding"]},
            target_queue=findings.name,
            description="GuardDuty findings into the supervisor's ingestion queue",
            input_paths=FINDINGS_INPUT_PATHS,
            input_template=FINDINGS_INPUT_TEMPLATE,
        ),
        EventRuleSpec(
            name=f"{p}securityhub-findings",
            bus_name="default",
            event_pattern={"source": ["aws.securityhub"], "detail-type": ["Security Hub Findings - Imported"]},
            target_queue=findings.name,
            description="Security Hub ASFF findings into the supervisor's ingestion queue",
            input_paths=FINDINGS_INPUT_PATHS,
            input_template=FINDINGS_INPUT_TEMPLATE,
        ),
        EventRuleSpec(
            name=f"{p}scheduled-hunt",
            bus_name="default",
            schedule_expression=SCHEDULED_HUNT_RATE,
            target_queue=task_queues[Agent.THREAT_HUNTER].name,
            description="Hourly hunt with the enabled rules over the last window of CloudTrail events",
            input_paths=SCHEDULED_HUNT_INPUT_PATHS,
            input_template=SCHEDULED_HUNT_INPUT_TEMPLATE,
        ),
    )
    return ResourceManifest(
        env=env,
        account_id=account_id,
        region=region,
        task_queues=task_queues,
        results_queue=results,
        findings_queue=findings,
        tables=tables,
        artifacts_bucket=f"{p}artifacts-{account_id}",
        threat_intel_bucket=f"{p}threat-intel-{account_id}",
        notifications_topic=f"{p}notifications",
        event_bus=bus,
        event_rules=rules,
        kms_alias=f"alias/acso-{env}",
        secrets={
            "database": f"acso-{env}/database",
            "servicenow": f"acso-{env}/integrations/servicenow",
            "jira": f"acso-{env}/integrations/jira",
            "webhook_signing": f"acso-{env}/integrations/webhook-signing",
            "slack": f"acso-{env}/integrations/slack",
        },
        cognito=CognitoSpec(
            user_pool_name=f"{p}users",
            app_client_name=f"{p}api",
            machine_client_name=f"{p}integrations",
            resource_server_identifier="acso",
        ),
        demo_users={role: f"demo-{role.replace('_', '-')}" for role in ROLES},
    )
