"""What the incident-response integration specs share: emulated instances and `response.request`s."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from acso_shared.alerts.models import (
    NormalizedAlert,
    Observable,
    Resource,
    Severity,
    SeverityId,
    SeverityLabel,
    SourceFormat,
)
from acso_shared.aws.clients import AwsClientFactory
from acso_shared.contracts import RESPONSE_REQUEST, ResponseRequest, TriageResult
from acso_shared.messaging.envelope import Envelope

ACCOUNT = "123456789012"


async def run_instance(aws: AwsClientFactory, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """Start an instance in the emulator (with `tags`) and return its description."""
    ec2 = await aws.client("ec2")
    image = (await ec2.describe_images(Owners=["amazon"]))["Images"][0]["ImageId"]
    kwargs: dict[str, Any] = {"ImageId": image, "MinCount": 1, "MaxCount": 1, "InstanceType": "t3.micro"}
    if tags:
        kwargs["TagSpecifications"] = [
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ]
    instance_id = (await ec2.run_instances(**kwargs))["Instances"][0]["InstanceId"]
    return await describe_instance(aws, instance_id)


async def describe_instance(aws: AwsClientFactory, instance_id: str) -> dict[str, Any]:
    ec2 = await aws.client("ec2")
    reservations = (await ec2.describe_instances(InstanceIds=[instance_id]))["Reservations"]
    return dict(reservations[0]["Instances"][0])


def guardduty_alert(
    finding_type: str,
    resources: list[Resource],
    observables: list[Observable] | None = None,
    severity: SeverityLabel = SeverityLabel.HIGH,
) -> NormalizedAlert:
    """A normalised GuardDuty finding of `finding_type` on `resources`, seen now."""
    now = datetime.now(UTC)
    source_id = uuid.uuid4().hex
    return NormalizedAlert(
        alert_id=uuid.uuid5(uuid.NAMESPACE_URL, source_id),
        source="aws.guardduty",
        source_format=SourceFormat.GUARDDUTY_FINDING,
        source_id=source_id,
        product="GuardDuty",
        title=f"{finding_type} on {resources[0].id}",
        type=finding_type,
        severity=Severity(id=SeverityId[severity.name], label=severity),
        occurred_at=now,
        first_seen=now,
        last_seen=now,
        account_id=ACCOUNT,
        region="us-east-1",
        resources=resources,
        observables=observables or [],
        raw={"id": source_id},
    )


def response_request(
    alert: NormalizedAlert,
    *,
    verdict: str = "malicious",
    alert_count: int = 1,
    incident_id: str = "",
    techniques: list[str] | None = None,
) -> Envelope:
    """The supervisor's `response.request` for `alert` with the triage verdict, in its own workflow."""
    incident_id = incident_id or f"inc-{uuid.uuid4().hex[:12]}"
    triage = TriageResult(
        incident_id=incident_id,
        alert_id=str(alert.alert_id),
        verdict=verdict,
        severity=alert.severity.label,
        confidence=0.9,
        techniques=techniques or [],
    )
    request = ResponseRequest(
        incident_id=incident_id,
        alert=alert,
        triage=triage,
        alert_count=alert_count,
        first_seen=alert.first_seen,
        last_seen=alert.last_seen,
        fingerprint=f"fp-{incident_id}",
    )
    return Envelope.new(
        kind=RESPONSE_REQUEST,
        sender="supervisor",
        payload=request.model_dump(mode="json"),
        workflow_id=f"wf-{incident_id}",
    )
