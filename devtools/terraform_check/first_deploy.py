"""Assertions that keep `make deploy` working on a real account, one per defect class of issue 20.

Each check reads the parsed configuration (python-hcl2) and reports what AWS would refuse or what
would deploy broken: a resource only one of which a region allows, created unconditionally;
reserved Lambda concurrency by default; a minor engine pin beside automatic minor upgrades; images
built for the builder's architecture; a topic no alarm may publish to; a cached stage-wide Deny;
a repository destroy cannot delete; a bucket the ALB may not yet write to; a password in the
state; a knowledge base nothing syncs; no read replica or budget; missing alarms; SSM documents
named but never created; ECS Exec half configured; archive tiers on what is read on demand; a web
console behind the authorizer (or other routes beside it without), or without its Hosted UI login.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from devtools.terraform_check.hcl import Config, unquote
from devtools.terraform_check.models import Check, Finding
from devtools.terraform_check.schema import REPO_ROOT

_MINOR_PIN = re.compile(r"^\d+\.\d+")
_VAR = re.compile(r"^\$\{var\.([a-z0-9_]+)\}$")
PLATFORMS: Mapping[str, str] = {"X86_64": "linux/amd64", "ARM64": "linux/arm64"}
EXEC_ACTIONS = frozenset(
    {
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
    }
)


class _Tree:
    """The parsed modules and stacks of one `terraform/` directory, and where to report."""

    def __init__(self, configs: Mapping[Path, Config], terraform_dir: Path, root: Path) -> None:
        self.root = root
        self.terraform_dir = terraform_dir
        self.modules = {p.name: c for p, c in configs.items() if p.parent == (terraform_dir / "modules").resolve()}
        self.stacks = {p.name: c for p, c in configs.items() if p.parent == (terraform_dir / "environments").resolve()}
        self.findings: list[Finding] = []

    def fail(self, config: Config | None, address: str, message: str) -> None:
        if config is None:
            where = (
                str(self.terraform_dir.relative_to(self.root))
                if self.terraform_dir.is_relative_to(self.root)
                else str(self.terraform_dir)
            )
        else:
            base = config.path / config.origin.get(address, "main.tf")
            where = str(base.relative_to(self.root)) if base.is_relative_to(self.root) else str(base)
        self.findings.append(Finding(Check.DEPLOY, where, address, message))

    def module(self, name: str) -> Config | None:
        return self.modules.get(name)

    def resources(self, type_name: str) -> list[tuple[Config, str, dict[str, Any]]]:
        found = []
        for config in [*self.modules.values(), *self.stacks.values()]:
            for (kind, name), body in config.resources.items():
                if kind == type_name:
                    found.append((config, name, body))
        return found

    def tfvars(self, stack: str) -> str:
        path = self.terraform_dir / "environments" / stack / "terraform.tfvars"
        return path.read_text() if path.exists() else ""


def _default(config: Config, variable: str) -> Any:
    var = config.variables.get(variable)
    return var.body.get("default") if var is not None else None


def _var_name(value: Any) -> str | None:
    match = _VAR.match(str(value))
    return match.group(1) if match else None


def _tfvar_number(text: str, name: str) -> float | None:
    match = re.search(rf"^\s*{name}\s*=\s*([0-9.]+)", text, re.M)
    return float(match.group(1)) if match else None


# --- 1. one-per-region resources: use what exists by default ----------------------------------


def check_account_singletons(tree: _Tree) -> None:
    """GuardDuty detectors and Config recorders exist once per region: creating one is opt-in."""
    for type_name, switch in (
        ("aws_guardduty_detector", "create_guardduty_detector"),
        ("aws_config_configuration_recorder", "create_config_recorder"),
    ):
        found = tree.resources(type_name)
        if not found and type_name == "aws_config_configuration_recorder":
            tree.fail(
                tree.module("monitoring"),
                type_name,
                "AWS Config has no recorder option, though the services query Config",
            )
        for config, name, body in found:
            count = str(body.get("count", ""))
            if f"var.{switch}" not in count:
                tree.fail(config, f"{type_name}.{name}", f"must be created only when var.{switch} is true")
            elif _default(config, switch) is not False:
                tree.fail(config, f"var.{switch}", f"{switch} must default to false (use the region's existing one)")
        for stack in tree.stacks.values():
            if found and _default(stack, switch) is not False:
                tree.fail(stack, f"var.{switch}", f"{switch} must default to false in every environment")
    monitoring = tree.module("monitoring")
    if monitoring is not None:
        if not any(k == "aws_config_config_rule" for k, _ in monitoring.resources):
            tree.fail(
                monitoring, "aws_config_config_rule", "no AWS Config rules: compliance queries would find nothing"
            )
        if not any(k == "aws_config_delivery_channel" for k, _ in monitoring.resources):
            tree.fail(monitoring, "aws_config_delivery_channel", "a created recorder needs a delivery channel")


# --- 2. reserved concurrency --------------------------------------------------------------------


def check_reserved_concurrency(tree: _Tree) -> None:
    """No Lambda function reserves concurrency unless the deployer opts in."""
    for config, name, body in tree.resources("aws_lambda_function"):
        value = body.get("reserved_concurrent_executions")
        if value is None:
            continue
        text = str(value)
        variables = re.findall(r"var\.([a-z0-9_]+)", text)
        defaults = [_default(config, v) for v in variables]
        opt_in = bool(variables) and all(d in (None, {}) for d in defaults)
        if not (opt_in and ("null" in text or all(d is None for d in defaults))):
            tree.fail(
                config,
                f"aws_lambda_function.{name}",
                f"reserved_concurrent_executions = {text} reserves concurrency by default: Lambda keeps 100 unreserved,"
                " so new and sandbox accounts (quota 10) refuse the deploy",
            )


# --- 3. engine versions ---------------------------------------------------------------------------


def check_engine_versions(tree: _Tree) -> None:
    """Only the major version is pinned where AWS upgrades minors automatically."""
    for type_name in ("aws_rds_cluster", "aws_db_instance", "aws_rds_cluster_instance"):
        for config, name, body in tree.resources(type_name):
            if body.get("auto_minor_version_upgrade") is False or "engine_version" not in body:
                continue
            value = body["engine_version"]
            text = unquote(str(value))
            variable = _var_name(value)
            pinned = _MINOR_PIN.match(text) or (
                variable is not None and _MINOR_PIN.match(unquote(str(_default(config, variable) or "")))
            )
            address = f"{type_name}.{name}"
            if pinned:
                tree.fail(
                    config,
                    address,
                    f"engine_version {text} pins a minor version while minors upgrade automatically:"
                    " creation fails once"
                    " AWS retires it, and every apply after an upgrade fails (cannot downgrade)",
                )
            elif "data.aws_rds_engine_version" in text or ".engine_version" in text:
                lifecycle = body.get("lifecycle") or [{}]
                ignored = [unquote(str(i)) for block in lifecycle for i in (block.get("ignore_changes") or [])]
                if type_name == "aws_rds_cluster_instance" or "engine_version" not in ignored:
                    tree.fail(
                        config,
                        address,
                        "an engine_version looked up or copied from another resource must be ignored after creation"
                        " (lifecycle ignore_changes) or left out",
                    )


# --- 4. image platform ----------------------------------------------------------------------------


def check_image_platform(tree: _Tree, makefiles: list[Path]) -> None:
    """Every image build names the platform the ECS tasks run on."""
    compute = tree.module("compute")
    task = compute.resources.get(("aws_ecs_task_definition", "this"), {}) if compute else {}
    platforms = task.get("runtime_platform") or [{}]
    arch = unquote(str(platforms[0].get("cpu_architecture", "X86_64")))
    wanted = PLATFORMS.get(arch)
    for makefile in makefiles:
        if not makefile.exists():
            continue
        text = makefile.read_text()
        assigned = dict(re.findall(r"^([A-Z_]+)\s*\??=\s*(\S+)", text, re.M))
        for line in text.splitlines():
            if "docker build" not in line and "docker buildx build" not in line:
                continue
            match = re.search(r"--platform[ =](\S+)", line)
            platform = match.group(1) if match else None
            if platform and platform.startswith("$(") and platform.endswith(")"):
                platform = assigned.get(platform[2:-1], platform)
            rel = str(makefile.relative_to(tree.root)) if makefile.is_relative_to(tree.root) else str(makefile)
            if platform is None:
                tree.findings.append(
                    Finding(
                        Check.DEPLOY,
                        rel,
                        "docker build",
                        f"builds for the builder's architecture; the tasks run {arch} (--platform {wanted})",
                    )
                )
            elif platform != wanted:
                tree.findings.append(
                    Finding(
                        Check.DEPLOY, rel, "docker build", f"--platform {platform} but the tasks run {arch} ({wanted})"
                    )
                )


# --- 5. who may publish to the notifications topic ------------------------------------------------


def check_topic_policy(tree: _Tree) -> None:
    """The notifications topic policy lets CloudWatch alarms and EventBridge rules publish."""
    messaging = tree.module("messaging")
    if messaging is None:
        return
    document = messaging.data.get(("aws_iam_policy_document", "notifications"), {})
    allowed: set[str] = set()
    for statement in document.get("statement", []) or []:
        if unquote(str(statement.get("effect", '"Allow"'))) != "Allow":
            continue
        if '"sns:Publish"' not in [str(a) for a in statement.get("actions", [])]:
            continue
        for principal in statement.get("principals", []) or []:
            if unquote(str(principal.get("type"))) != "Service":
                continue
            identifiers = principal.get("identifiers")
            variable = _var_name(identifiers)
            values = _default(messaging, variable) if variable else identifiers
            allowed |= {unquote(str(v)) for v in (values or [])}
    for service in ("cloudwatch.amazonaws.com", "events.amazonaws.com"):
        if service not in allowed:
            tree.fail(
                messaging,
                "data.aws_iam_policy_document.notifications",
                f"the topic policy (which replaces SNS's default) does not allow {service} to publish:"
                " its alarms or rules never notify",
            )


# --- 6. the REST authorizer -----------------------------------------------------------------------


def check_authorizer(tree: _Tree, authorizer_allows_stage: Callable[[], bool] | None) -> None:
    """A cached authorizer answer is an Allow of the stage; CORS preflights bypass the authorizer."""
    api = tree.module("api")
    if api is None:
        return
    methods = [b for (k, _), b in api.resources.items() if k == "aws_api_gateway_method"]
    if not any(
        unquote(str(m.get("http_method"))) == "OPTIONS" and unquote(str(m.get("authorization"))) == "NONE"
        for m in methods
    ):
        tree.fail(
            api,
            "aws_api_gateway_method",
            "CORS preflights (OPTIONS, sent without credentials) go through the authorizer: browsers get 401",
        )
    for (kind, name), body in api.resources.items():
        if kind != "aws_api_gateway_authorizer":
            continue
        ttl = body.get("authorizer_result_ttl_in_seconds", 300)
        variable = _var_name(ttl)
        ttl_value = _default(api, variable) if variable else ttl
        if (
            isinstance(ttl_value, (int, float))
            and ttl_value > 0
            and authorizer_allows_stage is not None
            and not authorizer_allows_stage()
        ):
            tree.fail(
                api,
                f"aws_api_gateway_authorizer.{name}",
                f"answers are cached {ttl_value} s for every route, but the authorizer does not allow the whole stage"
                " to a verified token: one refused route locks the caller out of all of them",
            )


def rest_authorizer_allows_stage() -> bool:
    """Whether lambdas/auth answers a verified token on a route its roles forbid with an Allow of the stage."""
    try:
        from acso_lambda_auth.models import parse_event
        from acso_lambda_auth.service import Authorizer
        from acso_shared.auth.models import Principal, PrincipalKind, Role
    except ImportError:
        return True  # the Lambda is not importable here: nothing to say about its answers

    class _Verified:
        """A verifier that has already accepted the token (the policy is the question, not the JWT)."""

        def verify(self, token: str) -> Principal:
            return Principal(subject="probe", kind=PrincipalKind.USER, roles=frozenset({Role.ANALYST}))

    path = "/v1/incidents/42/close"
    event = {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST{path}",
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "POST",
        "headers": {"authorization": "Bearer probe"},
        "multiValueHeaders": {"authorization": ["Bearer probe"]},
        "queryStringParameters": {},
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": {},
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "POST",
            "path": f"/prod{path}",
            "stage": "prod",
            "requestId": "probe",
            "accountId": "123456789012",
            "apiId": "abc123",
            "identity": {"sourceIp": "203.0.113.10"},
        },
    }
    try:
        decision = Authorizer(_Verified()).decide(parse_event(event))  # type: ignore[arg-type]
    except Exception:
        return False
    statements = decision.response.get("policyDocument", {}).get("Statement", [])
    resources = [r for s in statements if s.get("Effect") == "Allow" for r in s.get("Resource", [])]
    return decision.allowed and any(r.endswith("/prod/*/*") for r in resources)


# --- 7. forensic snapshots ------------------------------------------------------------------------


def check_snapshot_grant(tree: _Tree) -> None:
    """ec2:CreateSnapshot is granted on the new snapshot, which the API authorises too."""
    security = tree.module("security")
    if security is None:
        return
    statements = [s for s in _statements(security.locals) if '"ec2:CreateSnapshot"' in [str(a) for a in s["actions"]]]
    if statements and not any("::snapshot/" in str(s.get("resources")) for s in statements):
        tree.fail(
            security,
            "local.agent_statements",
            "ec2:CreateSnapshot is granted on volumes but not on snapshot/*: every forensic snapshot is denied",
        )


def _statements(value: Any) -> list[dict[str, Any]]:
    """Every policy-statement-like object (one with `actions`) inside a parsed value."""
    if isinstance(value, dict):
        found = [value] if isinstance(value.get("actions"), list) else []
        for child in value.values():
            found += _statements(child)
        return found
    if isinstance(value, list):
        return [s for item in value for s in _statements(item)]
    return []


# --- 8. destroy and first-apply ordering ----------------------------------------------------------


def check_destroyable(tree: _Tree) -> None:
    """ECR repositories can be destroyed; the ALB waits for the access-log bucket policy."""
    for config, name, body in tree.resources("aws_ecr_repository"):
        if "force_delete" not in body or "var." not in str(body["force_delete"]):
            tree.fail(
                config,
                f"aws_ecr_repository.{name}",
                "no force_delete variable: `make destroy` fails on repositories holding images",
            )
    for stack in tree.stacks.values():
        call = next((c for c in stack.modules.values() if c.source.endswith("/modules/compute")), None)
        if call is not None and "force_delete" not in call.arguments:
            tree.fail(stack, "module.compute", "the stack does not set the compute module's force_delete")
    data = tree.module("data")
    if data is not None:
        output = data.outputs.get("access_logs_bucket_name", {})
        value, depends = str(output.get("value", "")), str(output.get("depends_on", ""))
        if "aws_s3_bucket_policy." not in value and "aws_s3_bucket_policy." not in depends:
            tree.fail(
                data,
                "output.access_logs_bucket_name",
                "the ALB gets the access-log bucket before its policy exists:"
                " a first apply can fail with Access Denied",
            )


# --- 9. no password in the state ------------------------------------------------------------------


def check_database_credentials(tree: _Tree) -> None:
    """Database passwords are RDS-managed: none comes from random_password (and so none is in the state)."""
    for type_name in ("aws_db_instance", "aws_rds_cluster"):
        for config, name, body in tree.resources(type_name):
            if "replicate_source_db" in body:
                continue
            if "random_password." in str(body.get("password", "")) + str(body.get("master_password", "")):
                tree.fail(
                    config,
                    f"{type_name}.{name}",
                    "the master password comes from random_password and sits in the state",
                )
            if body.get("manage_master_user_password") is not True:
                tree.fail(
                    config,
                    f"{type_name}.{name}",
                    "the master password must be RDS-managed (manage_master_user_password = true)",
                )
    for config, name, body in tree.resources("aws_secretsmanager_secret_version"):
        if "random_password." in str(body.get("secret_string", "")) and "postgres" in str(
            body.get("secret_string", "")
        ):
            tree.fail(
                config,
                f"aws_secretsmanager_secret_version.{name}",
                "a database URL with a Terraform-generated password",
            )


# --- 10. knowledge-base sync ----------------------------------------------------------------------


def check_ingestion(tree: _Tree) -> None:
    """Threat-intel object changes start a knowledge-base ingestion job."""
    ai = tree.module("ai")
    if ai is None or not any(k == "aws_bedrockagent_data_source" for k, _ in ai.resources):
        return
    rules = [
        b
        for (k, _), b in ai.resources.items()
        if k == "aws_cloudwatch_event_rule" and "aws.s3" in str(b.get("event_pattern"))
    ]
    starters = [
        b
        for (k, _), b in ai.resources.items()
        if k in ("aws_sfn_state_machine", "aws_lambda_function", "aws_pipes_pipe")
        and "startingestionjob" in str(b).lower()
    ]
    targets = [b for (k, _), b in ai.resources.items() if k == "aws_cloudwatch_event_target"]
    if not rules or not starters or not targets:
        tree.fail(
            ai,
            "aws_bedrockagent_data_source",
            "nothing starts an ingestion job when threat-intel objects change: the knowledge base never syncs",
        )


# --- 11. prod read replica, 12. budgets -----------------------------------------------------------


def check_replica_and_budget(tree: _Tree) -> None:
    """Prod has a read replica; every environment has a budget alerting the notifications topic."""
    data = tree.module("data")
    replicas = [
        b
        for (k, _), b in (data.resources.items() if data else [])
        if k == "aws_db_instance" and "replicate_source_db" in b
    ]
    if not replicas:
        tree.fail(data, "aws_db_instance", "no read replica resource")
    elif "prod" in tree.stacks and not (_tfvar_number(tree.tfvars("prod"), "db_read_replicas") or 0) >= 1:
        tree.fail(
            tree.stacks["prod"],
            "var.db_read_replicas",
            "prod runs without a read replica (db_read_replicas >= 1 in terraform.tfvars)",
        )
    budgets = tree.resources("aws_budgets_budget")
    if not budgets:
        tree.fail(tree.module("monitoring"), "aws_budgets_budget", "no budget and no budget alerts")
    for config, name, body in budgets:
        blocks = list(body.get("notification", []) or []) + [
            d for d in body.get("dynamic", []) or [] if any("notification" in str(k) for k in d)
        ]
        if "subscriber_sns_topic_arns" not in str(blocks):
            tree.fail(config, f"aws_budgets_budget.{name}", "the budget notifies no SNS topic")
    for stack_name in tree.stacks:
        if budgets and not (_tfvar_number(tree.tfvars(stack_name), "monthly_budget_usd") or 0) > 0:
            tree.fail(tree.stacks[stack_name], "var.monthly_budget_usd", f"{stack_name} sets no monthly budget")


# --- 13. alarms ------------------------------------------------------------------------------------


def check_alarms(tree: _Tree) -> None:
    """Alarms cover Lambda errors and throttles, RDS, and each ECS service's running tasks."""
    monitoring = tree.module("monitoring")
    # An alarm's metric may come from its for_each map or a local, so the module's locals count too.
    context = str(monitoring.locals) if monitoring is not None else ""
    text = [str(body) + context for _, _, body in tree.resources("aws_cloudwatch_metric_alarm")]
    wanted: dict[str, tuple[str, str]] = {
        "Lambda errors": ("AWS/Lambda", "Errors"),
        "Lambda throttles": ("AWS/Lambda", "Throttles"),
        "RDS": ("AWS/RDS", "AWS/RDS"),
        "ECS running task count": ("ECS/ContainerInsights", "RunningTaskCount"),
    }
    for label, (namespace, metric) in wanted.items():
        if not any(namespace in t and metric in t for t in text):
            tree.fail(monitoring, "aws_cloudwatch_metric_alarm", f"no alarm covers {label}")


