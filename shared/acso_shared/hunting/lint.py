"""Rule lint: what a Sigma rule says that CloudTrail records can never satisfy.

The field names are checked against the CloudTrail record format as AWS documents it ("CloudTrail
record contents for management, data, and network activity events" and "CloudTrail userIdentity
element" in the AWS CloudTrail User Guide). Findings:

- `field_unknown` (warning): the field is not in the record format (a typo, or another log's
  field name such as `eventType` spelt `event_type`). Nested objects whose keys depend on the API
  (`requestParameters.*`, `responseElements.*`, `additionalEventData.*`, `serviceEventDetails.*`)
  are not checked below their top level.
- `field_is_object` (error): a field that holds an object (`requestParameters`, `userIdentity`,
  `userIdentity.sessionContext`...) compared with a scalar: it never matches.
- `value_impossible` (error): a value the field never takes: an `eventSource` that does not end
  in `amazonaws.com`, a `readOnly` or `managementEvent` that is neither true nor false; (warning)
  an `eventType`, `userIdentity.type` or `eventCategory` outside the documented values.
- `condition_unsatisfiable` (error): the condition needs one field to equal two different values
  at once (`eventName: A` and `eventName: B` under one `and`).
- `condition_unanchored` (warning): the whole condition is a `not ...`: it fires on nearly
  every event.

Lint never changes what the engine does: a rule with findings still compiles and runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaExists,
    SigmaExpansion,
    SigmaNull,
    SigmaNumber,
    SigmaString,
    SigmaType,
)

# Top-level fields of a CloudTrail record; True: an object whose keys this lint checks below,
# None: an object whose keys depend on the API or service (not checked below), False: a scalar.
TOP_LEVEL: dict[str, bool | None] = {
    "eventVersion": False,
    "userIdentity": True,
    "eventTime": False,
    "eventSource": False,
    "eventName": False,
    "awsRegion": False,
    "sourceIPAddress": False,
    "userAgent": False,
    "errorCode": False,
    "errorMessage": False,
    "requestParameters": None,
    "responseElements": None,
    "additionalEventData": None,
    "requestID": False,
    "eventID": False,
    "readOnly": False,
    "resources": True,
    "eventType": False,
    "apiVersion": False,
    "managementEvent": False,
    "recipientAccountId": False,
    "serviceEventDetails": None,
    "sharedEventID": False,
    "vpcEndpointId": False,
    "vpcEndpointAccountId": False,
    "eventCategory": False,
    "addendum": True,
    "sessionCredentialFromConsole": False,
    "edgeDeviceDetails": None,
    "tlsDetails": True,
    "insightDetails": None,
}
# Known nested paths (objects end with "."): userIdentity, resources, addendum and tlsDetails.
NESTED = frozenset(
    {
        "userIdentity.type",
        "userIdentity.principalId",
        "userIdentity.arn",
        "userIdentity.accountId",
        "userIdentity.accessKeyId",
        "userIdentity.userName",
        "userIdentity.invokedBy",
        "userIdentity.identityProvider",
        "userIdentity.credentialId",
        "userIdentity.userId",
        "userIdentity.sessionContext.",
        "userIdentity.sessionContext.attributes.",
        "userIdentity.sessionContext.attributes.creationDate",
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        "userIdentity.sessionContext.sessionIssuer.",
        "userIdentity.sessionContext.sessionIssuer.type",
        "userIdentity.sessionContext.sessionIssuer.principalId",
        "userIdentity.sessionContext.sessionIssuer.arn",
        "userIdentity.sessionContext.sessionIssuer.accountId",
        "userIdentity.sessionContext.sessionIssuer.userName",
        "userIdentity.sessionContext.webIdFederationData.",
        "userIdentity.sessionContext.webIdFederationData.federatedProvider",
        "userIdentity.sessionContext.webIdFederationData.attributes.",
        "userIdentity.sessionContext.sourceIdentity",
        "userIdentity.sessionContext.ec2RoleDelivery",
        "userIdentity.sessionContext.assumedRoot",
        "userIdentity.onBehalfOf.",
        "userIdentity.onBehalfOf.userId",
        "userIdentity.onBehalfOf.identityStoreArn",
        "userIdentity.inScopeOf.",
        "userIdentity.inScopeOf.sourceArn",
        "userIdentity.inScopeOf.sourceAccount",
        "userIdentity.inScopeOf.issuerType",
        "userIdentity.inScopeOf.credentialsIssuedTo",
        "resources.ARN",
        "resources.accountId",
        "resources.type",
        "addendum.reason",
        "addendum.updatedFields",
        "addendum.originalRequestID",
        "addendum.originalEventID",
        "tlsDetails.tlsVersion",
        "tlsDetails.cipherSuite",
        "tlsDetails.clientProvidedHostHeader",
    }
)
_OPEN_BELOW = ("userIdentity.sessionContext.webIdFederationData.attributes.",)
EVENT_TYPES = frozenset(
    {"awsapicall", "awsserviceevent", "awsconsoleaction", "awsconsolesignin", "awscloudtrailinsight", "awsvpceevent"}
)
IDENTITY_TYPES = frozenset(
    {
        "root",
        "iamuser",
        "assumedrole",
        "role",
        "federateduser",
        "directory",
        "awsaccount",
        "awsservice",
        "identitycenteruser",
        "unknown",
        "samluser",
        "webidentityuser",
    }
)
EVENT_CATEGORIES = frozenset({"management", "data", "networkactivity", "insight"})
_BOOLEAN_FIELDS = ("readOnly", "managementEvent", "sessionCredentialFromConsole")


class Severity(StrEnum):
    """An error means the rule (or one of its conditions) can never match."""

    ERROR = "error"
    WARNING = "warning"


class LintFinding(BaseModel):
    """One problem lint found in a rule."""

    severity: Severity
    code: str
    message: str
    field: str | None = None
    rule_id: str | None = None


def object_field(field: str) -> bool:
    """Whether the field holds an object in a CloudTrail record (never equal to a scalar)."""
    if field in TOP_LEVEL:
        return TOP_LEVEL[field] is not False
    return f"{field}." in NESTED


def known_field(field: str) -> bool:
    """Whether the dotted field exists in the documented record format."""
    top, _, rest = field.partition(".")
    if top not in TOP_LEVEL:
        return False
    below = TOP_LEVEL[top]
    if not rest or below is None:
        return True
    if below is False:
        return False
    if field in NESTED or f"{field}." in NESTED:
        return True
    return any(field.startswith(prefix) for prefix in _OPEN_BELOW)


def lint_text(yaml_text: str) -> list[LintFinding]:
    """Lint every rule in a Sigma YAML text; text that does not parse yields no findings
    (compiling it reports why)."""
    try:
        documents = [d for d in yaml.safe_load_all(yaml_text) if isinstance(d, dict)]
        collection = SigmaCollection.from_dicts(documents, collect_errors=True)
    except (yaml.YAMLError, SigmaError):
        return []
    findings: list[LintFinding] = []
    for rule in collection.rules:
        if isinstance(rule, SigmaRule):
            findings.extend(lint_rule(rule))
    return findings


def lint_rule(rule: SigmaRule) -> list[LintFinding]:
    """Lint one parsed Sigma rule."""
    rule_id = str(rule.id) if rule.id is not None else None
    findings: list[LintFinding] = []
    seen: set[tuple[str, str, str | None]] = set()

    def add(severity: Severity, code: str, message: str, field: str | None = None) -> None:
        if (code, message, field) not in seen:
            seen.add((code, message, field))
            findings.append(LintFinding(severity=severity, code=code, message=message, field=field, rule_id=rule_id))

    for condition in rule.detection.parsed_condition:
        try:
            tree = condition.parse()
        except SigmaError:
            continue
        if tree is None:
            continue
        if isinstance(tree, ConditionNOT):
            add(
                Severity.WARNING,
                "condition_unanchored",
                f"condition {condition.condition!r} is only a negation: it fires on nearly every event",
            )
        for leaf in _leaves(tree):
            _lint_leaf(leaf, add)
        _required(tree, add, condition.condition)  # reports contradictions where it finds them
    return findings


def _leaves(node: Any) -> Iterator[ConditionFieldEqualsValueExpression]:
    if isinstance(node, ConditionFieldEqualsValueExpression):
        yield node
    elif isinstance(node, ConditionItem):
        for arg in node.args:
            yield from _leaves(arg)


def _lint_leaf(leaf: ConditionFieldEqualsValueExpression, add: Any) -> None:
    field = leaf.field
    values = leaf.value.values if isinstance(leaf.value, SigmaExpansion) else [leaf.value]
    if not known_field(field):
        add(
            Severity.WARNING,
            "field_unknown",
            f"field {field!r} is not in the CloudTrail record format: it is never present",
            field,
        )
    scalar = [v for v in values if isinstance(v, SigmaString | SigmaNumber | SigmaBool)]
    if object_field(field) and scalar:
        add(
            Severity.ERROR,
            "field_is_object",
            f"field {field!r} holds an object in CloudTrail records; comparing it with "
            f"{_plain(scalar[0])!r} never matches (name a field inside it, e.g. {field}.<key>)",
            field,
        )
    for value in values:
        _lint_value(field, value, add)


def _lint_value(field: str, value: SigmaType, add: Any) -> None:
    if isinstance(value, SigmaExists | SigmaNull):
        return
    plain = _exact(value)
    if field == "eventSource" and plain is not None and not plain.endswith("amazonaws.com"):
        add(
            Severity.ERROR,
            "value_impossible",
            f"eventSource {plain!r} never occurs: event sources are service endpoints ending in amazonaws.com",
            field,
        )
    if field in _BOOLEAN_FIELDS and plain is not None and plain not in ("true", "false"):
        add(Severity.ERROR, "value_impossible", f"{field} is true or false, never {plain!r}", field)
    for name, allowed in (
        ("eventType", EVENT_TYPES),
        ("userIdentity.type", IDENTITY_TYPES),
        ("eventCategory", EVENT_CATEGORIES),
    ):
        if field == name and plain is not None and plain not in allowed:
            add(Severity.WARNING, "value_impossible", f"{field} {plain!r} is not a documented value", field)


def _plain(value: SigmaType) -> str:
    if isinstance(value, SigmaString):
        return str(value)
    if isinstance(value, SigmaNumber):
        return str(value.number)
    if isinstance(value, SigmaBool):
        return str(value.boolean).lower()
    return str(value)


def _exact(value: SigmaType) -> str | None:
    """The lower-cased literal of a wildcard-free string (or a boolean), else None."""
    if isinstance(value, SigmaBool):
        return str(value.boolean).lower()
    if isinstance(value, SigmaString) and all(isinstance(p, str) for p in value.s):
        return "".join(p for p in value.s if isinstance(p, str)).lower()
    return None


_IMPOSSIBLE: dict[str, frozenset[str]] = {}  # sentinel: a node that can never hold
Required = dict[str, frozenset[str]]


def _required(node: Any, add: Any, condition: str) -> Required:
    """Exact values each field must take for the node to hold; contradictions are reported."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        alternatives = node.value.values if isinstance(node.value, SigmaExpansion) else [node.value]
        exact = [_exact(v) for v in alternatives]
        if exact and all(e is not None for e in exact):
            return {node.field: frozenset(e for e in exact if e is not None)}
        return {}
    if isinstance(node, ConditionAND):
        merged: Required = {}
        for arg in node.args:
            part = _required(arg, add, condition)
            if part is _IMPOSSIBLE:
                return _IMPOSSIBLE
            for field, values in part.items():
                if field in merged:
                    both = merged[field] & values
                    if not both:
                        add(
                            Severity.ERROR,
                            "condition_unsatisfiable",
                            f"condition {condition!r} needs {field} to be one of {sorted(merged[field])} "
                            f"and one of {sorted(values)} at once: it never holds",
                            field,
                        )
                        return _IMPOSSIBLE
                    merged[field] = both
                else:
                    merged[field] = values
        return merged
    if isinstance(node, ConditionOR):
        parts = [_required(arg, add, condition) for arg in node.args]
        possible = [p for p in parts if p is not _IMPOSSIBLE]
        if not possible:
            return _IMPOSSIBLE
        common = set.intersection(*(set(p) for p in possible))
        return {f: frozenset().union(*(p[f] for p in possible)) for f in common}
    if isinstance(node, ConditionNOT | ConditionValueExpression):
        return {}
    return {}
