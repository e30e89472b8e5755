"""IAM against the code: every (action, resource type) the services need is granted to their task role.

The needs come from one registry, `acso_shared.aws.operations` (each service's AWS calls with the
ARN each targets). policy_sentry's IAM database says which resource types an action is authorised
against (EC2's CreateSnapshot: the volume and the new snapshot), so an operation needs a grant of
its action on a resource of each matching type: an ARN of that type, or "*". The grants are the
task-policy statements of the security module (`local.common_statements` and
`local.agent_statements`), with their ARNs rendered from sample values of the module's inputs.

`parliament` then lints the rendered task policies (unknown actions, actions on resources they do
not apply to, malformed conditions).
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from acso_shared.aws.operations import Operation, operations, render
from acso_shared.resources import Agent
from devtools.terraform_check.hcl import Config, unquote
from devtools.terraform_check.models import Check, Finding
from devtools.terraform_check.schema import REPO_ROOT

REGISTRY = "shared/acso_shared/aws/operations.py"
ACCOUNT = "123456789012"
REGION = "us-east-1"

# A sample ARN for each input of the security module (and its own resources) that task policies
# name: only the resource type matters for the check, so one ARN of the right type is enough.
SAMPLE_ARNS: Mapping[str, str] = {
    "var.task_queue_arns": f"arn:aws:sqs:{REGION}:{ACCOUNT}:acso-dev-agent-tasks",
    "var.task_dlq_arns": f"arn:aws:sqs:{REGION}:{ACCOUNT}:acso-dev-agent-tasks-dlq",
    "var.results_queue_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:acso-dev-supervisor-results",
    "var.findings_queue_arn": f"arn:aws:sqs:{REGION}:{ACCOUNT}:acso-dev-supervisor-findings",
    "var.supervisor_dlq_arns": f"arn:aws:sqs:{REGION}:{ACCOUNT}:acso-dev-supervisor-results-dlq",
    "var.table_arns": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/acso-dev-table",
    "var.artifacts_bucket_arn": "arn:aws:s3:::acso-dev-artifacts-123456789012",
    "var.threat_intel_bucket_arn": "arn:aws:s3:::acso-dev-threat-intel-123456789012",
    "var.notifications_topic_arn": f"arn:aws:sns:{REGION}:{ACCOUNT}:acso-dev-notifications",
    "var.event_bus_arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/acso-dev-bus",
    "var.database_secret_arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-1234-AbCdEf",
    "var.ws_gateway_secret_arn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:acso-dev/ws-gateway-AbCdEf",
    "aws_secretsmanager_secret.integration": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:acso-dev/x-AbCdEf",
    "var.bedrock_model_arns": f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude-sonnet-4",
    "var.guardrail_arn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:guardrail/abcdef123456",
    "var.knowledge_base_arn": f"arn:aws:bedrock:{REGION}:{ACCOUNT}:knowledge-base/KB12345678",
    "var.websocket_manage_connections_arn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/prod/POST/@connections/*",
    "aws_kms_key.this": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "aws_ssm_document.this": f"arn:aws:ssm:{REGION}:{ACCOUNT}:document/acso-dev-RotateCredential",
}
SCALARS: Mapping[str, str] = {
    "local.partition": "aws",
    "local.region": REGION,
    "local.account_id": ACCOUNT,
    "var.name_prefix": "acso-dev",
    "d": "AWS-RunShellScript",  # the loop variable over var.aws_ssm_documents
}
# Inputs that are names, not ARNs (the ARN around them is a literal the renderer fills in).
NAME_INPUTS = frozenset({"var.aws_ssm_documents"})
_REFERENCE = re.compile(r"\b((?:var|local)\.[a-z0-9_]+|aws_[a-z0-9_]+\.[a-z0-9_]+)")
_INTERPOLATION = re.compile(r"\$\{([^{}]*)\}")


@dataclass(frozen=True)
class Grant:
    """One task-policy statement: its actions and its resources rendered to ARNs."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: tuple[dict[str, Any], ...] = ()