# --- 14. SSM documents ----------------------------------------------------------------------------


def check_ssm_documents(tree: _Tree, document_names: list[str]) -> None:
    """Every ACSO SSM document the code runs (or IAM names) is created here."""
    security = tree.module("security")
    if security is None:
        return
    created: set[str] = set()
    for _config, _, body in tree.resources("aws_ssm_document"):
        keys = re.findall(r"^\s*([A-Za-z0-9_-]+)\s*=\s*\{", str(body.get("for_each", "")), re.M)
        for_each = body.get("for_each")
        if isinstance(for_each, dict):
            keys = [k for k in for_each if not k.startswith("__")]
        name = unquote(str(body.get("name", "")))
        name = name.replace("${var.name_prefix}", "acso-dev")
        created |= {name.replace("${each.key}", k) for k in keys} if keys else {name}
    text = "\n".join(str(v) for v in security.locals.values())
    if re.search(r":document/acso-\*", text):
        tree.fail(security, "local.agent_statements", "IAM grants SSM documents acso-* that no resource creates")
    for document in document_names:
        if document not in created:
            tree.fail(security, "aws_ssm_document", f"the code runs SSM document {document}, which is never created")


# --- 15. ECS Exec ---------------------------------------------------------------------------------


def check_ecs_exec(tree: _Tree) -> None:
    """ECS Exec, configured on the cluster, is enabled on the services and allowed to the task roles."""
    compute, security = tree.module("compute"), tree.module("security")
    if compute is None or security is None:
        return
    cluster = compute.resources.get(("aws_ecs_cluster", "this"), {})
    if "execute_command_configuration" not in str(cluster):
        return
    service = compute.resources.get(("aws_ecs_service", "this"), {})
    value = service.get("enable_execute_command")
    variable = _var_name(value)
    if not (value is True or (variable is not None and _default(compute, variable) is True)):
        tree.fail(
            compute, "aws_ecs_service.this", "ECS Exec is configured on the cluster but not enabled on the services"
        )
    common = security.locals.get("common_statements")
    granted = {
        unquote(str(a))
        for s in (common if isinstance(common, list) else [])
        if isinstance(s, dict)
        for a in s.get("actions", [])
    }
    missing = sorted(EXEC_ACTIONS - granted)
    if missing:
        tree.fail(
            security,
            "local.common_statements",
            f"the task roles lack {', '.join(missing)}: ECS Exec sessions cannot open",
        )


