"""Specs: Terraform names what the resource manifest names, for every service, with every setting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from devtools.terraform_check.consistency import REQUIRED_ENVIRONMENT, check_consistency, environment_names, render
from devtools.terraform_check.runner import load_all

pytestmark = pytest.mark.terraform

Edit = Callable[[Path, str, str], None]


def _messages(root: Path) -> list[str]:
    configs, _ = load_all(root / "terraform", root)
    return [f.message for f in check_consistency(configs, root)]


def test_rendering_substitutes_known_interpolations() -> None:
    bindings = {"var.name_prefix": "acso-dev", "each.value.suffix": "agent-state"}
    assert render('"${var.name_prefix}-${each.value.suffix}"', bindings) == "acso-dev-agent-state"


def test_rendering_refuses_an_expression_outside_the_convention() -> None:
    assert render('"${var.name_prefix}-${upper(var.x)}"', {"var.name_prefix": "acso-dev"}) is None


def test_the_real_tree_matches_the_manifest_in_every_environment() -> None:
    configs, _ = load_all()
    assert check_consistency(configs) == []


def test_every_required_environment_variable_is_set_on_the_task_definitions() -> None:
    configs, _ = load_all()
    compute = next(c for p, c in configs.items() if p.name == "compute")
    assert environment_names(compute) >= REQUIRED_ENVIRONMENT


def test_a_service_without_an_agent_entry_is_reported(repo_copy: Path) -> None:
    (repo_copy / "services" / "forensics" / "acso_forensics").mkdir(parents=True)
    assert "service 'forensics' has no entry (no ECR repo, task, service or role)" in _messages(repo_copy)[0]


def test_a_renamed_queue_is_reported_for_each_environment(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/messaging/main.tf",
        '"${var.name_prefix}-supervisor-results"',
        '"${var.name_prefix}-results"',
    )
    messages = _messages(repo_copy)
    assert messages == [
        "[env dev] name 'acso-dev-results' differs from the manifest's 'acso-dev-supervisor-results'",
        "[env prod] name 'acso-prod-results' differs from the manifest's 'acso-prod-supervisor-results'",
    ]


def test_a_table_with_the_wrong_key_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(repo_copy / "terraform/modules/data/variables.tf", 'hash_key = "idempotency_key"', 'hash_key = "key"')
    assert any("table 'idempotency' keys" in m for m in _messages(repo_copy))


def test_a_bucket_named_outside_the_convention_is_reported(repo_copy: Path, edit: Edit) -> None:
    old = '"${var.name_prefix}-artifacts-${local.account_id}"'
    edit(repo_copy / "terraform/modules/data/main.tf", old, '"${var.name_prefix}-artifacts-${var.suffix}"')
    assert any("not evaluable by the naming convention" in m for m in _messages(repo_copy))


def test_a_missing_environment_variable_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/compute/main.tf",
        "    ACSO_KNOWLEDGE_BASE_ID         = var.knowledge_base_id\n",
        "",
    )
    assert "[env dev] environment variable ACSO_KNOWLEDGE_BASE_ID is not set" in _messages(repo_copy)


def test_a_wrong_agent_port_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(repo_copy / "terraform/environments/prod/main.tf", "port = 8003", "port = 9003")
    assert _messages(repo_copy) == ["[env prod] service_orchestration port 9003 != 8003"]


def test_a_missing_cognito_group_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(repo_copy / "terraform/modules/security/variables.tf", '"it_operator", ', "")
    expected = "['analyst', 'responder', 'executive', 'admin'] differs from the manifest's"
    assert any(expected in m for m in _messages(repo_copy))
