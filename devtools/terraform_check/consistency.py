"""Terraform agrees with the resource manifest (`acso_shared.resources`) and the services.

Terraform names are templates such as `"${var.name_prefix}-${each.value.suffix}"`. They are
rendered here by substituting the few interpolations the modules use for names (the convention:
names are built only from `var.name_prefix`, `var.env`, `local.account_id`, the agent key in
kebab case and `each.value`), then compared with the manifest built for the same environment.
A name built any other way is reported as not evaluable, so the convention cannot drift silently.
"""

from __future__ import annotations

import importlib
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic_settings import BaseSettings, NoDecode

from acso_shared.resources import AGENT_PORTS, Agent, ResourceManifest, build_manifest
from devtools.terraform_check.hcl import Config, unquote
from devtools.terraform_check.models import Check, Finding
from devtools.terraform_check.references import _interpolations
from devtools.terraform_check.schema import REPO_ROOT

# Every environment variable the services' settings read; Terraform sets them all on every task
# definition (compute module: local.container_environment, local.container_secrets and the
# per-agent ACSO_SERVICE_PORT).
REQUIRED_ENVIRONMENT: frozenset[str] = frozenset(
    {
        "ACSO_ENV",
        "AWS_REGION",
        "ACSO_AWS_ACCOUNT_ID",
        "ACSO_SERVICE_HOST",
        "ACSO_SERVICE_PORT",
        "ACSO_DATABASE_URL",
        "ACSO_LOG_LEVEL",
        "ACSO_LLM_PROVIDER",
        "ACSO_BEDROCK_MODEL_ID",
        "ACSO_BEDROCK_GUARDRAIL_ID",
        "ACSO_BEDROCK_GUARDRAIL_VERSION",
        "ACSO_KNOWLEDGE_BASE_ID",
        "ACSO_COGNITO_USER_POOL_ID",
        "ACSO_COGNITO_APP_CLIENT_ID",
        "ACSO_TRACING_ENABLED",
    }
)

# What one agent needs on top of REQUIRED_ENVIRONMENT (compute module: local.agent_environment and
# local.agent_secrets). The supervisor is the back end of the API Gateway WebSocket API: it pushes
# events through the stage's @connections endpoint and checks the header the integrations send.
AGENT_REQUIRED_ENVIRONMENT: Mapping[str, frozenset[str]] = {
    "supervisor": frozenset({"ACSO_WS_MANAGEMENT_ENDPOINT", "ACSO_WS_GATEWAY_SECRET"}),
    # The containment allow-list: without it incident response refuses to start outside local.
    "incident_response": frozenset({"ACSO_ALLOWED_ACCOUNT_IDS"}),
}

# Settings classes an agent reads besides `acso_<agent>.settings.Settings` ("module:Class"): the
# supervisor's web console has its own (`ACSO_CONSOLE_*`).
EXTRA_SETTINGS: Mapping[str, tuple[str, ...]] = {
    "supervisor": ("acso_supervisor.console.settings:ConsoleSettings",),
}

# Variables a library reads rather than a settings class (so "never read" does not apply).
LIBRARY_ENVIRONMENT: Mapping[str, str] = {
    # The database password, from the RDS-managed secret: asyncpg uses it when the URL has none.
    "PGPASSWORD": "asyncpg",
}

# A secret ECS injects may name one JSON key of it: `<secret arn>:<json-key>:<version-stage>:<version-id>`.
_SECRET_VALUE = re.compile(r"^\$\{var\.([a-z0-9_]+)\}(?::[^:]*:[^:]*:[^:]*)?$")

# (agent, IAM action, resource as written in the security module) that the agent's task role must
# be granted (security module: local.agent_statements). These are calls the local emulator serves
# without IAM, so only AWS would show their absence, as AccessDenied at run time.
REQUIRED_TASK_PERMISSIONS: tuple[tuple[str, str, str], ...] = (
    ("supervisor", "execute-api:ManageConnections", "${var.websocket_manage_connections_arn}"),
    ("incident_response", "config:GetComplianceDetailsByResource", "*"),
    ("service_orchestration", "config:GetComplianceDetailsByResource", "*"),
)