# --- 16. archive tiers ----------------------------------------------------------------------------


def check_archive_tiers(tree: _Tree) -> None:
    """No archive tier covers objects read on demand (the threat-intel bucket the knowledge base ingests)."""
    for config, name, body in tree.resources("aws_s3_bucket_intelligent_tiering_configuration"):
        if "ARCHIVE" not in str(body.get("tiering", "")) + str(body.get("dynamic", "")):
            continue
        target = str(body.get("for_each", "")) + str(body.get("bucket", ""))
        has_prefix = "prefix" in str(body.get("filter", ""))
        if "aws_s3_bucket.this" in str(body.get("for_each", "")) or "threat_intel" in target or not has_prefix:
            tree.fail(
                config,
                f"aws_s3_bucket_intelligent_tiering_configuration.{name}",
                "archive tiers apply to whole buckets, including the threat-intel objects the knowledge base ingests:"
                " archived objects are unreadable until restored",
            )
    data = tree.module("data")
    if data is not None and "archive_tiering" in data.variables:
        conditions = str(data.variables["archive_tiering"].body.get("validation", ""))
        if "artifacts" not in conditions:
            tree.fail(data, "var.archive_tiering", "archive_tiering must be limited to the artifacts bucket")


# --- 17. containment allow-list -------------------------------------------------------------------


