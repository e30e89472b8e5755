"""Suppressions: matches that are known noise, dropped before they become hits.

A suppression names who or what is expected to make a call, and optionally which rules it
silences (none named: every rule). It applies to an event when every criterion it sets matches
(any of a criterion's patterns):

- `principal_arn`: glob patterns (`*`, `?`, case-insensitive) on `userIdentity.arn` and on the
  role behind a session (`userIdentity.sessionContext.sessionIssuer.arn`);
- `user_agent`: glob patterns on `userAgent`;
- `source_ip`: CIDR blocks, or exact values such as `cloudformation.amazonaws.com`, on
  `sourceIPAddress`;
- `account`: account ids, on `recipientAccountId` and `userIdentity.accountId`;
- `identity_type`: `userIdentity.type` values (e.g. `AWSService`);
- `invoked_by`: glob patterns on `userIdentity.invokedBy` (the AWS service that called on the
  principal's behalf).

For a correlation rule a suppression that names the correlation or its base rule removes the
event from the count, so a Terraform refresh reading forty secrets never makes a burst.

`DEFAULT_SUPPRESSIONS` are on unless a pack is given others; each says why it exists. They trade
a blind spot for precision: a user agent is chosen by the caller, so an attacker who spoofs
Terraform's is suppressed too. Drop a default (`Suppressions.defaults(without=[...])`) where that
matters more than the noise.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from fnmatch import translate
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from acso_shared.errors import Invalid

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _glob(patterns: Iterable[str]) -> re.Pattern[str] | None:
    parts = [translate(p.lower()) for p in patterns]
    return re.compile("|".join(f"(?:{p})" for p in parts)) if parts else None


def _get(record: Mapping[str, Any], *path: str) -> Any:
    node: Any = record
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _texts(*values: Any) -> list[str]:
    return [v.lower() for v in values if isinstance(v, str) and v]


class Suppression(BaseModel):
    """One suppression: criteria (all must match) and the rules it silences (empty: all)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128, description="Stable name, e.g. terraform")
    reason: str = Field(min_length=1, description="Why these events are expected")
    rules: tuple[str, ...] = Field(default=(), description="Rule ids it silences; empty means every rule")
    principal_arn: tuple[str, ...] = ()
    user_agent: tuple[str, ...] = ()
    source_ip: tuple[str, ...] = ()
    account: tuple[str, ...] = ()
    identity_type: tuple[str, ...] = ()
    invoked_by: tuple[str, ...] = ()

    @property
    def criteria(self) -> int:
        """How many criteria are set; a suppression without any would silence everything."""
        return sum(
            bool(v)
            for v in (
                self.principal_arn,
                self.user_agent,
                self.source_ip,
                self.account,
                self.identity_type,
                self.invoked_by,
            )
        )

    @cached_property
    def _principal(self) -> re.Pattern[str] | None:
        return _glob(self.principal_arn)

    @cached_property
    def _agent(self) -> re.Pattern[str] | None:
        return _glob(self.user_agent)

    @cached_property
    def _invoker(self) -> re.Pattern[str] | None:
        return _glob(self.invoked_by)

    @cached_property
    def _sources(self) -> tuple[tuple[_Network, ...], frozenset[str]]:
        networks: list[_Network] = []
        names: set[str] = set()
        for value in self.source_ip:
            try:
                networks.append(ipaddress.ip_network(value, strict=False))
            except ValueError:
                names.add(value.lower())
        return tuple(networks), frozenset(names)

    def applies_to(self, record: Mapping[str, Any]) -> bool:
        """Whether the event is one this suppression expects."""
        identity = record.get("userIdentity")
        identity = identity if isinstance(identity, Mapping) else {}
        if self._principal is not None:
            arns = _texts(identity.get("arn"), _get(identity, "sessionContext", "sessionIssuer", "arn"))
            if not any(self._principal.fullmatch(a) for a in arns):
                return False
        if self._agent is not None and not any(self._agent.fullmatch(a) for a in _texts(record.get("userAgent"))):
            return False
        invokers = _texts(identity.get("invokedBy"))
        if self._invoker is not None and not any(self._invoker.fullmatch(a) for a in invokers):
            return False
        if self.identity_type and identity.get("type") not in self.identity_type:
            return False
        if self.account and not {record.get("recipientAccountId"), identity.get("accountId")} & set(self.account):
            return False
        return not self.source_ip or self._source_matches(record.get("sourceIPAddress"))

    def _source_matches(self, source: Any) -> bool:
        if not isinstance(source, str):
            return False
        networks, names = self._sources
        if source.lower() in names:
            return True
        try:
            address = ipaddress.ip_address(source)
        except ValueError:
            return False
        return any(address in network for network in networks)