# (module, argument, value) every environment stack must pass: the WebSocket wiring from the api
# module's outputs to the supervisor's task definition and task role.
REQUIRED_WIRING: tuple[tuple[str, str, str], ...] = (
    ("compute", "ws_management_endpoint", "${module.api.websocket_management_endpoint}"),
    ("compute", "ws_gateway_secret_arn", "${module.api.ws_gateway_secret_arn}"),
    ("security", "websocket_manage_connections_arn", "${module.api.websocket_manage_connections_arn}"),
    ("security", "ws_gateway_secret_arn", "${module.api.ws_gateway_secret_arn}"),
)

# The api module's outputs those arguments come from, as the supervisor's code needs them: the
# @connections resource of the same stage whose endpoint the supervisor posts to.
WEBSOCKET_OUTPUTS: Mapping[str, str] = {
    "websocket_management_endpoint": '${replace(aws_apigatewayv2_stage.ws.invoke_url, "wss://", "https://")}',
    "websocket_manage_connections_arn": (
        "${aws_apigatewayv2_api.ws.execution_arn}/${var.stage_name}/POST/@connections/*"
    ),
    "ws_gateway_secret_arn": "${aws_secretsmanager_secret.ws_gateway.arn}",
}

ACCOUNT_PLACEHOLDER = "123456789012"
_VAR_REFERENCE = re.compile(r"\bvar\.([a-z0-9_]+)")
_FOR_TEMPLATE = re.compile(r'=>\s*"(.*)"\s*\}\}?$', re.S)
_SERVICE_PORT_MERGE = re.compile(r"merge\(local\.container_environment,\s*\{([^}]*)\}")


def render(template: Any, bindings: Mapping[str, str]) -> str | None:
    """The string `template` names once each `${expr}` is replaced from `bindings`; None if one is unknown."""
    if not isinstance(template, str):
        return None
    text = unquote(template)
    out = text
    for expr in _interpolations(text):
        value = bindings.get(expr.strip())
        if value is None:
            return None
        out = out.replace("${" + expr + "}", value, 1)
    return out


def _agent_bindings(env: str, agent: Agent) -> dict[str, str]:
    kebab = agent.kebab
    return {
        "var.name_prefix": f"acso-{env}",
        "var.env": env,
        "local.account_id": ACCOUNT_PLACEHOLDER,
        "local.kebab[each.key]": kebab,
        'replace(each.key, "_", "-")': kebab,
        'replace(agent, "_", "-")': kebab,
    }


def _base_bindings(env: str) -> dict[str, str]:
    return {"var.name_prefix": f"acso-{env}", "var.env": env, "local.account_id": ACCOUNT_PLACEHOLDER}