def check_allow_list(tree: _Tree) -> None:
    """Every stack gives incident response the deployment account plus var.member_account_ids."""
    for stack in tree.stacks.values():
        call = next((c for c in stack.modules.values() if c.source.endswith("/modules/compute")), None)
        value = str(call.arguments.get("allowed_account_ids", "")) if call else ""
        if "data.aws_caller_identity" not in value or "var.member_account_ids" not in value:
            tree.fail(
                stack,
                "module.compute",
                "ACSO_ALLOWED_ACCOUNT_IDS must be the deployment account (data.aws_caller_identity)"
                " plus var.member_account_ids",
            )


# --- the web console: its routes are public (and only they), and it logs in through the Hosted UI -


_ROOT_RESOURCE = re.compile(r"^\$\{aws_api_gateway_rest_api\.[a-z0-9_]+\.root_resource_id\}$")
_RESOURCE_REF = re.compile(r"^\$\{aws_api_gateway_resource\.([a-z0-9_]+)\.id\}$")
_METHOD_NAMES = re.compile(r'"([A-Z]+)"')
# What the supervisor's task must set for the console (acso_supervisor.console.settings) in AWS:
# name -> the value it must have (None: any, but set).
CONSOLE_ENVIRONMENT: Mapping[str, str | None] = {
    "ACSO_CONSOLE_LOGIN": "hosted_ui",
    "ACSO_CONSOLE_HOSTED_UI_DOMAIN": None,
    "ACSO_CONSOLE_REDIRECT_URI": None,
    "ACSO_CONSOLE_UPSTREAM_HOST": None,
    "ACSO_CONSOLE_STREAM_URL": None,
}
# The console's routes under /console/ (acso_supervisor.console.routes): GET assets and config,
# POST login and refresh, and the API proxy's GET, POST and PATCH.
CONSOLE_METHODS = frozenset({"GET", "POST", "PATCH"})


