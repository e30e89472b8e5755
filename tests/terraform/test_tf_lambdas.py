"""Specs: the lambdas module deploys what lambdas/<name> is: its settings' environment, its IAM, its trigger."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devtools.terraform_check.consistency import check_consistency, lambda_settings_fields
from devtools.terraform_check.hcl import Config, load_config, unquote
from devtools.terraform_check.runner import load_all
from devtools.terraform_check.schema import REPO_ROOT

pytestmark = pytest.mark.terraform

Edit = Callable[[Path, str, str], None]
LAMBDAS_MAIN = "terraform/modules/lambdas/main.tf"


def _messages(root: Path) -> list[str]:
    configs, _ = load_all(root / "terraform", root)
    return [f.message for f in check_consistency(configs, root)]


@pytest.fixture(scope="module")
def module() -> Config:
    return load_config(REPO_ROOT / "terraform/modules/lambdas")


def _statements(module: Config) -> dict[str, dict[str, Any]]:
    """Every policy statement of the functions' policy document, by sid (dynamic ones included)."""
    document = module.data[("aws_iam_policy_document", "function")]
    statements: dict[str, dict[str, Any]] = {}
    for block in document.get("statement", []):
        statements[unquote(str(block["sid"]))] = block
    for dynamic in document.get("dynamic", []):
        for _, body in ((k, v) for k, v in dynamic.items() if not k.startswith("__")):
            content = body["content"][0]
            statements[unquote(str(content["sid"]))] = {**content, "for_each": body["for_each"]}
    return statements


def test_every_lambda_settings_class_is_readable_by_the_check() -> None:
    for function in ("auth", "notification", "data_processing"):
        assert lambda_settings_fields(function) is not None, function


def test_the_auth_settings_require_the_user_pool_and_the_app_clients() -> None:
    fields = lambda_settings_fields("auth")
    assert fields is not None
    required, readable = fields

    assert set(required) == {frozenset({"ACSO_COGNITO_USER_POOL_ID"}), frozenset({"ACSO_COGNITO_APP_CLIENT_ID"})}
    assert {"ACSO_ENV", "AWS_REGION", "ACSO_JWKS_URL"} <= readable


def test_a_variable_no_settings_class_reads_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / LAMBDAS_MAIN,
        "        ACSO_ENV            = var.env\n",
        "        ACSO_ENV            = var.env\n        ACSO_THREAT_INTEL_BUCKET = var.env\n",
    )

    messages = _messages(repo_copy)

    assert (
        "[env dev] data_processing: ACSO_THREAT_INTEL_BUCKET is set but its settings class never reads it" in messages
    )


def test_an_unset_required_setting_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(repo_copy / LAMBDAS_MAIN, "        ACSO_COGNITO_USER_POOL_ID  = var.user_pool_id\n", "")

    messages = _messages(repo_copy)

    assert "[env prod] auth: settings field ACSO_COGNITO_USER_POOL_ID has no default and is unset" in messages


def test_a_function_package_without_a_deployment_is_reported(repo_copy: Path) -> None:
    for name in ("auth", "notification", "data_processing", "forensics"):
        (repo_copy / "lambdas" / name / f"acso_lambda_{name}").mkdir(parents=True)

    messages = _messages(repo_copy)

    assert messages == [
        "[env dev] function 'forensics' (lambdas/forensics) is not deployed",
        "[env prod] function 'forensics' (lambdas/forensics) is not deployed",
    ]


def test_data_processing_may_send_only_to_the_supervisor_task_queue(module: Config) -> None:
    statement = _statements(module)["SendHitsToSupervisor"]

    assert sorted(unquote(a) for a in statement["actions"]) == ["sqs:GetQueueUrl", "sqs:SendMessage"]
    assert statement["resources"] == ["${var.supervisor_queue_arn}"]


def test_data_processing_reads_objects_of_the_log_buckets_only(module: Config) -> None:
    statement = _statements(module)["ReadLogObjects"]

    assert sorted(unquote(a) for a in statement["actions"]) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert "var.log_bucket_arns" in str(statement["resources"])
    assert "threat_intel" not in json.dumps(module.files["main.tf"])


def test_notification_sends_email_from_scoped_identities_and_keeps_a_delivery_ledger(module: Config) -> None:
    statements = _statements(module)

    assert statements["SendEmail"]["resources"] == "${local.ses_identity_arns}"
    assert sorted(unquote(a) for a in statements["SendEmail"]["actions"]) == ["ses:SendEmail", "ses:SendRawEmail"]
    assert statements["DeliveryLedger"]["resources"] == ["${var.idempotency_table_arn}"]
    assert "ReadChannelSecret" in statements


def test_new_log_objects_trigger_data_processing_through_eventbridge(module: Config) -> None:
    rule = module.resources[("aws_cloudwatch_event_rule", "log_objects")]
    target = module.resources[("aws_cloudwatch_event_target", "log_objects")]
    notification = module.resources[("aws_s3_bucket_notification", "logs")]

    assert '"Object Created"' in str(rule["event_pattern"])
    assert "wildcard" in str(rule["event_pattern"])
    assert target["arn"] == '${aws_lambda_function.this["data_processing"].arn}'
    assert notification["eventbridge"] is True


def test_both_environments_feed_the_trail_bucket_and_the_supervisor_queue_to_the_functions() -> None:
    for env in ("dev", "prod"):
        stack = load_config(REPO_ROOT / "terraform/environments" / env)
        arguments = stack.modules["lambdas"].arguments

        assert "module.monitoring.trail_bucket_name" in str(arguments["log_bucket_arns"]), env
        assert arguments["supervisor_queue_arn"] == '${module.messaging.task_queue_arns["supervisor"]}', env
        assert arguments["idempotency_table_arn"] == '${module.data.table_arns["idempotency"]}', env