class _Checker:
    def __init__(self, env: str, root: Path, modules: Mapping[str, Config], stack: Config) -> None:
        self.env = env
        self.root = root
        self.modules = modules
        self.stack = stack
        self.manifest: ResourceManifest = build_manifest(env, ACCOUNT_PLACEHOLDER)
        self.findings: list[Finding] = []

    def fail(self, module: str, address: str, message: str) -> None:
        config = self.modules.get(module, self.stack)
        where = config.origin.get(address, "main.tf")
        rel = config.path.relative_to(self.root) / where if config.path.is_relative_to(self.root) else config.path
        self.findings.append(Finding(Check.CONSISTENCY, str(rel), address, f"[env {self.env}] {message}"))

    def resource(self, module: str, type_name: str, name: str) -> dict[str, Any] | None:
        body = self.modules[module].resources.get((type_name, name))
        if body is None:
            self.fail(module, f"{type_name}.{name}", "resource missing")
        return body

    def expect(self, module: str, address: str, rendered: str | None, expected: str) -> None:
        if rendered is None:
            self.fail(module, address, f"name is not evaluable by the naming convention (expected {expected!r})")
        elif rendered != expected:
            self.fail(module, address, f"name {rendered!r} differs from the manifest's {expected!r}")

    # --- agents ----------------------------------------------------------------------------

    def agents(self, services_dir: Path) -> None:
        stack_agents = self.stack.locals.get("agents")
        if not isinstance(stack_agents, dict):
            self.fail("", "local.agents", "the stack must declare local.agents as an object literal")
            return
        declared = {k for k in stack_agents if not k.startswith("__")}
        services = {p.name for p in services_dir.iterdir() if (p / f"acso_{p.name}").is_dir()}
        for missing in sorted(services - declared):
            self.fail("", "local.agents", f"service {missing!r} has no entry (no ECR repo, task, service or role)")
        for extra in sorted(declared - {a.value for a in Agent}):
            self.fail("", "local.agents", f"agent {extra!r} is not in the resource manifest")
        for agent in Agent:
            entry = stack_agents.get(agent.value)
            if isinstance(entry, dict) and entry.get("port") != AGENT_PORTS[agent]:
                self.fail("", "local.agents", f"{agent.value} port {entry.get('port')} != {AGENT_PORTS[agent]}")
        for module in ("compute", "security", "messaging", "monitoring", "api"):
            calls = [c for c in self.stack.modules.values() if c.source.endswith(f"/modules/{module}")]
            if not calls or calls[0].arguments.get("agents") != "${local.agents}":
                self.fail("", f"module.{module}", "must receive agents = local.agents")
        per_agent = {
            "compute": [
                ("aws_ecr_repository", "this"),
                ("aws_ecs_task_definition", "this"),
                ("aws_ecs_service", "this"),
            ],
            "security": [("aws_iam_role", "task"), ("aws_iam_role", "execution")],
        }
        for module, resources in per_agent.items():
            for type_name, name in resources:
                body = self.resource(module, type_name, name)
                if body is not None and body.get("for_each") != "${var.agents}":
                    self.fail(module, f"{type_name}.{name}", "must be created for_each = var.agents (one per agent)")
        for type_name, name, key in (
            ("aws_ecr_repository", "this", "name"),
            ("aws_ecs_service", "this", "name"),
            ("aws_ecs_task_definition", "this", "family"),
        ):
            body = self.modules["compute"].resources.get((type_name, name))
            for agent in Agent:
                if body is not None:
                    rendered = render(body.get(key), _agent_bindings(self.env, agent))
                    self.expect("compute", f"{type_name}.{name}", rendered, f"acso-{self.env}-{agent.kebab}")

    # --- messaging -------------------------------------------------------------------------

    def queues(self) -> None:
        messaging = self.modules["messaging"]
        template_match = _FOR_TEMPLATE.search(str(messaging.locals.get("task_queues", "")))
        for agent in Agent:
            spec = self.manifest.task_queues[agent]
            rendered = render(template_match.group(1), _agent_bindings(self.env, agent)) if template_match else None
            self.expect("messaging", "local.task_queues", rendered, spec.name)
        supervisor = messaging.locals.get("supervisor_queues")
        supervisor = supervisor if isinstance(supervisor, dict) else {}
        for key, spec in (("results", self.manifest.results_queue), ("findings", self.manifest.findings_queue)):
            rendered = render(supervisor.get(key), _base_bindings(self.env))
            self.expect("messaging", "local.supervisor_queues", rendered, spec.name)
        queue = self.resource("messaging", "aws_sqs_queue", "this")
        dlq = self.resource("messaging", "aws_sqs_queue", "dlq")
        probe = {"each.value": "QUEUE"}
        if queue is not None:
            self.expect("messaging", "aws_sqs_queue.this", render(queue.get("name"), probe), "QUEUE")
            if "var.max_receive_count" not in str(queue.get("redrive_policy")):
                self.fail("messaging", "aws_sqs_queue.this", "redrive_policy must use var.max_receive_count")
        if dlq is not None:
            self.expect("messaging", "aws_sqs_queue.dlq", render(dlq.get("name"), probe), "QUEUE-dlq")
        defaults = {n: v.body.get("default") for n, v in messaging.variables.items()}
        spec = self.manifest.results_queue
        for variable, expected in (
            ("max_receive_count", spec.max_receive_count),
            ("visibility_timeout_seconds", spec.visibility_timeout_s),
            ("message_retention_seconds", spec.message_retention_s),
            ("dlq_retention_seconds", spec.dlq_retention_s),
        ):
            if defaults.get(variable) != expected:
                self.fail("messaging", f"var.{variable}", f"default {defaults.get(variable)} != manifest {expected}")
        base = _base_bindings(self.env)
        topic = self.resource("messaging", "aws_sns_topic", "notifications")
        if topic is not None:
            self.expect(
                "messaging",
                "aws_sns_topic.notifications",
                render(topic.get("name"), base),
                self.manifest.notifications_topic,
            )
        bus = self.resource("messaging", "aws_cloudwatch_event_bus", "this")
        if bus is not None:
            self.expect(
                "messaging", "aws_cloudwatch_event_bus.this", render(bus.get("name"), base), self.manifest.event_bus
            )
        rule_names = {
            render(body.get("name"), base)
            for (type_name, _), body in messaging.resources.items()
            if type_name == "aws_cloudwatch_event_rule"
        }
        for rule in self.manifest.event_rules:
            if rule.name not in rule_names:
                self.fail("messaging", "aws_cloudwatch_event_rule", f"rule {rule.name!r} missing")

    # --- data ------------------------------------------------------------------------------

    def tables_and_buckets(self) -> None:
        data = self.modules["data"]
        tables_var = data.variables.get("tables")
        default = tables_var.body.get("default") if tables_var else None
        table = self.resource("data", "aws_dynamodb_table", "this")
        if not isinstance(default, dict) or table is None:
            self.fail("data", "var.tables", "var.tables must default to an object literal of the tables")
            return
        for logical, spec in self.manifest.tables.items():
            entry = default.get(logical)
            if not isinstance(entry, dict):
                self.fail("data", "var.tables", f"table {logical!r} missing")
                continue
            bindings = {**_base_bindings(self.env), "each.value.suffix": unquote(str(entry.get("suffix")))}
            self.expect("data", "aws_dynamodb_table.this", render(table.get("name"), bindings), spec.name)
            keys = {k: unquote(str(entry[k])) if k in entry else None for k in ("hash_key", "range_key", "ttl")}
            expected = {
                "hash_key": spec.key.partition_key,
                "range_key": spec.key.sort_key,
                "ttl": spec.key.ttl_attribute,
            }
            if keys != expected:
                self.fail("data", "var.tables", f"table {logical!r} keys {keys} differ from the manifest's {expected}")
        buckets = data.locals.get("buckets")
        buckets = buckets if isinstance(buckets, dict) else {}
        for key, expected_name in (
            ("artifacts", self.manifest.artifacts_bucket),
            ("threat_intel", self.manifest.threat_intel_bucket),
        ):
            self.expect("data", "local.buckets", render(buckets.get(key), _base_bindings(self.env)), expected_name)
        # In AWS the database credentials are RDS's own secret (`acso-<env>/database` is the local
        # stack's): no password may pass through Terraform and its state.
        database = self.resource("data", "aws_db_instance", "this")
        if database is not None and database.get("manage_master_user_password") is not True:
            self.fail(
                "data", "aws_db_instance.this", "the master password must be RDS-managed (manage_master_user_password)"
            )

    # --- security --------------------------------------------------------------------------

    def security(self) -> None:
        security = self.modules["security"]
        base = _base_bindings(self.env)
        alias = self.resource("security", "aws_kms_alias", "this")
        if alias is not None:
            self.expect("security", "aws_kms_alias.this", render(alias.get("name"), base), self.manifest.kms_alias)
        secret = self.resource("security", "aws_secretsmanager_secret", "integration")
        integration_var = security.variables.get("integration_secrets")
        default = integration_var.body.get("default") if integration_var else None
        default = default if isinstance(default, dict) else {}
        for logical, expected in self.manifest.secrets.items():
            if logical == "database":
                continue
            if logical not in default or secret is None:
                self.fail("security", "var.integration_secrets", f"secret {logical!r} missing")
                continue
            bindings = {**base, "each.value": unquote(str(default[logical])), "each.key": logical}
            self.expect(
                "security", "aws_secretsmanager_secret.integration", render(secret.get("name"), bindings), expected
            )
        cognito = self.manifest.cognito
        for type_name, name, key, expected in (
            ("aws_cognito_user_pool", "this", "name", cognito.user_pool_name),
            ("aws_cognito_user_pool_client", "api", "name", cognito.app_client_name),
            ("aws_cognito_user_pool_client", "integrations", "name", cognito.machine_client_name),
            ("aws_cognito_resource_server", "acso", "identifier", cognito.resource_server_identifier),
        ):
            body = self.resource("security", type_name, name)
            if body is not None:
                self.expect("security", f"{type_name}.{name}", render(body.get(key), base), expected)
        for variable, expected_list in (("roles", cognito.groups), ("machine_scopes", cognito.machine_scopes)):
            var = security.variables.get(variable)
            got = [unquote(str(v)) for v in (var.body.get("default") or [])] if var else []
            if got != list(expected_list):
                self.fail(
                    "security", f"var.{variable}", f"default {got} differs from the manifest's {list(expected_list)}"
                )

    # --- environment -----------------------------------------------------------------------

    def environment(self) -> None:
        compute = self.modules["compute"]
        names = environment_names(compute)
        for missing in sorted(REQUIRED_ENVIRONMENT - names):
            self.fail("compute", "aws_ecs_task_definition.this", f"environment variable {missing} is not set")
        for missing in sorted(settings_required_names() - names):
            self.fail(
                "compute", "aws_ecs_task_definition.this", f"settings field {missing} has no default and is unset"
            )
        for agent in Agent:
            agent_names = agent_environment_names(compute, agent.value)
            for missing in sorted(AGENT_REQUIRED_ENVIRONMENT.get(agent.value, frozenset()) - agent_names):
                self.fail(
                    "compute",
                    "aws_ecs_task_definition.this",
                    f"{agent.value}: environment variable {missing} is not set",
                )
            readable = service_settings_names(agent)
            for unknown in sorted(agent_names - set(LIBRARY_ENVIRONMENT) - readable if readable is not None else set()):
                self.fail(
                    "compute",
                    "aws_ecs_task_definition.this",
                    f"{agent.value}: {unknown} is set but its settings class never reads it",
                )
            # pydantic-settings parses list, tuple, set and dict fields from JSON ("a,b" fails to start).
            for name in sorted(complex_settings_names(agent)):
                value = agent_environment_values(compute, agent.value).get(name)
                if value is not None and "jsonencode(" not in value:
                    self.fail(
                        "compute",
                        "aws_ecs_task_definition.this",
                        f"{agent.value}: {name} is a list or map setting: set it with jsonencode(), not {value}",
                    )

    # --- IAM and wiring --------------------------------------------------------------------

    def permissions(self) -> None:
        security = self.modules["security"]
        for agent, action, resource in REQUIRED_TASK_PERMISSIONS:
            if not any(
                action in statement["actions"] and resource in statement["resources"]
                for statement in task_statements(security, agent)
            ):
                self.fail("security", "local.agent_statements", f"{agent}: no {action} on {resource}")

    def startup_secrets(self) -> None:
        """Every secret ECS injects into an agent's container is one its execution role may read."""
        compute, security = self.modules["compute"], self.modules["security"]
        calls = {module: self._call(module) for module in ("compute", "security")}
        for agent in Agent:
            passed_to_security = (
                calls["security"].get(name) for name in execution_secret_variables(security, agent.value)
            )
            readable = {str(value) for value in passed_to_security if value is not None}
            for env_name, value in sorted(agent_secret_values(compute, agent.value).items()):
                variable = _SECRET_VALUE.fullmatch(unquote(value))
                passed = str(calls["compute"].get(variable.group(1))) if variable else value
                if passed not in readable:
                    self.fail(
                        "security",
                        "data.aws_iam_policy_document.execution",
                        f"{agent.value}: the execution role cannot read {env_name} ({passed})",
                    )

    def websocket(self) -> None:
        for module, argument, expected in REQUIRED_WIRING:
            got = self._call(module).get(argument)
            if got != expected:
                self.fail("", f"module.{module}", f"{argument} must be {expected}, not {got}")
        api = self.modules["api"]
        for output, expected in WEBSOCKET_OUTPUTS.items():
            got = unquote(str(api.outputs.get(output, {}).get("value")))
            if got != expected:
                self.fail("api", f"output.{output}", f"output {output} must be {expected}, not {got}")
        stage = api.resources.get(("aws_apigatewayv2_stage", "ws"), {})
        if stage.get("name") != "${var.stage_name}" or stage.get("api_id") != "${aws_apigatewayv2_api.ws.id}":
            self.fail("api", "aws_apigatewayv2_stage.ws", "must be the WebSocket API's stage named var.stage_name")

    def _call(self, module: str) -> dict[str, Any]:
        calls = [c for c in self.stack.modules.values() if c.source.endswith(f"/modules/{module}")]
        return calls[0].arguments if calls else {}

    # --- lambdas ---------------------------------------------------------------------------

    def lambdas(self, lambdas_dir: Path) -> None:
        if "lambdas" not in self.modules:
            return
        functions = self.modules["lambdas"].locals.get("functions")
        if not isinstance(functions, dict):
            self.fail(
                "lambdas", "local.functions", "the lambdas module must declare local.functions as an object literal"
            )
            return
        declared = {k for k in functions if not k.startswith("__")}
        if lambdas_dir.is_dir():
            packages = {p.name for p in lambdas_dir.iterdir() if (p / f"acso_lambda_{p.name}").is_dir()}
            for missing in sorted(packages - declared):
                self.fail("lambdas", "local.functions", f"function {missing!r} (lambdas/{missing}) is not deployed")
            for extra in sorted(declared - packages):
                self.fail("lambdas", "local.functions", f"function {extra!r} has no package lambdas/{extra}")
        for name in sorted(declared):
            fields = lambda_settings_fields(name)
            if fields is None:
                continue
            required, known = fields
            entry = functions[name]
            environment = entry.get("environment") if isinstance(entry, dict) else None
            names = {k for k in environment if not k.startswith("__")} if isinstance(environment, dict) else set()
            for missing in sorted(min(choices) for choices in required if not choices & names):
                self.fail("lambdas", "local.functions", f"{name}: settings field {missing} has no default and is unset")
            for unknown in sorted(names - known):
                self.fail(
                    "lambdas", "local.functions", f"{name}: {unknown} is set but its settings class never reads it"
                )


