"""Specs: the first-deploy assertions of `make tf-check` pass on the tree and catch each defect of issue 20.

Each defect is shown on the Terraform as it was before the fixes: the tree of commit
BASE_COMMIT (the parent of the first issue-20 commit), extracted with `git archive` into a
scratch directory, with the current checks run against it.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

import hcl2
import pytest

from devtools.terraform_check.first_deploy import check_first_deploy, registered_documents, rest_authorizer_allows_stage
from devtools.terraform_check.hcl import Config, load_config
from devtools.terraform_check.iam import check_iam
from devtools.terraform_check.models import Finding
from devtools.terraform_check.runner import load_all
from devtools.terraform_check.schema import REPO_ROOT

pytestmark = pytest.mark.terraform

BASE_COMMIT = "5870d654ae1311ce3d6833c5f9f5932a3cf42bcc"

Edit = Callable[[Path, str, str], None]


@pytest.fixture(scope="module")
def old_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`terraform/` and `devtools/terraform.mk` as they were at BASE_COMMIT."""
    archive = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "archive", "--format=tar", BASE_COMMIT, "terraform", "devtools/terraform.mk"],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        pytest.skip(f"commit {BASE_COMMIT} is not in this clone's history (shallow clone?)")
    root = tmp_path_factory.mktemp("terraform-before-issue-20")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(root, filter="data")
    return root


def _first_deploy(root: Path) -> list[Finding]:
    configs, _ = load_all(root / "terraform", root)
    return check_first_deploy(configs, root / "terraform", root, makefiles=[root / "devtools" / "terraform.mk"])


@pytest.fixture(scope="module")
def old_findings(old_tree: Path) -> list[str]:
    return [f"{f.file}: {f.address}: {f.message}" for f in _first_deploy(old_tree)]


def test_the_real_tree_passes_every_first_deploy_assertion(real_configs: dict[Path, Config]) -> None:
    assert check_first_deploy(real_configs) == []


@pytest.mark.parametrize(
    ("defect", "expected"),
    [
        ("1. GuardDuty always created", "create_guardduty_detector must default to false"),
        ("Config has no recorder", "AWS Config has no recorder option"),
        ("Config has no rules", "no AWS Config rules"),
        ("2. reserved concurrency", "reserved_concurrent_executions = ${each.value.concurrency} reserves concurrency"),
        ("3. Aurora minor pin", "aws_rds_cluster.vectors: engine_version 16.6 pins a minor version"),
        ("4. images for the builder's architecture", "docker build: builds for the builder's architecture"),
        ("5. alarms cannot notify", "does not allow cloudwatch.amazonaws.com to publish"),
        ("5. rules cannot notify", "does not allow events.amazonaws.com to publish"),
        ("6. CORS preflights through the authorizer", "CORS preflights (OPTIONS, sent without credentials)"),
        ("7. forensic snapshots denied", "ec2:CreateSnapshot is granted on volumes but not on snapshot/*"),
        ("8. destroy fails on ECR", "aws_ecr_repository.this: no force_delete variable"),
        ("8. ALB races the bucket policy", "output.access_logs_bucket_name: the ALB gets the access-log bucket before"),
        ("password in the state", "the master password comes from random_password"),
        ("knowledge base never synced", "nothing starts an ingestion job"),
        ("no read replica", "no read replica resource"),
        ("no budgets", "no budget and no budget alerts"),
        ("SSM documents never created", "IAM grants SSM documents acso-* that no resource creates"),
        ("the code's SSM document", "the code runs SSM document acso-dev-RotateCredential, which is never created"),
        ("allow-list never set", "ACSO_ALLOWED_ACCOUNT_IDS must be the deployment account"),
        ("ECS Exec not enabled", "ECS Exec is configured on the cluster but not enabled"),
        ("ECS Exec not allowed", "the task roles lack ssmmessages:CreateControlChannel"),
        ("archive tiers on threat intel", "archive tiers apply to whole buckets, including the threat-intel objects"),
        ("no Lambda error alarm", "no alarm covers Lambda errors"),
        ("no Lambda throttle alarm", "no alarm covers Lambda throttles"),
        ("no RDS alarm", "no alarm covers RDS"),
        ("no ECS task alarm", "no alarm covers ECS running task count"),
        ("console page behind the authorizer", "GET / (the console's page) goes through the authorizer"),
        ("console login behind the authorizer", "GET/PATCH/POST /console/{proxy+} (the console's assets, login"),
        ("console without the Hosted UI", "the supervisor's task must set ACSO_CONSOLE_LOGIN=hosted_ui"),
        ("console redirect not a callback URL", "the console's redirect URI (compute console_redirect_uri) must be"),
    ],
)
def test_each_defect_of_the_tree_before_the_fixes_is_reported(
    old_findings: list[str], defect: str, expected: str
) -> None:
    assert any(expected in finding for finding in old_findings), f"{defect}: {expected!r} not in {old_findings}"


