"""Which migrations exist: shared components first, then each agent's own `migrations` package."""

from __future__ import annotations

import importlib.util

from acso_shared.db.migrations import MigrationSet
from acso_shared.resources import Agent

SHARED_COMPONENTS: tuple[tuple[str, str], ...] = (("audit", "acso_shared.audit.migrations"),)


def _agent_set(agent: Agent) -> list[MigrationSet]:
    package = f"acso_{agent.value}.migrations"
    if importlib.util.find_spec(package) is None:
        return []
    return [MigrationSet.from_package(agent.value, package)]


def shared_migrations() -> list[MigrationSet]:
    return [MigrationSet.from_package(component, package) for component, package in SHARED_COMPONENTS]


def agent_migrations(agent: Agent) -> list[MigrationSet]:
    """What one agent applies at start: the shared components and its own."""
    return [*shared_migrations(), *_agent_set(agent)]


def all_migrations() -> list[MigrationSet]:
    """Everything, for `acso migrate` and the launcher."""
    sets = shared_migrations()
    for agent in Agent:
        sets.extend(_agent_set(agent))
    return sets
