"""Sigma YAML to compiled rules: parsing with pySigma, then native Python predicates.

pySigma parses the rule, applies the field modifiers and resolves the condition (`1 of`,
`all of`, `not`, parentheses) into a tree whose leaves are typed field/value tests. This module
turns that tree into closures, merges OR-ed exact strings on one field into one set lookup, and
derives the eventName values a rule can only fire on so the pack can index rules by eventName.
Everything the engine cannot evaluate is collected and reported at once, as `sigma_unsupported`;
everything that is not valid Sigma is reported as `sigma_invalid`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import yaml
from sigma.collection import SigmaCollection
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)
from sigma.exceptions import SigmaError, SigmaRegularExpressionError
from sigma.rule import SigmaRule
from sigma.rule.base import SigmaRuleBase
from sigma.types import SigmaExpansion, SigmaString

from acso_shared.errors import Invalid
from acso_shared.hunting.behaviour import NewBehaviour
from acso_shared.hunting.compiled import EventRule
from acso_shared.hunting.correlation import CorrelationRule, CorrelationType
from acso_shared.hunting.fields import ABSENT, EventView, plain_text
from acso_shared.hunting.models import Level, RuleKind, RuleMeta
from acso_shared.hunting.values import (
    Leaf,
    Predicate,
    RegexRejected,
    UnsupportedValue,
    compile_field_value,
    compile_keyword,
)

CompiledRule = EventRule | CorrelationRule

MAX_RULE_CHARS = 256 * 1024
# Fields a rule is indexed by, most selective first: a rule that requires one of them to equal
# some values is only evaluated on events with those values (see `RulePack`).
INDEX_FIELDS = ("eventName", "eventSource", "errorCode", "userIdentity.type", "eventType")
INDEX_FIELD = INDEX_FIELDS[0]
_TECHNIQUE = re.compile(r"t\d{4}(?:\.\d{3})?")
_NOT_TACTIC = re.compile(r"[gs]\d{4}")  # ATT&CK groups and software share the attack namespace

ConditionNode = ConditionItem | ConditionFieldEqualsValueExpression | ConditionValueExpression


def compile_rule(yaml_text: str) -> CompiledRule:
    """Compile one Sigma rule, or one correlation rule together with the rules it references.

    Raises `Invalid("sigma_invalid", ...)` for malformed YAML or Sigma and
    `Invalid("sigma_unsupported", ...)` for valid Sigma the engine cannot evaluate; the message
    names every problem found.
    """
    documents = _load_documents(yaml_text)
    try:
        collection = SigmaCollection.from_dicts(documents, collect_errors=True)
    except SigmaError as err:
        raise Invalid("sigma_invalid", _sigma_message(err)) from err
    if collection.errors:
        regex = [_regex_problem(e, documents) for e in collection.errors if isinstance(e, SigmaRegularExpressionError)]
        unsupported = [message for valid_python, message in regex if valid_python]
        if unsupported:  # pySigma checks patterns with RE2 already: say which field holds each one
            raise Invalid("sigma_regex_unsupported", "; ".join(dict.fromkeys(unsupported)))
        if regex:
            raise Invalid("sigma_invalid", "; ".join(dict.fromkeys(message for _, message in regex)))
        raise Invalid("sigma_invalid", "; ".join(dict.fromkeys(_sigma_message(e) for e in collection.errors)))
    outputs = list(collection.get_output_rules())
    if len(outputs) != 1:
        titles = ", ".join(repr(r.title) for r in outputs) or "none"
        raise Invalid(
            "sigma_invalid",
            f"expected one rule, or one correlation rule with the rules it references; found {len(outputs)} ({titles})",
        )
    rule = outputs[0]
    if isinstance(rule, SigmaCorrelationRule):
        return _compile_correlation(rule)
    if isinstance(rule, SigmaRule):
        return _compile_event_rule(rule)
    raise Invalid("sigma_unsupported", f"document of type {type(rule).__name__} is not a rule")


def _load_documents(yaml_text: str) -> list[Any]:
    if len(yaml_text) > MAX_RULE_CHARS:
        raise Invalid("sigma_invalid", f"rule text has {len(yaml_text)} characters; the limit is {MAX_RULE_CHARS}")
    try:
        documents = [d for d in yaml.safe_load_all(yaml_text) if d is not None]
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise Invalid("sigma_invalid", f"YAML syntax error{where}: {problem}") from err
    if not documents:
        raise Invalid("sigma_invalid", "the text holds no YAML document")
    for index, document in enumerate(documents, start=1):
        if not isinstance(document, dict):
            raise Invalid(
                "sigma_invalid", f"YAML document {index} is a {type(document).__name__}, expected a Sigma rule mapping"
            )
    return documents


def _sigma_message(err: SigmaError) -> str:
    return str(err).strip() or type(err).__name__


def _regex_problem(err: SigmaRegularExpressionError, documents: list[Any]) -> tuple[bool, str]:
    """pySigma's refusal of a pattern, with the field (`selection.field|re`) that holds it.

    The flag says whether the pattern is valid for Python's `re`, i.e. it uses what RE2 cannot run
    (backreferences, lookaround) rather than being malformed.
    """
    text = _sigma_message(err)
    found = re.search(r"Regular expression '(.*)' is invalid: (.*)$", text, re.DOTALL)
    if found is None:
        return False, text
    pattern, reason = found.group(1), found.group(2).strip()
    reason = reason[2:-1] if reason.startswith(("b'", 'b"')) else reason
    where = ", ".join(_regex_fields(documents, pattern)) or "a |re value"
    try:
        re.compile(pattern)
    except re.error:
        return False, f"{where}: regular expression {pattern!r} is invalid ({reason})"
    return True, (
        f"{where}: regular expression {pattern!r} cannot run under RE2 ({reason}); backreferences and "
        "lookaround are not supported, rewrite it without them"
    )


def _regex_fields(documents: list[Any], pattern: str) -> list[str]:
    names: list[str] = []
    for document in documents:
        detection = document.get("detection")
        if not isinstance(detection, dict):
            continue
        for name, selection in detection.items():
            maps = selection if isinstance(selection, list) else [selection]
            for item in maps:
                if not isinstance(item, dict):
                    continue
                for key, value in item.items():
                    values = value if isinstance(value, list) else [value]
                    if "|re" in str(key) and pattern in [str(v) for v in values]:
                        names.append(f"{name}.{key}")
    return names


def _rule_id(rule: SigmaRuleBase) -> str:
    if rule.id is None:
        raise Invalid("sigma_invalid", f"rule {rule.title!r} has no id: every rule needs a UUID id")
    return str(rule.id)


def _meta(rule: SigmaRuleBase, kind: RuleKind) -> RuleMeta:
    attack = [t.name.lower() for t in rule.tags if t.namespace.lower() == "attack"]
    return RuleMeta(
        id=_rule_id(rule),
        title=rule.title,
        # Sigma makes level optional; an unlevelled rule is treated as a medium one.
        level=Level(str(rule.level)) if rule.level is not None else Level.MEDIUM,
        kind=kind,
        description=rule.description or "",
        status=str(rule.status) if rule.status is not None else None,
        tags=tuple(str(t) for t in rule.tags),
        techniques=tuple(t.upper() for t in attack if _TECHNIQUE.fullmatch(t)),
        tactics=tuple(t for t in attack if not _TECHNIQUE.fullmatch(t) and not _NOT_TACTIC.fullmatch(t)),
        falsepositives=tuple(rule.falsepositives),
    )


def _check_logsource(rule: SigmaRule) -> list[str]:
    source = rule.logsource
    product = (source.product or "").lower()
    service = (source.service or "").lower()
    if product == "aws" and service in ("", "cloudtrail"):
        return []
    return [
        f"logsource product={source.product!r} service={source.service!r} category={source.category!r}: "
        "the engine evaluates AWS CloudTrail records only (product: aws, service: cloudtrail)"
    ]


def _compile_event_rule(rule: SigmaRule) -> EventRule:
    meta = _meta(rule, RuleKind.EVENT)
    problems = _check_logsource(rule)
    predicates: list[Predicate] = []
    trees: list[ConditionNode] = []
    for condition in rule.detection.parsed_condition:
        try:
            tree = condition.parse()
        except SigmaError as err:
            message = f"rule {meta.id} condition {condition.condition!r}: {_sigma_message(err)}"
            raise Invalid("sigma_invalid", message) from err
        if tree is None:
            raise Invalid("sigma_invalid", f"rule {meta.id} condition {condition.condition!r} selects nothing")
        predicates.append(_compile_node(tree, problems).predicate)
        trees.append(tree)
    _raise_problems(f"rule {meta.id}", problems)
    index_field, index_keys = _index_of(trees)
    return EventRule(
        meta=meta,
        name=rule.name,
        predicate=_any(predicates),
        index_keys=index_keys,
        index_field=index_field,
        new_behaviour=NewBehaviour.from_attributes(meta.id, rule.custom_attributes or {}),
    )


def _index_of(trees: Sequence[ConditionNode]) -> tuple[str, frozenset[str] | None]:
    """The first index field whose values every condition requires, and those values."""
    for field in INDEX_FIELDS:
        sets = [_required_values(tree, field) for tree in trees]
        if all(s is not None for s in sets):
            return field, frozenset().union(*(s for s in sets if s is not None))
    return INDEX_FIELD, None


def _compile_node(node: ConditionNode, problems: list[str]) -> Leaf:
    if isinstance(node, ConditionAND):
        return Leaf(_all([_compile_node(a, problems).predicate for a in _args(node)]))
    if isinstance(node, ConditionOR):
        return Leaf(_merge_or([_compile_node(a, problems) for a in _args(node)]))
    if isinstance(node, ConditionNOT):
        inner = _compile_node(_args(node)[0], problems).predicate
        return Leaf(lambda ev: not inner(ev))
    try:
        if isinstance(node, ConditionFieldEqualsValueExpression):
            return compile_field_value(node.field, node.value)
        if isinstance(node, ConditionValueExpression):
            return Leaf(compile_keyword(node.value))
    except RegexRejected as err:
        problems.append(_REGEX_MARK + str(err))
        return Leaf(_never)
    except UnsupportedValue as err:
        problems.append(str(err))
        return Leaf(_never)
    problems.append(f"condition element {type(node).__name__}")
    return Leaf(_never)


_REGEX_MARK = "\x00regex:"  # marks RE2 refusals among the collected problems


def _raise_problems(what: str, problems: list[str]) -> None:
    """`sigma_regex_unsupported` when RE2 refused a pattern (naming field and pattern), else `sigma_unsupported`."""
    if not problems:
        return
    unique = list(dict.fromkeys(problems))
    code = "sigma_regex_unsupported" if any(p.startswith(_REGEX_MARK) for p in unique) else "sigma_unsupported"
    raise Invalid(code, f"{what}: " + "; ".join(p.removeprefix(_REGEX_MARK) for p in unique))


def _args(node: ConditionItem) -> list[ConditionNode]:
    return [a for a in node.args if a is not None]


def _never(ev: EventView) -> bool:
    return False


def _all(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda ev: a(ev) and b(ev)
    if len(preds) == 3:
        a, b, c = preds
        return lambda ev: a(ev) and b(ev) and c(ev)
    fixed = tuple(preds)

    def every(ev: EventView) -> bool:
        for p in fixed:  # noqa: SIM110 - a loop is faster than all()/any() over a generator
            if not p(ev):
                return False
        return True

    return every


def _any(preds: Sequence[Predicate]) -> Predicate:
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda ev: a(ev) or b(ev)
    if len(preds) == 3:
        a, b, c = preds
        return lambda ev: a(ev) or b(ev) or c(ev)
    fixed = tuple(preds)

    def some(ev: EventView) -> bool:
        for p in fixed:  # noqa: SIM110 - a loop is faster than all()/any() over a generator
            if p(ev):
                return True
        return False

    return some


def _merge_or(leaves: list[Leaf]) -> Predicate:
    """OR of leaves, with exact strings on the same field folded into one set lookup."""
    exact: dict[tuple[str, bool], set[str]] = {}
    others: list[Predicate] = []
    for leaf in leaves:
        if leaf.exact is None:
            others.append(leaf.predicate)
        else:
            field, cased, literal = leaf.exact
            exact.setdefault((field, cased), set()).add(literal)
    merged = [_membership(field, cased, frozenset(values)) for (field, cased), values in exact.items()]
    return _any(merged + others)


def _membership(field: str, cased: bool, values: frozenset[str]) -> Predicate:
    getter: Callable[[EventView, str], tuple[str, ...]] = EventView.texts if cased else EventView.lowered
    read = plain_text(field)
    if cased:

        def cased_member(ev: EventView) -> bool:
            text = read(ev.record)
            if text is ABSENT:
                return False
            return text in values if text is not None else not values.isdisjoint(getter(ev, field))

        return cased_member

    def member(ev: EventView) -> bool:
        text = read(ev.record)  # one string, the usual shape: no cache, no tuple
        if text is ABSENT:
            return False
        return text.lower() in values if text is not None else not values.isdisjoint(getter(ev, field))

    return member


def _required_values(node: ConditionNode, field: str) -> frozenset[str] | None:
    """Lower-cased values `field` must equal for the condition to hold, or None if unknown."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if node.field != field:
            return None
        values = node.value.values if isinstance(node.value, SigmaExpansion) else [node.value]
        if all(isinstance(v, SigmaString) and all(isinstance(p, str) for p in v.s) for v in values):
            return frozenset(str(v.to_plain_regex()).lower() for v in values if isinstance(v, SigmaString))
        return None
    if isinstance(node, ConditionAND):
        known = [r for r in (_required_values(a, field) for a in _args(node)) if r is not None]
        return frozenset.intersection(*known) if known else None
    if isinstance(node, ConditionOR):
        found = [_required_values(a, field) for a in _args(node)]
        if any(r is None for r in found):
            return None
        return frozenset().union(*(r for r in found if r is not None))
    return None