def test_the_iam_check_reports_the_missing_snapshot_grant_and_names_the_registry(old_tree: Path) -> None:
    configs, _ = load_all(old_tree / "terraform", old_tree)
    messages = [f.message for f in check_iam(configs, old_tree, lint=False)]

    assert (
        "incident_response: the task role lacks ec2:CreateSnapshot on snapshot"
        " (arn:${Partition}:ec2:${Region}::snapshot/${SnapshotId}),"
        " which acso_incident_response.actions.ec2.SnapshotVolumes needs"
        " (registry shared/acso_shared/aws/operations.py)"
    ) in messages


# --- one assertion at a time on the current tree -------------------------------------------------


def _messages(root: Path) -> list[str]:
    return [f.message for f in _first_deploy(root)]


def _repo_with_makefile(repo_copy: Path) -> Path:
    (repo_copy / "devtools").mkdir(exist_ok=True)
    (repo_copy / "devtools" / "terraform.mk").write_text((REPO_ROOT / "devtools" / "terraform.mk").read_text())
    return repo_copy


def test_a_copy_of_the_tree_passes(repo_copy: Path) -> None:
    assert _messages(_repo_with_makefile(repo_copy)) == []


def test_an_image_built_for_arm_while_tasks_run_x86_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    edit(root / "devtools" / "terraform.mk", "IMAGE_PLATFORM ?= linux/amd64", "IMAGE_PLATFORM ?= linux/arm64")
    assert _messages(root) == ["--platform linux/arm64 but the tasks run X86_64 (linux/amd64)"]


def test_a_reserved_concurrency_default_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    edit(
        root / "terraform/modules/lambdas/variables.tf",
        "type        = map(number)\n  default     = {}",
        "type        = map(number)\n  default     = { auth = 50 }",
    )
    assert any("reserves concurrency by default" in m for m in _messages(root))


def test_a_prod_stack_without_a_replica_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    edit(root / "terraform/environments/prod/terraform.tfvars", "db_read_replicas    = 1\n", "")
    assert _messages(root) == ["prod runs without a read replica (db_read_replicas >= 1 in terraform.tfvars)"]


def test_a_guardduty_switch_that_creates_by_default_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    text = (root / "terraform/environments/dev/variables.tf").read_text()
    start = text.index('variable "create_guardduty_detector"')
    block = text[start : text.index("\n}\n", start)]
    edit(
        root / "terraform/environments/dev/variables.tf",
        block,
        block.replace("default     = false", "default     = true"),
    )
    assert _messages(root) == ["create_guardduty_detector must default to false in every environment"]


def test_a_minor_engine_pin_on_the_main_database_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    edit(root / "terraform/modules/data/variables.tf", 'default     = "17"', 'default     = "17.4"')
    assert any("engine_version ${var.db_engine_version} pins a minor version" in m for m in _messages(root))


def test_an_api_route_outside_the_console_that_skips_the_authorizer_is_reported(repo_copy: Path, edit: Edit) -> None:
    # Given the /v1/* proxy made public as the console's routes are
    root = _repo_with_makefile(repo_copy)
    edit(
        root / "terraform/modules/api/main.tf",
        'http_method          = "ANY"\n  authorization        = "CUSTOM"',
        'http_method          = "ANY"\n  authorization        = "NONE"',
    )

    assert _messages(root) == [
        "ANY /{proxy+} skips the authorizer, but only the console's routes (GET / and /console/{proxy+}) may"
    ]


