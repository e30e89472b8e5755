"""The resource manifest names every resource once, by the documented pattern."""

from __future__ import annotations

import pytest

from acso_shared.resources import DLQ_MAX_RECEIVE_COUNT, Agent, build_manifest

pytestmark = pytest.mark.unit


def test_every_agent_has_a_task_queue_and_dlq_named_by_the_pattern() -> None:
    manifest = build_manifest("dev", "111122223333", "eu-west-1")
    for agent in Agent:
        queue = manifest.task_queues[agent]
        assert queue.name == f"acso-dev-{agent.kebab}-tasks"
        assert queue.dlq_name == f"acso-dev-{agent.kebab}-tasks-dlq"
        assert queue.max_receive_count == DLQ_MAX_RECEIVE_COUNT == 5


def test_every_name_carries_the_environment_prefix() -> None:
    manifest = build_manifest("prod", "111122223333")
    names = [q.name for q in manifest.all_queues()] + [t.name for t in manifest.tables.values()]
    names += [manifest.artifacts_bucket, manifest.threat_intel_bucket, manifest.notifications_topic, manifest.event_bus]
    names += [rule.name for rule in manifest.event_rules] + [manifest.cognito.user_pool_name]
    assert all(name.startswith("acso-prod-") for name in names)
    assert len(set(names)) == len(names)


def test_bucket_names_are_globally_unique_by_account() -> None:
    manifest = build_manifest("dev", "111122223333")
    assert manifest.artifacts_bucket.endswith("-111122223333")
    assert manifest.threat_intel_bucket.endswith("-111122223333")


def test_agent_ports_follow_the_architecture() -> None:
    assert [agent.default_port for agent in Agent] == [8000, 8001, 8002, 8003, 8004]