def render_resource(expression: str) -> list[str] | None:
    """The ARNs a task-policy resource expression stands for; None when one part is not known."""
    text = unquote(expression)
    if text == "*":
        return ["*"]
    inner = text[2:-1] if text.startswith("${") and text.endswith("}") else None
    if inner is not None and not re.fullmatch(r"[a-z0-9_.]+(\[[^\]]*\])?(\.arn)?", inner.strip()):
        # A function over inputs (values(), flatten(), concat(), a for expression): each input named.
        arns = []
        for ref in _REFERENCE.findall(inner):
            sample = SAMPLE_ARNS.get(ref)
            if sample is None and ref not in SCALARS and ref not in NAME_INPUTS and not ref.startswith("local."):
                return None
            if sample is not None:
                arns.append(sample)
                if "/index/*" in inner:
                    arns.append(f"{sample}/index/*")
        literal = re.search(r'"(arn:[^"]+)"', inner)
        if literal is not None:
            rendered = _substitute(literal.group(1))
            if rendered is None:
                return None
            arns.append(rendered)
        return arns or None
    rendered = _substitute(text)
    return None if rendered is None else [rendered]


def _substitute(template: str) -> str | None:
    out = template
    for expr in _INTERPOLATION.findall(template):
        key = re.sub(r"\[[^\]]*\]$", "", expr.strip()).removesuffix(".arn")
        key = re.sub(r"\[[^\]]*\]$", "", key)
        value = SCALARS.get(key, SAMPLE_ARNS.get(key))
        if value is None:
            return None
        out = out.replace("${" + expr + "}", value, 1)
    return out


def task_grants(security: Config, agent: str) -> tuple[list[Grant], list[str]]:
    """`agent`'s task-policy statements (common and its own), and the expressions that did not render."""
    document = security.data.get(("aws_iam_policy_document", "task"), {})
    dynamic = str(document.get("dynamic", ""))
    entries: list[Any] = []
    if "local.common_statements" in dynamic:
        common = security.locals.get("common_statements")
        entries += common if isinstance(common, list) else []
    if "local.agent_statements[each.key]" in dynamic:
        by_agent = security.locals.get("agent_statements")
        own = by_agent.get(agent, []) if isinstance(by_agent, dict) else []
        entries += own if isinstance(own, list) else []
    grants: list[Grant] = []
    unknown: list[str] = []
    for entry in entries:
        if isinstance(entry, str) and entry.startswith("${local.") and entry.endswith("}"):
            entry = security.locals.get(entry[len("${local.") : -1])
        if not isinstance(entry, dict):
            unknown.append(str(entry))
            continue
        raw = entry.get("resources", [])
        expressions = raw if isinstance(raw, list) else [raw]
        resources: list[str] = []
        for expression in expressions:
            rendered = render_resource(str(expression))
            if rendered is None:
                unknown.append(str(expression))
            else:
                resources += rendered
        conditions = entry.get("conditions")
        grants.append(
            Grant(
                sid=unquote(str(entry.get("sid", ""))),
                actions=tuple(unquote(str(a)) for a in entry.get("actions", [])),
                resources=tuple(resources),
                conditions=tuple(c for c in conditions if isinstance(c, dict)) if isinstance(conditions, list) else (),
            )
        )
    return grants, unknown


@cache
def resource_types(action: str) -> tuple[str, ...] | None:
    """ARN formats `action` is authorised against (empty: it takes only "*"); None if IAM has no such action."""
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    data = get_action_data(service, name)
    rows = data.get(service, []) if isinstance(data, dict) else []
    if not rows:
        return None
    return tuple(sorted({str(r["resource_arn_format"]) for r in rows if r.get("resource_arn_format") not in ("*", "")}))


