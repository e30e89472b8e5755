"""A compiled single-event rule and the construction of hits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from acso_shared.hunting.behaviour import NewBehaviour
from acso_shared.hunting.fields import EventView
from acso_shared.hunting.models import Hit, RuleMeta
from acso_shared.hunting.values import Predicate, parse_time

# A correlation over a noisy principal can gather thousands of events; a hit keeps enough to
# investigate, and the count of the rest is visible through first_seen/last_seen and the group.
MAX_EVENTS_PER_HIT = 100


@dataclass(frozen=True, slots=True)
class EventRule:
    """A Sigma rule compiled to one predicate over a single CloudTrail record."""

    meta: RuleMeta
    name: str | None
    predicate: Predicate
    # Lower-cased values of `index_field` the rule can only fire on; None when any event may match.
    index_keys: frozenset[str] | None
    index_field: str = "eventName"
    # Set for a new-behaviour rule (`acso.new_behaviour`, see acso_shared.hunting.behaviour).
    new_behaviour: NewBehaviour | None = None

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether the rule fires on one record."""
        return self.predicate(EventView(record))


def event_time(record: Mapping[str, Any]) -> datetime | None:
    """The record's eventTime as an aware datetime, or None when absent or unparsable."""
    return parse_time(record.get("eventTime"))


def make_hit(meta: RuleMeta, events: Sequence[Mapping[str, Any]], group: dict[str, Any] | None = None) -> Hit:
    """Build the hit of a rule on some events."""
    kept = [dict(e) for e in events[:MAX_EVENTS_PER_HIT]]
    times = [t for t in (event_time(e) for e in events) if t is not None]
    return Hit(
        rule_id=meta.id,
        title=meta.title,
        level=meta.level,
        kind=meta.kind,
        tags=meta.tags,
        techniques=meta.techniques,
        tactics=meta.tactics,
        events=kept,
        event_ids=[str(e["eventID"]) for e in kept if e.get("eventID") is not None],
        group=group,
        first_seen=min(times) if times else None,
        last_seen=max(times) if times else None,
    )