def _resource_path(api: Config, reference: str) -> str | None:
    """`/a/b` of an aws_api_gateway_resource (or the root) named by a `resource_id`/`parent_id` value."""
    if _ROOT_RESOURCE.match(reference):
        return ""
    match = _RESOURCE_REF.match(reference)
    body = api.resources.get(("aws_api_gateway_resource", match.group(1))) if match else None
    if body is None:
        return None
    parent = _resource_path(api, str(body.get("parent_id", "")))
    return None if parent is None else f"{parent}/{unquote(str(body.get('path_part', '')))}"


def _http_methods(api: Config, body: dict[str, Any]) -> set[str]:
    """The HTTP methods one aws_api_gateway_method block declares (a literal, or each.key of a for_each)."""
    method = unquote(str(body.get("http_method", "")))
    if method != "${each.key}":
        return {method}
    for_each = str(body.get("for_each", ""))
    local = re.match(r"^\$\{local\.([a-z0-9_]+)\}$", for_each)
    text = str(api.locals.get(local.group(1), "")) if local else for_each
    return set(_METHOD_NAMES.findall(text))


def check_console(tree: _Tree) -> None:
    """The console's page, assets and login routes skip the authorizer (a browser has no token yet),
    no other route does, and the supervisor's task logs users in through the Cognito Hosted UI."""
    api = tree.module("api")
    if api is not None:
        public: dict[str, set[str]] = {}
        for (kind, name), body in api.resources.items():
            if kind != "aws_api_gateway_method" or unquote(str(body.get("authorization"))) != "NONE":
                continue
            path = _resource_path(api, str(body.get("resource_id", "")))
            methods = _http_methods(api, body) - {"OPTIONS"}  # CORS preflights: check_authorizer
            if not methods:
                continue
            if path == "/console/{proxy+}" or (path == "" and methods == {"GET"}):
                public.setdefault(path, set()).update(methods)
                continue
            tree.fail(
                api,
                f"aws_api_gateway_method.{name}",
                f"{'/'.join(sorted(methods))} {path or '/'} skips the authorizer, but only the console's routes"
                " (GET / and /console/{proxy+}) may",
            )
        if "GET" not in public.get("", set()):
            tree.fail(
                api,
                "aws_api_gateway_method",
                "GET / (the console's page) goes through the authorizer: a browser loads it without a token",
            )
        missing = CONSOLE_METHODS - public.get("/console/{proxy+}", set())
        if missing:
            tree.fail(
                api,
                "aws_api_gateway_method",
                f"{'/'.join(sorted(missing))} /console/{{proxy+}} (the console's assets, login and API proxy)"
                " goes through the authorizer or is missing: the login page has no token yet",
            )
        for (kind, name), body in api.resources.items():
            if (
                kind == "aws_api_gateway_integration"
                and _resource_path(api, str(body.get("resource_id", ""))) == "/console/{proxy+}"
                and not unquote(str(body.get("uri", ""))).endswith("/console/{proxy}")
            ):
                tree.fail(
                    api,
                    f"aws_api_gateway_integration.{name}",
                    "the console's routes must reach the supervisor at /console/{proxy}",
                )
    compute = tree.module("compute")
    if compute is not None:
        from devtools.terraform_check.consistency import agent_environment_values

        environment = agent_environment_values(compute, "supervisor")
        for variable, expected in CONSOLE_ENVIRONMENT.items():
            value = unquote(environment.get(variable, ""))
            if not value or (expected is not None and value != expected):
                tree.fail(
                    compute,
                    "local.agent_environment",
                    f"the supervisor's task must set {variable}"
                    + (f"={expected}" if expected else "")
                    + " (the console in AWS logs in through the Cognito Hosted UI and proxies through the ALB)",
                )
    for stack in tree.stacks.values():
        calls = {c.source.rsplit("/", 1)[-1]: c for c in stack.modules.values()}
        redirect = str(calls["compute"].arguments.get("console_redirect_uri", "")) if "compute" in calls else ""
        callbacks = str(calls["security"].arguments.get("callback_urls", "")) if "security" in calls else ""
        if "module.api.console_url" not in redirect or "module.api.console_url" not in callbacks:
            tree.fail(
                stack,
                "module.compute",
                "the console's redirect URI (compute console_redirect_uri) must be module.api.console_url,"
                " and a callback URL of the app client (security callback_urls)",
            )


