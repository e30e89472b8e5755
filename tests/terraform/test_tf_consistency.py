"""Specs: Terraform names what the resource manifest names, for every service, with every setting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from devtools.terraform_check.consistency import (
    REQUIRED_ENVIRONMENT,
    agent_environment_names,
    agent_secret_values,
    check_consistency,
    environment_names,
    execution_secret_variables,
    render,
    task_statements,
)
from devtools.terraform_check.hcl import Config, load_config, unquote
from devtools.terraform_check.runner import load_all
from devtools.terraform_check.schema import REPO_ROOT

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


# --- per-agent wiring: the supervisor's WebSocket back end, AWS Config compliance ---------------


def _module(name: str) -> Config:
    return load_config(REPO_ROOT / "terraform" / "modules" / name)


def test_only_the_supervisor_task_gets_the_websocket_endpoint_and_gateway_secret() -> None:
    compute = _module("compute")
    websocket = {"ACSO_WS_MANAGEMENT_ENDPOINT", "ACSO_WS_GATEWAY_SECRET"}

    assert agent_environment_names(compute, "supervisor") >= websocket
    assert agent_secret_values(compute, "supervisor")["ACSO_WS_GATEWAY_SECRET"] == "${var.ws_gateway_secret_arn}"
    for agent in ("threat_hunter", "incident_response", "service_orchestration", "financial_intelligence"):
        assert not agent_environment_names(compute, agent) & websocket, agent


def test_every_stack_feeds_the_supervisor_from_the_api_modules_websocket_outputs() -> None:
    for env in ("dev", "prod"):
        stack = load_config(REPO_ROOT / "terraform" / "environments" / env)
        compute, security = stack.modules["compute"].arguments, stack.modules["security"].arguments
        assert compute["ws_management_endpoint"] == "${module.api.websocket_management_endpoint}", env
        assert compute["ws_gateway_secret_arn"] == "${module.api.ws_gateway_secret_arn}", env
        assert security["websocket_manage_connections_arn"] == "${module.api.websocket_manage_connections_arn}", env
        assert security["ws_gateway_secret_arn"] == "${module.api.ws_gateway_secret_arn}", env


def test_the_supervisor_role_may_post_to_the_stages_connections_and_nothing_else_of_the_api() -> None:
    grants = [
        s for s in task_statements(_module("security"), "supervisor") if any("execute-api" in a for a in s["actions"])
    ]
    api_outputs = _module("api").outputs

    assert [(g["actions"], g["resources"]) for g in grants] == [
        (["execute-api:ManageConnections"], ["${var.websocket_manage_connections_arn}"])
    ]
    assert (
        unquote(api_outputs["websocket_manage_connections_arn"]["value"])
        == "${aws_apigatewayv2_api.ws.execution_arn}/${var.stage_name}/POST/@connections/*"
    )


def test_the_supervisor_execution_role_may_read_the_gateway_secret_it_injects() -> None:
    assert execution_secret_variables(_module("security"), "supervisor") == {
        "database_secret_arn",
        "ws_gateway_secret_arn",
    }
    assert execution_secret_variables(_module("security"), "threat_hunter") == {"database_secret_arn"}


@pytest.mark.parametrize("agent", ["incident_response", "service_orchestration"])
def test_compliance_readers_may_get_config_compliance_by_resource(agent: str) -> None:
    statements = task_statements(_module("security"), agent)
    reads = [s for s in statements if "config:GetComplianceDetailsByResource" in s["actions"]]

    # Read-only, and "*" because Config has no resource-level permission for this action.
    assert [(g["sid"], g["actions"], g["resources"]) for g in reads] == [
        ("ReadConfigCompliance", ["config:GetComplianceDetailsByResource"], ["*"])
    ]
    if agent == "service_orchestration":  # incident response also remediates recorders (its catalogue)
        assert [s for s in statements if any(a.startswith("config:") for a in s["actions"])] == reads


def test_a_missing_websocket_endpoint_on_the_supervisor_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/compute/main.tf",
        "      ACSO_WS_MANAGEMENT_ENDPOINT   = var.ws_management_endpoint\n",
        "",
    )
    assert _messages(repo_copy) == [
        f"[env {env}] supervisor: environment variable ACSO_WS_MANAGEMENT_ENDPOINT is not set"
        for env in ("dev", "prod")
    ]


def test_per_agent_secrets_that_the_task_definition_ignores_are_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/compute/main.tf",
        "merge(local.container_secrets, lookup(local.agent_secrets, each.key, {}))",
        "local.container_secrets",
    )
    assert "[env dev] supervisor: environment variable ACSO_WS_GATEWAY_SECRET is not set" in _messages(repo_copy)


def test_a_setting_the_agent_never_reads_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(repo_copy / "terraform/modules/compute/main.tf", "ACSO_WS_MANAGEMENT_ENDPOINT   =", "ACSO_WS_ENDPOINT   =")
    messages = _messages(repo_copy)
    assert "[env dev] supervisor: ACSO_WS_ENDPOINT is set but its settings class never reads it" in messages
    assert "[env dev] supervisor: environment variable ACSO_WS_MANAGEMENT_ENDPOINT is not set" in messages


def test_the_consoles_settings_are_read_from_its_own_settings_class(repo_copy: Path, edit: Edit) -> None:
    # Given the real tree, the supervisor's ACSO_CONSOLE_* pass (ConsoleSettings reads them) ...
    assert not [m for m in _messages(repo_copy) if "ACSO_CONSOLE" in m]

    # ... and a name ConsoleSettings has no field for is reported
    edit(repo_copy / "terraform/modules/compute/main.tf", "ACSO_CONSOLE_REDIRECT_URI ", "ACSO_CONSOLE_REDIRECT_URL ")
    assert "[env dev] supervisor: ACSO_CONSOLE_REDIRECT_URL is set but its settings class never reads it" in (
        _messages(repo_copy)
    )


def test_a_supervisor_role_without_manage_connections_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/security/iam.tf",
        'actions    = ["execute-api:ManageConnections"]',
        'actions    = ["execute-api:Invoke"]',
    )
    assert _messages(repo_copy) == [
        f"[env {env}] supervisor: no execute-api:ManageConnections on ${{var.websocket_manage_connections_arn}}"
        for env in ("dev", "prod")
    ]


@pytest.mark.parametrize(
    ("agent", "snippet"),
    [
        ("incident_response", "      local.read_config_compliance,\n      local.retrieve_knowledge,\n"),
        ("service_orchestration", '      local.read_config_compliance,\n      {\n        sid        = "ReadItsm'),
    ],
)
def test_a_compliance_reader_without_config_access_is_reported(
    repo_copy: Path, edit: Edit, agent: str, snippet: str
) -> None:
    edit(repo_copy / "terraform/modules/security/iam.tf", snippet, snippet.replace("local.read_config_compliance,", ""))
    assert _messages(repo_copy) == [
        f"[env {env}] {agent}: no config:GetComplianceDetailsByResource on *" for env in ("dev", "prod")
    ]


def test_an_injected_secret_the_execution_role_cannot_read_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/security/iam.tf",
        "concat([var.database_secret_arn], lookup(local.agent_startup_secrets, each.key, []))",
        "[var.database_secret_arn]",
    )
    assert _messages(repo_copy) == [
        f"[env {env}] supervisor: the execution role cannot read ACSO_WS_GATEWAY_SECRET"
        " (${module.api.ws_gateway_secret_arn})"
        for env in ("dev", "prod")
    ]


def test_a_stack_that_does_not_pass_the_management_endpoint_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/environments/prod/main.tf",
        "ws_management_endpoint = module.api.websocket_management_endpoint",
        "ws_management_endpoint = module.api.websocket_url",
    )
    assert _messages(repo_copy) == [
        "[env prod] ws_management_endpoint must be ${module.api.websocket_management_endpoint},"
        " not ${module.api.websocket_url}"
    ]


def test_a_connections_arn_of_another_stage_is_reported(repo_copy: Path, edit: Edit) -> None:
    edit(
        repo_copy / "terraform/modules/api/outputs.tf",
        "/${var.stage_name}/POST/@connections/*",
        "/*/POST/@connections/*",
    )
    expected = "${aws_apigatewayv2_api.ws.execution_arn}/${var.stage_name}/POST/@connections/*"
    assert _messages(repo_copy) == [
        f"[env {env}] output websocket_manage_connections_arn must be {expected},"
        " not ${aws_apigatewayv2_api.ws.execution_arn}/*/POST/@connections/*"
        for env in ("dev", "prod")
    ]


def test_no_stack_may_add_an_execute_api_endpoint_that_would_hide_the_public_websocket_api() -> None:
    interface_endpoints = _module("network").variables["interface_endpoints"].body
    conditions = [str(v.get("condition")) for v in interface_endpoints.get("validation", [])]

    assert '${!contains(var.interface_endpoints, "execute-api")}' in conditions
    for env in ("dev", "prod"):
        stack = load_config(REPO_ROOT / "terraform" / "environments" / env)
        assert stack.modules["network"].arguments["interface_endpoints"] == "${var.interface_endpoints}"
        assert '"execute-api"' not in stack.variables["interface_endpoints"].body["default"]
        assert "execute-api" not in (stack.path / "terraform.tfvars").read_text()


def test_a_list_setting_set_as_comma_separated_text_is_reported(repo_copy: Path, edit: Edit) -> None:
    # pydantic-settings decodes list and tuple fields from JSON: "a,b" would stop the service at start.
    edit(
        repo_copy / "terraform/modules/compute/main.tf",
        "ACSO_ALLOWED_ACCOUNT_IDS = jsonencode(var.allowed_account_ids)",
        'ACSO_ALLOWED_ACCOUNT_IDS = join(",", var.allowed_account_ids)',
    )
    assert _messages(repo_copy) == [
        f"[env {env}] incident_response: ACSO_ALLOWED_ACCOUNT_IDS is a list or map setting: set it with"
        ' jsonencode(), not ${join(",", var.allowed_account_ids)}'
        for env in ("dev", "prod")
    ]


def test_incident_response_gets_its_containment_allow_list() -> None:
    compute = _module("compute")
    assert "ACSO_ALLOWED_ACCOUNT_IDS" in agent_environment_names(compute, "incident_response")
    assert "ACSO_ALLOWED_ACCOUNT_IDS" not in agent_environment_names(compute, "supervisor")