def environment_names(compute: Config) -> set[str]:
    """Names of the environment variables and secrets the compute module sets on every container."""
    names: set[str] = set()
    for local_name in ("container_environment", "container_secrets"):
        value = compute.locals.get(local_name)
        if isinstance(value, dict):
            names |= {k for k in value if not k.startswith("__")}
    task = compute.resources.get(("aws_ecs_task_definition", "this"), {})
    definitions = str(task.get("container_definitions", ""))
    if "local.container_environment" not in definitions:
        return set()  # the locals are not what the task definition uses
    if "local.container_secrets" not in definitions:
        names -= set(compute.locals.get("container_secrets", {}) or {})
    for match in _SERVICE_PORT_MERGE.finditer(definitions):
        names |= set(re.findall(r"([A-Z][A-Z0-9_]*)\s*=", match.group(1)))
    return names


def agent_environment_names(compute: Config, agent: str) -> set[str]:
    """Names of the environment variables and secrets on `agent`'s container: every agent's plus its own."""
    names = environment_names(compute)
    if not names:
        return names
    definitions = str(compute.resources.get(("aws_ecs_task_definition", "this"), {}).get("container_definitions", ""))
    for local_name in ("agent_environment", "agent_secrets"):
        entry = _agent_entry(compute, local_name, agent, definitions)
        names |= {k for k in entry if not k.startswith("__")}
    return names