def check_first_deploy(
    configs: Mapping[Path, Config],
    terraform_dir: Path = REPO_ROOT / "terraform",
    root: Path = REPO_ROOT,
    makefiles: list[Path] | None = None,
    document_names: list[str] | None = None,
    authorizer_allows_stage: Callable[[], bool] | None = rest_authorizer_allows_stage,
) -> list[Finding]:
    """Every assertion above over one `terraform/` tree."""
    tree = _Tree(configs, terraform_dir.resolve(), root.resolve())
    check_account_singletons(tree)
    check_reserved_concurrency(tree)
    check_engine_versions(tree)
    check_image_platform(
        tree, makefiles if makefiles is not None else [root / "devtools" / "terraform.mk", root / "Makefile"]
    )
    check_topic_policy(tree)
    check_authorizer(tree, authorizer_allows_stage)
    check_snapshot_grant(tree)
    check_destroyable(tree)
    check_database_credentials(tree)
    check_ingestion(tree)
    check_replica_and_budget(tree)
    check_alarms(tree)
    check_ssm_documents(tree, document_names if document_names is not None else registered_documents())
    check_ecs_exec(tree)
    check_archive_tiers(tree)
    check_allow_list(tree)
    check_console(tree)
    return tree.findings


def registered_documents(env: str = "dev") -> list[str]:
    """ACSO's own SSM documents the operations registry says the code runs (`acso-<env>-...`)."""
    from acso_shared.aws.operations import operations
    from acso_shared.resources import Agent

    names = set()
    for agent in Agent:
        for op in operations(agent):
            match = re.search(r":document/\{prefix\}-([A-Za-z0-9_.-]+)$", op.resource)
            if match:
                names.add(f"acso-{env}-{match.group(1)}")
    return sorted(names)
