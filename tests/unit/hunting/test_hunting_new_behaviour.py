"""New-behaviour rules: a hit the first time a key (principal and API, principal and region) is seen."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from acso_shared.errors import Invalid
from acso_shared.hunting.behaviour import MemoryBaseline, filter_new_behaviour
from acso_shared.hunting.compiled import EventRule
from acso_shared.hunting.compiler import compile_rule
from acso_shared.hunting.models import Hit
from acso_shared.hunting.pack import RulePack

pytestmark = pytest.mark.unit

RULE = """title: First Region Of A Principal
id: 2c9d7e1f-3a4b-4c5d-8e6f-7a8b9c0d1e2f
logsource: {product: aws, service: cloudtrail}
detection:
  selection: {eventSource: ec2.amazonaws.com}
  condition: selection
acso:
  new_behaviour:
    key: [userIdentity.arn, awsRegion]
    within_days: %s
level: medium
"""


def call(arn: str | None, region: str, day: int, event_id: str) -> dict[str, Any]:
    identity = {"type": "IAMUser", "arn": arn} if arn else {"type": "IAMUser"}
    return {
        "eventSource": "ec2.amazonaws.com",
        "eventName": "RunInstances",
        "userIdentity": identity,
        "awsRegion": region,
        "eventTime": f"2026-11-{day:02d}T10:00:00Z",
        "eventID": event_id,
    }


def hunt(pack: RulePack, baseline: MemoryBaseline, events: list[dict[str, Any]]) -> list[Hit]:
    return asyncio.run(filter_new_behaviour(pack.evaluate(events), pack.behaviours, baseline))


def test_the_first_call_of_a_key_fires_and_repeats_do_not() -> None:
    pack = RulePack([compile_rule(RULE % 30)])
    baseline = MemoryBaseline()
    alice = "arn:aws:iam::111122223333:user/alice"
    first = hunt(pack, baseline, [call(alice, "us-east-1", 1, "a"), call(alice, "us-east-1", 2, "b")])
    later = hunt(pack, baseline, [call(alice, "us-east-1", 3, "c"), call(alice, "ap-south-1", 3, "d")])
    assert [h.event_ids for h in first] == [["a"]]
    assert [h.event_ids for h in later] == [["d"]]


def test_a_key_unseen_for_longer_than_the_window_is_new_again() -> None:
    pack = RulePack([compile_rule(RULE % 7)])
    baseline = MemoryBaseline()
    bob = "arn:aws:iam::111122223333:user/bob"
    hits = hunt(
        pack,
        baseline,
        [call(bob, "eu-west-1", 1, "a"), call(bob, "eu-west-1", 5, "b"), call(bob, "eu-west-1", 20, "c")],
    )
    assert [h.event_ids for h in hits] == [["a"], ["c"]]


def test_an_event_without_a_key_field_never_fires() -> None:
    pack = RulePack([compile_rule(RULE % 30)])
    assert hunt(pack, MemoryBaseline(), [call(None, "us-east-1", 1, "a")]) == []


def test_other_rules_are_left_alone() -> None:
    plain = RULE.replace("2c9d7e1f-3a4b-4c5d-8e6f-7a8b9c0d1e2f", "3d0e8f2a-4b5c-4d6e-9f70-8b9c0d1e2f3a").split("acso:")[
        0
    ]
    pack = RulePack([compile_rule(plain + "level: low\n")])
    events = [call("arn:x", "us-east-1", 1, "a"), call("arn:x", "us-east-1", 2, "b")]
    assert len(hunt(pack, MemoryBaseline(), events)) == 2


def test_the_section_is_compiled_onto_the_rule() -> None:
    rule = compile_rule(RULE % 30)
    assert isinstance(rule, EventRule)
    assert rule.new_behaviour is not None
    assert rule.new_behaviour.key == ("userIdentity.arn", "awsRegion")


@pytest.mark.parametrize(
    "section",
    ["acso: {other: 1}", "acso: {new_behaviour: {key: []}}", "acso: {new_behaviour: {key: [a], within_days: 0}}"],
)
def test_a_malformed_section_is_refused(section: str) -> None:
    text = RULE.split("acso:")[0] + section + "\nlevel: low\n"
    with pytest.raises(Invalid) as caught:
        compile_rule(text)
    assert caught.value.code == "sigma_invalid"