def agent_environment_values(compute: Config, agent: str) -> dict[str, str]:
    """Environment name -> expression of the plain variables on `agent`'s container (common and its own)."""
    definitions = str(compute.resources.get(("aws_ecs_task_definition", "this"), {}).get("container_definitions", ""))
    common = compute.locals.get("container_environment")
    merged = {
        **(common if isinstance(common, dict) else {}),
        **_agent_entry(compute, "agent_environment", agent, definitions),
    }
    return {k: str(v) for k, v in merged.items() if not k.startswith("__")}


def complex_settings_names(agent: Agent) -> set[str]:
    """Environment names of `agent`'s settings fields that pydantic-settings decodes from JSON."""
    try:
        module = importlib.import_module(f"acso_{agent.value}.settings")
    except ImportError:
        return set()
    settings = getattr(module, "Settings", None)
    if not isinstance(settings, type) or not issubclass(settings, BaseSettings):
        return set()
    names = set()
    for cls in (settings, *extra_settings_classes(agent)):
        prefix = str(cls.model_config.get("env_prefix", "ACSO_"))
        for field_name, info in cls.model_fields.items():
            origin = typing.get_origin(info.annotation) or info.annotation
            if origin in (list, tuple, set, frozenset, dict) and not any(
                isinstance(m, NoDecode) for m in info.metadata
            ):
                names.add(f"{prefix}{field_name}".upper())
    return names