def _arn_matches(arn: str, arn_format: str) -> bool:
    from policy_sentry.util.arns import does_arn_match

    if arn.count(":") < 5:
        return False
    try:
        return bool(does_arn_match(arn, arn_format))
    except Exception:  # policy_sentry raises a bare Exception for what is not an ARN
        return False


def _type_name(arn_format: str) -> str:
    """`snapshot` for `arn:${Partition}:ec2:${Region}::snapshot/${SnapshotId}`: the resource's last literal part."""
    literal = [p for p in re.split(r"[/:]", arn_format.split(":", 5)[-1]) if p and "${" not in p]
    return literal[-1] if literal else arn_format


def _allows(grants: Iterable[Grant], action: str, arn_format: str | None) -> bool:
    for grant in grants:
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in grant.actions):
            continue
        if "*" in grant.resources:
            return True
        if arn_format is not None and any(_arn_matches(r, arn_format) for r in grant.resources if r != "*"):
            return True
    return False


def missing_grants(agent: Agent, grants: list[Grant], ops: Iterable[Operation]) -> list[str]:
    """One message per (action, resource type) an operation needs and no grant allows."""
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for op in ops:
        types = resource_types(op.action)
        if types is None:
            problems.append(f"{agent.value}: {op.action} is not an IAM action ({op.where}; registry {REGISTRY})")
            continue
        arn = render(op.resource, env="dev", agent=agent, account=ACCOUNT, region=REGION)
        needed: list[str | None]
        if not types or arn == "*":
            needed = [None]  # a grant on "*"
        else:
            needed = [t for t in types if _arn_matches(arn, t)]
            if not needed:
                problems.append(
                    f"{agent.value}: {op.action} does not act on {op.resource} ({op.where}; registry {REGISTRY})"
                )
                continue
        for arn_format in needed:
            key = (op.action, arn_format or "*")
            if key in seen:
                continue
            seen.add(key)
            if not _allows(grants, op.action, arn_format):
                target = _type_name(arn_format) if arn_format else "*"
                problems.append(
                    f"{agent.value}: the task role lacks {op.action} on {target} ({arn_format or '*'}),"
                    f" which {op.where} needs (registry {REGISTRY})"
                )
    return problems


def declared_needs_missing(agent: Agent, grants: list[Grant]) -> list[str]:
    """Actions an agent's own code declares it needs (incident response: `iam_needs()` of its
    action catalogue, one entry per action and scope-guard read) that no task-policy statement allows."""
    if agent is not Agent.INCIDENT_RESPONSE:
        return []
    try:
        from acso_incident_response.actions.catalog import iam_needs
    except ImportError:
        return []
    problems = []
    for need, actions in sorted(iam_needs().items()):
        for action in actions:
            if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for g in grants for a in g.actions):
                problems.append(
                    f"{agent.value}: the task role lacks {action}, which {need} declares"
                    " (acso_incident_response.actions.catalog.iam_needs)"
                )
    return problems


def rendered_policy(grants: list[Grant]) -> dict[str, Any]:
    """The task policy as IAM would receive it (sample ARNs in place of the module's inputs)."""
    statements = []
    for grant in grants:
        statement: dict[str, Any] = {
            "Sid": grant.sid,
            "Effect": "Allow",
            "Action": list(grant.actions),
            "Resource": list(grant.resources),
        }
        condition: dict[str, dict[str, list[str]]] = {}
        for c in grant.conditions:
            test, variable = unquote(str(c.get("test", ""))), unquote(str(c.get("variable", "")))
            values = [unquote(str(v)) for v in c.get("values", [])]
            condition.setdefault(test, {})[variable] = values
        if condition:
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


# parliament's findings that are not defects here, each with the reason.
PARLIAMENT_ACCEPTED: Mapping[str, str] = {
    # The protected-tag guard (aws:ResourceTag/acso:protected) on actions whose resource type
    # parliament's bundled database lists without tag conditions; IAM ignores a condition key that
    # is absent, and policy_sentry's newer database lists aws:ResourceTag for them.
    "UNKNOWN_CONDITION_FOR_ACTION": "global tag condition keys on newer actions",
}


