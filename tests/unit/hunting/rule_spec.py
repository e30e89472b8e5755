"""Table-driven specs of the built-in rules: each rule file has cases (request shapes that must
fire, benign look-alikes that must not), and each firing shape is also checked as a success and
as a failure against the outcome the rule declares (`outcome: success | failure | both`).

Rules are evaluated alone, with no suppression: the specs test the rule's logic; the default
suppressions have their own spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import yaml

from acso_shared.hunting.compiler import CompiledRule, compile_rule
from acso_shared.hunting.pack import RulePack, builtin_rule_texts
from acso_shared.hunting.suppression import Suppressions
from tests.fixtures.cloudtrail.samples import failed, succeeded


@dataclass(frozen=True)
class Case:
    """Records (one event, or a sequence for a correlation) and whether the rule fires on them."""

    name: str
    records: Sequence[dict[str, Any]]
    fires: bool
    # For firing cases: also check the success and failure variants against the declared outcome.
    variants: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def fires(name: str, *records: dict[str, Any], variants: bool = True) -> Case:
    return Case(name, list(records), True, variants)


def silent(name: str, *records: dict[str, Any]) -> Case:
    return Case(name, list(records), False, False)


@cache
def rule(file_name: str) -> CompiledRule:
    return compile_rule(builtin_rule_texts()[file_name])


@cache
def outcome(file_name: str) -> str:
    """The `outcome` the rule file declares (its last document: the correlation, when there is one)."""
    documents = [d for d in yaml.safe_load_all(builtin_rule_texts()[file_name]) if d]
    return str(documents[-1]["outcome"])


def hits_of(file_name: str, records: Sequence[dict[str, Any]]) -> list[str]:
    pack = RulePack([rule(file_name)], suppressions=Suppressions.none())
    assert pack.errors == []
    return [h.rule_id for h in pack.evaluate(records)]


def check(file_name: str, case: Case) -> None:
    rule_id = rule(file_name).meta.id
    fired = rule_id in hits_of(file_name, case.records)
    assert fired is case.fires, f"{file_name} / {case.name}: expected fires={case.fires}"
    if not (case.fires and case.variants):
        return
    declared = outcome(file_name)
    as_success = [succeeded(r) for r in case.records]
    as_failure = [failed(r) for r in case.records]
    assert (rule_id in hits_of(file_name, as_success)) is (declared in ("success", "both")), (
        f"{file_name} / {case.name}: success variant vs outcome {declared}"
    )
    assert (rule_id in hits_of(file_name, as_failure)) is (declared in ("failure", "both")), (
        f"{file_name} / {case.name}: failure variant vs outcome {declared}"
    )


def params(cases: dict[str, list[Case]]) -> list[tuple[str, Case]]:
    return [(file_name, case) for file_name, items in cases.items() for case in items]


def ids(cases: dict[str, list[Case]]) -> list[str]:
    return [f"{file_name}:{case.name}" for file_name, case in params(cases)]