def agent_secret_values(compute: Config, agent: str) -> dict[str, str]:
    """Environment name -> secret ARN expression of every secret ECS injects into `agent`'s container."""
    definitions = str(compute.resources.get(("aws_ecs_task_definition", "this"), {}).get("container_definitions", ""))
    if "local.container_secrets" not in definitions:
        return {}
    common = compute.locals.get("container_secrets")
    merged = {
        **(common if isinstance(common, dict) else {}),
        **_agent_entry(compute, "agent_secrets", agent, definitions),
    }
    return {k: str(v) for k, v in merged.items() if not k.startswith("__")}


def _agent_entry(compute: Config, local_name: str, agent: str, definitions: str) -> dict[str, Any]:
    """`local.<local_name>[agent]` of the compute module, if the task definition uses that local."""
    value = compute.locals.get(local_name)
    if f"local.{local_name}" not in definitions or not isinstance(value, dict):
        return {}
    entry = value.get(agent)
    return entry if isinstance(entry, dict) else {}


def task_statements(security: Config, agent: str) -> list[dict[str, Any]]:
    """`agent`'s own task-policy statements (security module: local.agent_statements), unquoted.

    Entries written as `local.<name>` are resolved. Empty if the task policy document does not use
    local.agent_statements, so a statement that is declared but never applied does not count.
    """
    document = security.data.get(("aws_iam_policy_document", "task"), {})
    if "local.agent_statements[each.key]" not in str(document.get("dynamic", "")):
        return []
    by_agent = security.locals.get("agent_statements")
    entries = by_agent.get(agent, []) if isinstance(by_agent, dict) else []
    statements = []
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, str) and entry.startswith("${local.") and entry.endswith("}"):
            entry = security.locals.get(entry[len("${local.") : -1])
        if isinstance(entry, dict):
            statements.append(
                {
                    "sid": unquote(str(entry.get("sid", ""))),
                    "actions": [unquote(str(a)) for a in entry.get("actions", [])],
                    "resources": [unquote(str(r)) for r in entry.get("resources", [])],
                }
            )
    return statements


