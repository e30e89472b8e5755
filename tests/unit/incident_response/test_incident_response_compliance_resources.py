"""Which incident resources are asked about in AWS Config: only parsed ids, each once, in order."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from acso_incident_response.compliance import MAX_RESOURCES, config_resources
from acso_incident_response.models import Action, ObservableRef

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _action(target: str) -> Action:
    return Action(
        id=f"act-{target}",
        incident_id="inc-1",
        playbook="pb",
        step="s",
        action_type="ec2.quarantine",
        target=target,
        account_id="123456789012",
        risk="low",
        dry_run=False,
        revertible=True,
        status="succeeded",
        reason=None,
        before_state=None,
        after_state=None,
        error=None,
        attempts=1,
        created_at=NOW,
        started_at=None,
        finished_at=None,
        reverted_at=None,
        reverted_by=None,
    )


def test_instances_buckets_and_key_owners_become_config_resources_once() -> None:
    observables = [
        ObservableRef(type="ip", value="198.51.100.7"),
        ObservableRef(type="instance_id", value="i-0aaa"),
    ]
    actions = [
        _action("ec2_instance:i-0aaa"),  # the same instance again: asked once
        _action("s3_bucket:payroll-exports"),
        _action("iam_access_key:AKIAEXAMPLE"),  # Config judges the key's user, not the key
        _action("ip:198.51.100.7"),
        _action("not-a-target"),
    ]
    assert config_resources(observables, actions, ["alice"]) == [
        ("AWS::EC2::Instance", "i-0aaa"),
        ("AWS::S3::Bucket", "payroll-exports"),
        ("AWS::IAM::User", "alice"),
    ]


def test_a_huge_incident_asks_about_a_bounded_number_of_resources() -> None:
    observables = [ObservableRef(type="instance_id", value=f"i-{n:04x}") for n in range(100)]
    assert len(config_resources(observables, [])) == MAX_RESOURCES
