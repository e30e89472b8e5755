"""The built-in CloudTrail rule pack evaluated as a whole (default suppressions on): the scenarios
other specs use fire, benign activity stays silent, hits carry their metadata. Each rule's own
request shapes are specified in test_rules_*.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acso_shared.hunting.compiler import compile_rule
from acso_shared.hunting.models import RuleKind
from acso_shared.hunting.pack import RulePack, builtin_rule_texts, load_builtin_rules
from tests.fixtures.cloudtrail.samples import SCENARIOS, iam_user, record

pytestmark = pytest.mark.unit

RULE_FILES = sorted(builtin_rule_texts())
SCENARIO_FILES = sorted(SCENARIOS)


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return load_builtin_rules()


def _rule_id(file_name: str) -> str:
    return compile_rule(builtin_rule_texts()[file_name]).meta.id


def test_every_builtin_rule_compiles_without_errors(pack: RulePack) -> None:
    assert pack.errors == []
    assert len(pack.rules) == len(RULE_FILES)


def test_every_scenario_names_a_builtin_rule_file() -> None:
    assert set(SCENARIOS) <= set(RULE_FILES)


def test_every_builtin_rule_is_attack_tagged(pack: RulePack) -> None:
    for meta in pack.rules:
        assert meta.techniques, meta.title
        assert meta.tactics, meta.title


@pytest.mark.parametrize("file_name", SCENARIO_FILES)
def test_rule_fires_on_its_attack(pack: RulePack, file_name: str) -> None:
    attack, _ = SCENARIOS[file_name]

    hits = pack.evaluate(attack)

    assert _rule_id(file_name) in {hit.rule_id for hit in hits}


@pytest.mark.parametrize("file_name", SCENARIO_FILES)
def test_rule_stays_silent_on_its_benign_activity(pack: RulePack, file_name: str) -> None:
    _, benign = SCENARIOS[file_name]

    assert pack.evaluate(benign) == []


def test_whole_pack_stays_silent_on_all_benign_activity_together(pack: RulePack) -> None:
    benign = [r for _, records in SCENARIOS.values() for r in records]

    assert pack.evaluate(benign) == []


def test_single_event_hit_carries_rule_metadata_and_the_event(pack: RulePack) -> None:
    attack = SCENARIOS["cloudtrail_logging_stopped.yml"][0][:1]

    [hit] = pack.evaluate(attack)

    assert hit.kind is RuleKind.EVENT
    assert hit.techniques == ("T1562.008",)
    assert "defense_evasion" in hit.tactics
    assert hit.events == attack
    assert hit.event_ids == [attack[0]["eventID"]]


def test_value_count_correlation_fires_once_per_burst_with_its_group(pack: RulePack) -> None:
    reads = SCENARIOS["secrets_manager_mass_read.yml"][0]

    [hit] = [h for h in pack.evaluate(reads) if h.rule_id == _rule_id("secrets_manager_mass_read.yml")]

    assert hit.kind is RuleKind.CORRELATION
    assert hit.group == {"userIdentity.arn": "arn:aws:iam::111122223333:user/frank"}
    assert len(hit.events) == 12
    assert hit.first_seen is not None
    assert hit.last_seen is not None


def test_correlation_base_rules_do_not_alert_on_their_own(pack: RulePack) -> None:
    few_reads = SCENARIOS["secrets_manager_mass_read.yml"][0][:3]

    assert pack.evaluate(few_reads) == []


def test_correlation_groups_principals_separately(pack: RulePack) -> None:
    # two principals with six regions between them, but only three each
    calls = [
        record(
            "ec2.amazonaws.com", "DescribeVpcs", None, identity=iam_user(user), region=region, at=timedelta(seconds=i)
        )
        for i, (user, region) in enumerate(
            [
                ("u1", "us-east-1"),
                ("u2", "us-west-2"),
                ("u1", "eu-west-1"),
                ("u2", "ap-south-1"),
                ("u1", "eu-north-1"),
                ("u2", "sa-east-1"),
            ]
        )
    ]

    assert pack.evaluate(calls) == []


def test_disabled_rule_is_not_evaluated_and_can_be_enabled_again(pack: RulePack) -> None:
    attack = SCENARIOS["organization_left.yml"][0]
    rule_id = _rule_id("organization_left.yml")
    local = RulePack([pack.get(rule_id)])

    local.disable(rule_id)
    assert local.evaluate(attack) == []
    local.enable(rule_id)
    assert [h.rule_id for h in local.evaluate(attack)] == [rule_id]
