"""The AWS calls the services' code makes, read from the source, against the operations registry.

A call is `<client>.<method>(...)` (or `<client>.get_paginator("<method>")`) on a variable bound
from `.client("<service>")` or `_client("<service>", ...)` in the same module. Its IAM action is
`<prefix>:<Operation>` (the botocore operation name; the IAM prefix from ACTION_PREFIX), or the one
in ACTION_FOR where IAM names it differently. A call whose action the registry does not list for
that agent (or, in `shared/`, for any agent) is reported: register it with the ARN it targets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from acso_shared.aws.operations import operations
from acso_shared.resources import Agent

# The IAM prefix of a botocore service whose prefix differs from its client name.
ACTION_PREFIX: Mapping[str, str] = {
    "cloudwatch": "cloudwatch",
    "bedrock-runtime": "bedrock",
    "bedrock-agent-runtime": "bedrock",
    "apigatewaymanagementapi": "execute-api",
    "cognito-idp": "cognito-idp",
    "s3control": "s3",
}

# (client, method) whose IAM action is not `<prefix>:<Operation>` (AWS Service Authorization Reference).
ACTION_FOR: Mapping[tuple[str, str], tuple[str, ...]] = {
    ("s3", "get_public_access_block"): ("s3:GetBucketPublicAccessBlock",),
    ("s3", "put_public_access_block"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "delete_public_access_block"): ("s3:PutBucketPublicAccessBlock",),
    ("s3", "put_bucket_encryption"): ("s3:PutEncryptionConfiguration",),
    ("s3", "get_bucket_encryption"): ("s3:GetEncryptionConfiguration",),
    ("s3", "list_objects_v2"): ("s3:ListBucket",),
    ("s3", "list_objects"): ("s3:ListBucket",),
    ("s3", "head_object"): ("s3:GetObject",),
    ("s3", "copy_object"): ("s3:GetObject", "s3:PutObject"),
    ("s3", "delete_objects"): ("s3:DeleteObject",),
    ("s3", "get_object_tagging"): ("s3:GetObjectTagging",),
    ("s3", "put_object_tagging"): ("s3:PutObjectTagging",),
    ("sqs", "send_message_batch"): ("sqs:SendMessage",),
    ("sqs", "delete_message_batch"): ("sqs:DeleteMessage",),
    ("sqs", "change_message_visibility_batch"): ("sqs:ChangeMessageVisibility",),
    ("bedrock-runtime", "converse"): ("bedrock:InvokeModel",),
    ("bedrock-runtime", "converse_stream"): ("bedrock:InvokeModelWithResponseStream",),
    ("apigatewaymanagementapi", "post_to_connection"): ("execute-api:ManageConnections",),
    ("s3control", "get_public_access_block"): ("s3:GetAccountPublicAccessBlock",),
    ("s3control", "put_public_access_block"): ("s3:PutAccountPublicAccessBlock",),
}

# Cognito's user-facing calls are unauthenticated: no IAM action is checked.
UNAUTHENTICATED = frozenset(
    {
        "cognito-idp:InitiateAuth",
        "cognito-idp:RespondToAuthChallenge",
        "cognito-idp:GetUser",
        "cognito-idp:GlobalSignOut",
    }
)

# Client methods that are not AWS operations.
NOT_OPERATIONS = frozenset({"get_paginator", "get_waiter", "can_paginate", "close", "meta", "exceptions"})

# Code that does not run in AWS with a task role: the local stack and provisioning against the emulator.
EXCLUDED = ("shared/acso_shared/local/", "shared/acso_shared/provision.py", "shared/acso_shared/cli.py")

_BIND = re.compile(r"\b(\w+)\s*=\s*(?:await\s+)?[\w.()\[\]]*?\.?client\(\s*\"([a-z0-9-]+)\"")
_WITH = re.compile(r"_client\(\s*\"([a-z0-9-]+)\"[^)]*\)\s+as\s+(\w+)")


@dataclass(frozen=True)
class Call:
    """One AWS call in the code."""

    file: str
    line: int
    service: str
    method: str

    @property
    def actions(self) -> tuple[str, ...]:
        mapped = ACTION_FOR.get((self.service, self.method))
        if mapped is not None:
            return mapped
        prefix = ACTION_PREFIX.get(self.service, self.service)
        operation = operation_names(self.service).get(self.method)
        if operation is None:
            return ()  # not an operation of this client (a helper method, or a wrapper's own)
        return (f"{prefix}:{operation}",)


@cache
def operation_names(service: str) -> dict[str, str]:
    """botocore's operation names of `service` by their Python method name (`list_ip_sets` -> `ListIPSets`)."""
    import botocore.session
    from botocore import xform_name

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:  # an unknown service name: nothing to map
        return {}
    return {xform_name(name): name for name in model.operation_names}