def execution_secret_variables(security: Config, agent: str) -> set[str]:
    """Variables of the security module whose secrets `agent`'s execution role may read at task start."""
    document = security.data.get(("aws_iam_policy_document", "execution"), {})
    blocks = document.get("statement", [])
    names: set[str] = set()
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or '"secretsmanager:GetSecretValue"' not in block.get("actions", []):
            continue
        resources = str(block.get("resources", ""))
        names |= set(_VAR_REFERENCE.findall(resources))
        startup = security.locals.get("agent_startup_secrets")
        if "local.agent_startup_secrets" in resources and isinstance(startup, dict):
            for arn in startup.get(agent, []) or []:
                names |= set(_VAR_REFERENCE.findall(str(arn)))
    return names


def service_settings_names(agent: Agent) -> set[str] | None:
    """Every environment name `acso_<agent>.settings.Settings` reads; None if it does not import."""
    try:
        module = importlib.import_module(f"acso_{agent.value}.settings")
    except ImportError:
        return None
    settings = getattr(module, "Settings", None)
    if not isinstance(settings, type) or not issubclass(settings, BaseSettings):
        return None
    names = _settings_names(settings)[1]
    for extra in extra_settings_classes(agent):
        names |= _settings_names(extra)[1]
    return names


def extra_settings_classes(agent: Agent) -> list[type[BaseSettings]]:
    """The settings classes of EXTRA_SETTINGS for `agent` that import."""
    classes: list[type[BaseSettings]] = []
    for reference in EXTRA_SETTINGS.get(agent.value, ()):
        module_name, _, class_name = reference.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        settings = getattr(module, class_name, None)
        if isinstance(settings, type) and issubclass(settings, BaseSettings):
            classes.append(settings)
    return classes


