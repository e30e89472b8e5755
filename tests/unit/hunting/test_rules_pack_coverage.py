"""The built-in pack as a whole: organised by ATT&CK tactic, every rule documented and specified."""

from __future__ import annotations

from functools import cache

import pytest
import yaml

from acso_shared.hunting.compiler import compile_rule
from acso_shared.hunting.correlation import CorrelationRule
from acso_shared.hunting.pack import builtin_rule_texts
from tests.unit.hunting import (
    test_rules_credential_access,
    test_rules_defense_evasion,
    test_rules_discovery_execution,
    test_rules_exfiltration_persistence,
    test_rules_impact_initial_access,
)

pytestmark = pytest.mark.unit

TABLES = {
    **test_rules_credential_access.CASES,
    **test_rules_defense_evasion.CASES,
    **test_rules_discovery_execution.CASES,
    **test_rules_exfiltration_persistence.CASES,
    **test_rules_impact_initial_access.CASES,
}
FILES = sorted(builtin_rule_texts())


@cache
def _documents(file_name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(builtin_rule_texts()[file_name]) if d]


def test_every_rule_file_has_a_case_table_and_every_table_a_rule_file() -> None:
    assert set(TABLES) == set(FILES)


@pytest.mark.parametrize("file_name", FILES)
def test_every_rule_has_firing_and_benign_cases(file_name: str) -> None:
    cases = TABLES[file_name]
    assert any(c.fires for c in cases), "no request shape that fires"
    assert any(not c.fires for c in cases), "no benign look-alike"


@pytest.mark.parametrize("file_name", FILES)
def test_every_rule_declares_outcome_level_falsepositives_and_attack_tags(file_name: str) -> None:
    compiled = compile_rule(builtin_rule_texts()[file_name])
    alerting = _documents(file_name)[-1]
    assert alerting.get("outcome") in ("success", "failure", "both")
    assert alerting.get("falsepositives"), "the alerting rule names its false positives"
    assert compiled.meta.techniques
    assert compiled.meta.tactics
    for document in _documents(file_name):
        assert document.get("outcome") in ("success", "failure", "both"), document["title"]
    if isinstance(compiled, CorrelationRule):
        for base in compiled.base_rules:
            assert base.meta.techniques, base.meta.title


@pytest.mark.parametrize("file_name", FILES)
def test_no_rule_drops_failed_calls_wholesale(file_name: str) -> None:
    # a rule that ignores denied calls says so with `outcome: success`; none hides it in a filter
    for document in _documents(file_name):
        detection = document.get("detection") or {}
        for name, selection in detection.items():
            if name == "condition" or not isinstance(selection, dict):
                continue
            if set(selection) == {"errorCode|exists"}:
                assert document["outcome"] == "success", (
                    f"{document['title']}: errorCode filter without outcome success"
                )


def test_rule_files_sit_in_the_folder_of_their_first_tactic() -> None:
    from importlib import resources

    root = resources.files("acso_shared.hunting") / "rules"
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            if item.name.endswith(".yml"):
                compiled = compile_rule(item.read_text(encoding="utf-8"))
                assert compiled.meta.tactics[0] == folder.name, item.name