class Suppressions:
    """An ordered set of suppressions, checked for a rule and an event."""

    def __init__(self, items: Iterable[Suppression] = ()) -> None:
        self.items: tuple[Suppression, ...] = tuple(items)
        seen: set[str] = set()
        for item in self.items:
            if item.id in seen:
                raise Invalid("suppression_duplicate", f"two suppressions are named {item.id}")
            if item.criteria == 0:
                raise Invalid(
                    "suppression_unbounded", f"suppression {item.id} sets no criterion and would silence every event"
                )
            seen.add(item.id)
        self._global = tuple(i for i in self.items if not i.rules)
        self._by_rule: dict[str, tuple[Suppression, ...]] = {}
        for item in self.items:
            for rule_id in item.rules:
                self._by_rule[rule_id] = (*self._by_rule.get(rule_id, ()), item)

    @classmethod
    def none(cls) -> Suppressions:
        """No suppression at all: every match is a hit."""
        return cls()

    @classmethod
    def defaults(cls, *, without: Iterable[str] = (), extra: Iterable[Suppression] = ()) -> Suppressions:
        """The documented defaults, less the ids in `without`, plus `extra`."""
        dropped = set(without)
        unknown = dropped - {d.id for d in DEFAULT_SUPPRESSIONS}
        if unknown:
            raise Invalid("suppression_unknown", f"no default suppression named {', '.join(sorted(unknown))}")
        return cls([*(d for d in DEFAULT_SUPPRESSIONS if d.id not in dropped), *extra])

    @classmethod
    def from_documents(cls, documents: Iterable[Mapping[str, Any]], *, defaults: bool = True) -> Suppressions:
        """Suppressions from JSON/YAML mappings; `Invalid("suppression_invalid")` names what is wrong."""
        parsed: list[Suppression] = []
        for index, document in enumerate(documents):
            try:
                parsed.append(Suppression.model_validate(document))
            except ValueError as err:
                raise Invalid("suppression_invalid", f"suppression {index}: {err}") from err
        return cls.defaults(extra=parsed) if defaults else cls(parsed)

    @classmethod
    def from_file(cls, path: Path | None, *, defaults: bool = True) -> Suppressions:
        """Suppressions from a YAML or JSON file (a list, or `{"suppressions": [...]}`), plus the
        defaults unless `defaults` is false; no file: the defaults alone (or none)."""
        if path is None:
            return cls.defaults() if defaults else cls.none()
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise Invalid("suppression_invalid", f"suppressions file {path}: {err}") from err
        items = loaded.get("suppressions") if isinstance(loaded, Mapping) else loaded
        if items is None:
            items = []
        if not isinstance(items, list) or not all(isinstance(i, Mapping) for i in items):
            raise Invalid("suppression_invalid", f"suppressions file {path}: expected a list of suppressions")
        return cls.from_documents(items, defaults=defaults)

    def __len__(self) -> int:
        return len(self.items)

    def matching(self, rule_ids: Iterable[str], record: Mapping[str, Any]) -> Suppression | None:
        """The first suppression that silences any of these rule ids on the event, if any."""
        for item in self._global:
            if item.applies_to(record):
                return item
        for rule_id in rule_ids:
            for item in self._by_rule.get(rule_id, ()):
                if item.applies_to(record):
                    return item
        return None

    def suppresses(self, rule_ids: Iterable[str], record: Mapping[str, Any]) -> bool:
        """Whether a match of one of these rules on the event is expected noise."""
        return self.matching(rule_ids, record) is not None