def test_the_console_page_behind_the_authorizer_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    edit(
        root / "terraform/modules/api/main.tf",
        'http_method   = "GET"\n  authorization = "NONE"',
        'http_method   = "GET"\n  authorization = "CUSTOM"',
    )

    assert _messages(root) == [
        "GET / (the console's page) goes through the authorizer: a browser loads it without a token"
    ]


def test_a_console_method_missing_from_the_public_routes_is_reported(repo_copy: Path, edit: Edit) -> None:
    # Given the console's routes without PATCH (the proxy's rule toggles and incident updates)
    root = _repo_with_makefile(repo_copy)
    edit(root / "terraform/modules/api/main.tf", 'toset(["GET", "POST", "PATCH"])', 'toset(["GET", "POST"])')

    assert _messages(root) == [
        "PATCH /console/{proxy+} (the console's assets, login and API proxy) goes through the authorizer or is"
        " missing: the login page has no token yet"
    ]


def test_a_supervisor_task_without_the_hosted_ui_login_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    edit(root / "terraform/modules/compute/main.tf", 'ACSO_CONSOLE_LOGIN            = "hosted_ui"', "")
    edit(
        root / "terraform/modules/compute/main.tf",
        "ACSO_CONSOLE_UPSTREAM_HOST    = var.console_upstream_host",
        'ACSO_CONSOLE_UPSTREAM_HOST    = ""',
    )

    assert _messages(root) == [
        "the supervisor's task must set ACSO_CONSOLE_LOGIN=hosted_ui (the console in AWS logs in through the"
        " Cognito Hosted UI and proxies through the ALB)",
        "the supervisor's task must set ACSO_CONSOLE_UPSTREAM_HOST (the console in AWS logs in through the"
        " Cognito Hosted UI and proxies through the ALB)",
    ]


def test_a_console_redirect_uri_that_is_not_the_app_clients_callback_is_reported(repo_copy: Path, edit: Edit) -> None:
    root = _repo_with_makefile(repo_copy)
    edit(
        root / "terraform/environments/prod/main.tf",
        "console_redirect_uri     = module.api.console_url",
        'console_redirect_uri     = "https://console.example.com/"',
    )

    assert _messages(root) == [
        "the console's redirect URI (compute console_redirect_uri) must be module.api.console_url, and a callback"
        " URL of the app client (security callback_urls)"
    ]


def test_an_authorizer_whose_cached_answer_is_route_specific_is_reported(real_configs: dict[Path, Config]) -> None:
    # Given the real tree, and an authorizer that would answer per route (as before the fix)
    findings = check_first_deploy(real_configs, authorizer_allows_stage=lambda: False)

    assert [f.message for f in findings] == [
        "answers are cached 300 s for every route, but the authorizer does not allow the whole stage"
        " to a verified token: one refused route locks the caller out of all of them"
    ]


def test_the_deployed_authorizer_allows_the_whole_stage_to_a_verified_token() -> None:
    assert rest_authorizer_allows_stage() is True


def test_the_ssm_documents_the_code_runs_are_read_from_the_operations_registry() -> None:
    assert registered_documents("prod") == ["acso-prod-RotateCredential"]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_commented_tfvars_example_names_every_setting_of_the_stack(env: str) -> None:
    stack = REPO_ROOT / "terraform" / "environments" / env
    variables = set(load_config(stack).variables)
    with (stack / "terraform.tfvars.example").open() as handle:
        example = {k for k in hcl2.load(handle) if not k.startswith("__")}

    # image_tag is passed by `make deploy` (the commit); interface_endpoints and the certificate are
    # shown commented out (their defaults are long lists or nothing).
    assert example <= variables
    assert variables - example == {"image_tag", "interface_endpoints", "alb_certificate_arn"}