# Buckets whose policy incident response writes because it created them (the security-logs bucket
# of the trail and Config remediations): parliament's escalation warning is the intent there.
OWN_BUCKET_POLICIES = (r"arn:aws:s3:::acso-\*-security-logs-\*",)


def _granted_per_policy_sentry(grants: list[Grant], detail: Any) -> bool:
    """Whether every action parliament calls mismatched has, in some statement, a resource that
    policy_sentry's (newer) database says it acts on. parliament checks one statement at a time
    and its bundled database predates newer resource types (Bedrock inference profiles, Cost
    Explorer billing views); IAM evaluates the policy as a whole."""
    entries = detail if isinstance(detail, list) else []
    actions = {str(e.get("action")) for e in entries if isinstance(e, dict)}
    if not actions:
        return False
    for action in actions:
        types = resource_types(action)
        if types is None:
            return False
        holders = [g for g in grants if any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in g.actions)]
        resources = [r for g in holders for r in g.resources]
        if "*" in resources and not types:
            continue
        if not any(r == "*" or any(_arn_matches(r, t) for t in types) for r in resources):
            return False
    return True


def lint_policy(policy: dict[str, Any]) -> list[str]:
    """parliament's findings on one policy document, as `ISSUE: detail` lines."""
    from parliament import analyze_policy_string  # type: ignore[import-untyped]

    analyzed = analyze_policy_string(json.dumps(policy), include_community_auditors=False)
    grants = [Grant(str(s["Sid"]), tuple(s["Action"]), tuple(s["Resource"])) for s in policy.get("Statement", [])]
    out = []
    for finding in analyzed.findings:
        if finding.issue in PARLIAMENT_ACCEPTED:
            continue
        if finding.issue == "RESOURCE_MISMATCH" and _granted_per_policy_sentry(grants, finding.detail):
            continue
        if finding.issue == "RESOURCE_POLICY_PRIVILEGE_ESCALATION" and all(
            re.search(pattern, str(finding.detail)) for pattern in OWN_BUCKET_POLICIES
        ):
            continue
        out.append(f"{finding.issue}: {json.dumps(finding.detail, default=str)[:300]}")
    return out


def check_iam(configs: Mapping[Path, Config], root: Path = REPO_ROOT, lint: bool = True) -> list[Finding]:
    """The IAM findings of the security module against the operations registry."""
    security = next((c for p, c in configs.items() if p.name == "security" and p.parent.name == "modules"), None)
    if security is None:
        return [Finding(Check.IAM, "terraform/modules/security", "-", "module missing")]
    where = security.path / security.origin.get("local.agent_statements", "iam.tf")
    rel = str(where.relative_to(root)) if where.is_relative_to(root) else str(where)
    findings: list[Finding] = []
    for agent in Agent:
        grants, unknown = task_grants(security, agent.value)
        for expression in unknown:
            message = (
                f"{agent.value}: task-policy resource {expression} is not evaluable (add its sample to SAMPLE_ARNS)"
            )
            findings.append(Finding(Check.IAM, rel, "local.agent_statements", message))
        for problem in missing_grants(agent, grants, operations(agent)):
            findings.append(Finding(Check.IAM, rel, f"aws_iam_role_policy.task[{agent.value!r}]", problem))
        for problem in declared_needs_missing(agent, grants):
            findings.append(Finding(Check.IAM, rel, f"aws_iam_role_policy.task[{agent.value!r}]", problem))
        if lint:
            for problem in lint_policy(rendered_policy(grants)):
                findings.append(
                    Finding(Check.IAM, rel, f"aws_iam_role_policy.task[{agent.value!r}]", f"parliament: {problem}")
                )
    return findings