def _settings_names(settings: type[BaseSettings]) -> tuple[list[frozenset[str]], set[str]]:
    """(required, readable) environment names of a settings class (`ACSO_<FIELD>` and aliases)."""
    prefix = str(settings.model_config.get("env_prefix", "ACSO_"))
    required: list[frozenset[str]] = []
    readable: set[str] = set()
    for field_name, info in settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            names = {alias.upper()}
        elif isinstance(alias, AliasChoices):
            names = {str(choice).upper() for choice in alias.choices if isinstance(choice, str)}
        else:
            names = {f"{prefix}{field_name}".upper()}
        readable |= names
        if info.is_required():
            required.append(frozenset(names))
    return required, readable


def settings_required_names() -> set[str]:
    """`ACSO_<FIELD>` of every settings field without a default, for each service whose settings import.

    The services' settings classes (`acso_<agent>.settings.Settings`, env prefix `ACSO_`) may not
    exist yet; a service whose settings do not import contributes nothing.
    """
    names: set[str] = set()
    for agent in Agent:
        try:
            module = importlib.import_module(f"acso_{agent.value}.settings")
        except ImportError:
            continue
        settings = getattr(module, "Settings", None)
        fields = getattr(settings, "model_fields", {})
        config = getattr(settings, "model_config", {}) or {}
        prefix = str(config.get("env_prefix", "ACSO_"))
        for field_name, info in fields.items():
            if info.is_required():
                alias = info.validation_alias if isinstance(info.validation_alias, str) else None
                names.add((alias or f"{prefix}{field_name}").upper())
    return names


def lambda_settings_fields(function: str) -> tuple[list[frozenset[str]], set[str]] | None:
    """(required, readable) environment names of `acso_lambda_<function>.settings`; None if it does not import.

    The settings class is the `pydantic_settings.BaseSettings` subclass the module defines. Every
    name a field can be read from counts as readable (`ACSO_<FIELD>` and its aliases); a required
    field is satisfied by any one of its names.
    """
    try:
        module = importlib.import_module(f"acso_lambda_{function}.settings")
    except ImportError:
        return None
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, BaseSettings) and obj.__module__ == module.__name__
    ]
    if len(classes) != 1:
        return None
    return _settings_names(classes[0])


def tfvars_env(stack_dir: Path) -> str | None:
    """The `env` set in an environment's terraform.tfvars."""
    tfvars = stack_dir / "terraform.tfvars"
    if not tfvars.exists():
        return None
    match = re.search(r'^\s*env\s*=\s*"([a-z0-9]+)"', tfvars.read_text(), re.M)
    return match.group(1) if match else None


def check_consistency(configs: Mapping[Path, Config], root: Path = REPO_ROOT) -> list[Finding]:
    """Compare every environment stack under `terraform/environments/` with the manifest and services."""
    findings: list[Finding] = []
    terraform = root / "terraform"
    modules = {p.name: c for p, c in configs.items() if p.parent == (terraform / "modules").resolve()}
    required = ("compute", "security", "messaging", "data", "monitoring", "api")
    for name in required:
        if name not in modules:
            findings.append(Finding(Check.CONSISTENCY, f"terraform/modules/{name}", "-", "module missing"))
    if len(findings):
        return findings
    stacks = [c for p, c in configs.items() if p.parent == (terraform / "environments").resolve()]
    if not stacks:
        findings.append(Finding(Check.CONSISTENCY, "terraform/environments", "-", "no environment stacks"))
    for stack in stacks:
        env = tfvars_env(stack.path)
        if env is None:
            rel = str(stack.path.relative_to(root) / "terraform.tfvars")
            findings.append(Finding(Check.CONSISTENCY, rel, "env", "terraform.tfvars must set env"))
            continue
        checker = _Checker(env, root, modules, stack)
        checker.agents(root / "services")
        checker.queues()
        checker.tables_and_buckets()
        checker.security()
        checker.environment()
        checker.permissions()
        checker.startup_secrets()
        checker.websocket()
        checker.lambdas(root / "lambdas")
        findings += checker.findings
    return findings
