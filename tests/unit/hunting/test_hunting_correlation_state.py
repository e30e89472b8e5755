"""Correlation state: missing group-by values never merge principals; context carries bursts across windows."""

from __future__ import annotations

from typing import Any

import pytest

from acso_shared.hunting.compiler import compile_rule
from acso_shared.hunting.pack import RulePack
from acso_shared.hunting.suppression import Suppressions

pytestmark = pytest.mark.unit

RULES = """title: Bucket deletion (base)
id: 4e5f6a7b-8c9d-4e0f-9a1b-2c3d4e5f6a7b
name: spec_bucket_deletion
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventName: DeleteBucket}
  condition: sel
level: low
---
title: Bucket deletion burst
id: 5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c
correlation:
  type: event_count
  rules: [spec_bucket_deletion]
  group-by: [userIdentity.arn]
  timespan: 10m
  condition: {gte: 3}
level: high
"""


def deletion(event_id: str, minute: int, arn: str | None) -> dict[str, Any]:
    identity: dict[str, Any] = {"type": "IAMUser"}
    if arn:
        identity["arn"] = arn
    return {
        "eventName": "DeleteBucket",
        "eventSource": "s3.amazonaws.com",
        "userIdentity": identity,
        "eventTime": f"2026-11-20T09:{minute:02d}:00Z",
        "eventID": event_id,
    }


def pack() -> RulePack:
    return RulePack([compile_rule(RULES)], suppressions=Suppressions([]))


def test_events_without_the_group_by_field_are_never_grouped_together() -> None:
    anonymous = [deletion(f"n{i}", i, None) for i in range(5)]
    assert pack().evaluate(anonymous) == []


def test_events_of_one_principal_are_grouped() -> None:
    alice = [deletion(f"a{i}", i, "arn:aws:iam::111122223333:user/alice") for i in range(3)]
    [hit] = pack().evaluate(alice)
    assert hit.group == {"userIdentity.arn": "arn:aws:iam::111122223333:user/alice"}
    assert hit.event_ids == ["a0", "a1", "a2"]


def test_a_burst_split_between_context_and_new_events_is_caught() -> None:
    arn = "arn:aws:iam::111122223333:user/bob"
    earlier = [deletion("b0", 0, arn), deletion("b1", 1, arn)]
    [hit] = pack().evaluate([deletion("b2", 2, arn)], context=earlier)
    assert hit.event_ids == ["b0", "b1", "b2"]


def test_a_burst_made_of_context_alone_is_not_reported_again() -> None:
    arn = "arn:aws:iam::111122223333:user/carol"
    earlier = [deletion(f"c{i}", i, arn) for i in range(3)]
    assert pack().evaluate([], context=earlier) == []


def test_context_never_fires_single_event_rules() -> None:
    single = compile_rule(RULES.split("---")[0].replace("level: low", "level: medium"))
    assert RulePack([single], suppressions=Suppressions([])).evaluate([], context=[deletion("d", 0, "x")]) == []