DEFAULT_SUPPRESSIONS: tuple[Suppression, ...] = (
    Suppression(
        id="aws-service-principal",
        reason="AWS services acting with their own identity (userIdentity.type AWSService)",
        identity_type=("AWSService",),
    ),
    Suppression(
        id="aws-service-on-behalf",
        reason=(
            "calls an AWS service made on a principal's behalf (userIdentity.invokedBy: CloudFormation, "
            "State Manager, Backup, AWS Internal...); the principal's own calls are still checked"
        ),
        invoked_by=("*",),
    ),
    Suppression(
        id="aws-service-linked-roles",
        reason="service-linked roles, which only AWS services can assume",
        principal_arn=(
            "arn:aws*:sts::*:assumed-role/AWSServiceRoleFor*",
            "arn:aws*:iam::*:role/aws-service-role/*",
        ),
    ),
    Suppression(
        id="terraform",
        reason="Terraform's AWS provider (user agent 'APN/1.0 HashiCorp/1.0 Terraform/<version>')",
        user_agent=("*terraform/*", "*hashicorp/*", "*terraform-provider-aws*"),
    ),
    Suppression(
        id="cloudformation",
        reason="CloudFormation provisioning stacks (user agent and source cloudformation.amazonaws.com)",
        user_agent=("cloudformation.amazonaws.com", "*cloudformation.amazonaws.com*"),
    ),
    Suppression(
        id="cdk",
        reason="the AWS CDK CLI and the roles its bootstrap stack creates (cdk-<qualifier>-*-role-*)",
        user_agent=("*aws-cdk/*",),
    ),
    Suppression(
        id="cdk-roles",
        reason="the CDK bootstrap roles (deploy, CloudFormation execution, file and image publishing, lookup)",
        principal_arn=(
            "arn:aws*:sts::*:assumed-role/cdk-*-cfn-exec-role-*",
            "arn:aws*:sts::*:assumed-role/cdk-*-deploy-role-*",
            "arn:aws*:sts::*:assumed-role/cdk-*-file-publishing-role-*",
            "arn:aws*:sts::*:assumed-role/cdk-*-image-publishing-role-*",
            "arn:aws*:sts::*:assumed-role/cdk-*-lookup-role-*",
        ),
    ),
    Suppression(
        id="pulumi",
        reason="Pulumi's AWS providers (user agent names pulumi)",
        user_agent=("*pulumi*",),
    ),
    Suppression(
        id="sam-and-serverless",
        reason="AWS SAM CLI and Serverless Framework deployments",
        user_agent=("*aws-sam-cli*", "*serverless/*"),
    ),
    Suppression(
        id="stacksets-execution-role",
        reason="the StackSets execution role CloudFormation assumes in member accounts",
        principal_arn=("arn:aws*:sts::*:assumed-role/AWSCloudFormationStackSetExecutionRole/*",),
    ),
    Suppression(
        id="github-actions-deploy",
        reason=(
            "CI deployments from GitHub Actions (aws-actions/configure-aws-credentials names the session GitHubActions)"
        ),
        principal_arn=("arn:aws*:sts::*:assumed-role/*/GitHubActions",),
    ),
    Suppression(
        id="codebuild-deploy",
        reason="CodeBuild projects (CodeBuild names the session of a build's service role AWSCodeBuild-<build id>)",
        principal_arn=("arn:aws*:sts::*:assumed-role/*/AWSCodeBuild-*",),
    ),
)