_DEF = re.compile(r"^\s*(?:async\s+)?def\s")


def _functions(lines: list[str]) -> list[list[tuple[int, str]]]:
    """The module's lines cut at each `def` (a name bound in one function is that function's)."""
    parts: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(lines, start=1):
        if _DEF.match(line):
            parts.append([])
        parts[-1].append((number, line))
    return parts


def _bindings(text: str) -> dict[str, str]:
    clients = {m.group(1): m.group(2) for m in _BIND.finditer(text)}
    clients.update({m.group(2): m.group(1) for m in _WITH.finditer(text)})
    return clients


def calls_in(path: Path, root: Path) -> list[Call]:
    """The AWS calls of one Python module."""
    text = path.read_text()
    if "client(" not in text:
        return []
    rel = str(path.relative_to(root))
    # Attributes (`self._client = ...`) hold for the whole module; plain names for their function.
    module_wide = {k: v for k, v in _bindings(text).items() if k.startswith("_")}
    found = []
    for part in _functions(text.splitlines()):
        clients = {**module_wide, **_bindings("\n".join(line for _, line in part))}
        for number, line in part:
            found += _line_calls(rel, number, line, clients)
    return found


def _line_calls(rel: str, number: int, line: str, clients: Mapping[str, str]) -> list[Call]:
    found = []
    for name, service in clients.items():
        for method in re.findall(rf"\b{re.escape(name)}\.([a-z][a-z0-9_]*)\(", line):
            if method not in NOT_OPERATIONS:
                found.append(Call(rel, number, service, method))
        for method in re.findall(rf"\b{re.escape(name)}\.get_paginator\(\s*\"([a-z0-9_]+)\"", line):
            found.append(Call(rel, number, service, method))
    return found


def code_calls(root: Path) -> dict[Agent | None, list[Call]]:
    """Calls by agent (None: the shared library, which any agent may run)."""
    by_agent: dict[Agent | None, list[Call]] = {}
    for agent in Agent:
        package = root / "services" / agent.value / f"acso_{agent.value}"
        by_agent[agent] = [c for p in sorted(package.rglob("*.py")) for c in calls_in(p, root)]
    shared = root / "shared" / "acso_shared"
    by_agent[None] = [
        c
        for p in sorted(shared.rglob("*.py"))
        if not str(p.relative_to(root)).startswith(EXCLUDED)
        for c in calls_in(p, root)
    ]
    return by_agent


def unregistered(root: Path) -> list[str]:
    """One message per call whose IAM action the registry does not list."""
    registered = {agent: {op.action for op in operations(agent)} for agent in Agent}
    anywhere = set().union(*registered.values())
    problems = []
    for agent, calls in code_calls(root).items():
        known: Iterable[str] = registered[agent] if agent is not None else anywhere
        for call in calls:
            for action in call.actions:
                if action not in known and action not in UNAUTHENTICATED:
                    who = agent.value if agent is not None else "the shared library"
                    problems.append(
                        f"{call.file}:{call.line}: {who} calls {call.service}.{call.method} ({action}),"
                        " which the operations registry does not list: add it with the ARN it targets"
                    )
    return problems