_OPERATOR_MINIMUM: dict[SigmaCorrelationConditionOperator, Callable[[float], int]] = {
    SigmaCorrelationConditionOperator.GTE: lambda n: int(-(-n // 1)),  # at least ceil(n)
    SigmaCorrelationConditionOperator.GT: lambda n: int(n // 1) + 1,
}

_TYPES = {
    SigmaCorrelationType.EVENT_COUNT: CorrelationType.EVENT_COUNT,
    SigmaCorrelationType.VALUE_COUNT: CorrelationType.VALUE_COUNT,
    SigmaCorrelationType.TEMPORAL: CorrelationType.TEMPORAL,
}


def _compile_correlation(rule: SigmaCorrelationRule) -> CorrelationRule:
    meta = _meta(rule, RuleKind.CORRELATION)
    problems: list[str] = []
    corr_type = _TYPES.get(rule.type)
    if corr_type is None:
        problems.append(f"correlation type {rule.type}: only event_count, value_count and temporal are evaluated")
    condition = rule.condition
    fieldref: str | None = None
    minimum = 1
    if not isinstance(condition, SigmaCorrelationCondition):
        problems.append("extended (string) correlation conditions")
    else:
        to_minimum = _OPERATOR_MINIMUM.get(condition.op)
        if to_minimum is None:
            problems.append(
                f"correlation condition operator {condition.op.name.lower()}: a batch can only prove "
                "'at least' conditions (gt, gte)"
            )
        else:
            minimum = to_minimum(condition.count)
        if isinstance(condition.fieldref, list):
            problems.append("correlation condition with several field references")
        else:
            fieldref = condition.fieldref
    bases: list[EventRule] = []
    for reference in rule.referenced_rules:
        referenced = reference.rule
        if isinstance(referenced, SigmaCorrelationRule):
            problems.append(f"correlation {reference.reference!r} referenced by a correlation (nesting)")
            continue
        try:
            bases.append(_compile_event_rule(referenced))
        except Invalid as err:
            mark = _REGEX_MARK if err.code == "sigma_regex_unsupported" else ""
            problems.append(f"{mark}referenced rule {reference.reference!r}: {err.message}")
    _raise_problems(f"correlation {meta.id}", problems)
    if corr_type is None:  # always with a problem recorded above
        raise Invalid("sigma_unsupported", f"correlation {meta.id}: unsupported type")
    group_by = tuple(rule.group_by or ())
    group_fields: dict[str, tuple[str, ...]] = {}
    for reference, base in zip(rule.referenced_rules, bases, strict=True):
        group_fields[base.meta.id] = tuple(_aliased(rule, name, reference.reference, base) for name in group_by)
    return CorrelationRule(
        meta=meta,
        name=rule.name,
        type=corr_type,
        base_rules=tuple(bases),
        generate=rule.generate,
        group_by=group_by,
        group_fields=group_fields,
        timespan_s=float(rule.timespan.seconds),
        minimum=minimum,
        value_field=fieldref if corr_type is CorrelationType.VALUE_COUNT else None,
    )


def _aliased(rule: SigmaCorrelationRule, name: str, reference: str, base: EventRule) -> str:
    """The field a group-by name stands for in one base rule's events (Sigma field aliases)."""
    for alias in rule.aliases:
        if alias.alias != name:
            continue
        for ref, field in alias.mapping.items():
            if ref.reference in (reference, base.name, base.meta.id):
                return field
    return name
