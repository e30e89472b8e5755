"""New-behaviour rules: fire the first time a key is seen (a principal calling a sensitive API,
acting in a region), not on every match.

A Sigma rule becomes one by an `acso` section beside its detection:

```yaml
title: First Use Of A Sensitive IAM API By A Principal
id: 0f6c...
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventSource: iam.amazonaws.com
    eventName: [CreateAccessKey, CreateLoginProfile, UpdateAssumeRolePolicy]
  condition: selection
acso:
  new_behaviour:
    key: [userIdentity.arn, eventName]   # the fields whose combination must be new
    within_days: 30                      # "new": not seen in the 30 days before (default 30)
level: medium
```

Every event the detection matches is remembered under its key (the key fields' values, in order);
it becomes a hit only when its key was not seen in the `within_days` before the event. An event
missing one of the key fields has no key and never fires (there is nothing to call new). Pick the
key for the question: `[userIdentity.arn, awsRegion]` for "acts in a region for the first time",
`[userIdentity.arn, eventName]` for "calls this API for the first time".

The threat hunter keeps what was seen in PostgreSQL (`behaviour_baseline`: rule id, key, first and
last seen), so novelty holds across hunts and restarts; `acso hunt` keeps it in memory for one run
(`MemoryBaseline`). A fresh baseline knows nothing, so the first days after enabling such a rule
report what is normal as new: enable it and let a first hunt over past logs teach it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from acso_shared.errors import Invalid
from acso_shared.hunting.fields import EventView
from acso_shared.hunting.models import Hit

DEFAULT_WITHIN_DAYS = 30
MAX_KEY_FIELDS = 5


@dataclass(frozen=True, slots=True)
class NewBehaviour:
    """The `acso.new_behaviour` section of a rule."""

    key: tuple[str, ...]
    within_days: int = DEFAULT_WITHIN_DAYS

    @classmethod
    def from_attributes(cls, rule_id: str, attributes: Mapping[str, Any]) -> NewBehaviour | None:
        """The section from a rule's custom attributes; `Invalid("sigma_invalid")` when malformed."""
        section = attributes.get("acso")
        if section is None:
            return None
        if not isinstance(section, Mapping) or set(section) - {"new_behaviour"}:
            raise Invalid("sigma_invalid", f"rule {rule_id}: `acso` holds only `new_behaviour`")
        spec = section.get("new_behaviour")
        if not isinstance(spec, Mapping) or set(spec) - {"key", "within_days"}:
            raise Invalid("sigma_invalid", f"rule {rule_id}: acso.new_behaviour takes `key` and `within_days`")
        key = spec.get("key")
        if isinstance(key, str):
            key = [key]
        if (
            not isinstance(key, list)
            or not 1 <= len(key) <= MAX_KEY_FIELDS
            or not all(isinstance(k, str) and k for k in key)
        ):
            raise Invalid(
                "sigma_invalid", f"rule {rule_id}: acso.new_behaviour.key is 1 to {MAX_KEY_FIELDS} field names"
            )
        days = spec.get("within_days", DEFAULT_WITHIN_DAYS)
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
            raise Invalid("sigma_invalid", f"rule {rule_id}: acso.new_behaviour.within_days is 1 to 3650")
        return cls(key=tuple(key), within_days=days)

    def key_of(self, record: Mapping[str, Any]) -> str | None:
        """The event's key as JSON text, or None when a key field is missing."""
        view = EventView(record)
        values: list[Any] = []
        for name in self.key:
            texts = view.texts(name)
            if not texts:
                return None
            values.append(texts[0] if len(texts) == 1 else sorted(texts))
        return json.dumps(values, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Sighting:
    """One match of a new-behaviour rule: its rule, key and time."""

    rule_id: str
    key: str
    at: datetime
    within: timedelta


class Baseline(Protocol):
    """Remembers sightings and says which were new."""

    async def novel(self, sightings: Sequence[Sighting]) -> set[int]: ...


class MemoryBaseline:
    """A baseline for one process (`acso hunt`): keys seen so far, with their last time."""

    def __init__(self) -> None:
        self._last: dict[tuple[str, str], datetime] = {}

    async def novel(self, sightings: Sequence[Sighting]) -> set[int]:
        """Indexes of the new sightings; every sighting is remembered."""
        return novel_in(sightings, dict(self._last), self._last)


def novel_in(
    sightings: Sequence[Sighting], known: Mapping[tuple[str, str], datetime], remember: dict[tuple[str, str], datetime]
) -> set[int]:
    """Decide novelty in time order against `known` last-seen times; record into `remember`."""
    last = dict(known)
    new: set[int] = set()
    for index in sorted(range(len(sightings)), key=lambda i: sightings[i].at):
        s = sightings[index]
        seen = last.get((s.rule_id, s.key))
        if seen is None or s.at - seen > s.within:
            new.add(index)
        if seen is None or s.at > seen:
            last[(s.rule_id, s.key)] = s.at
    remember.update(last)
    return new


async def filter_new_behaviour(
    hits: Sequence[Hit], behaviours: Mapping[str, NewBehaviour], baseline: Baseline
) -> list[Hit]:
    """The hits, with those of new-behaviour rules kept only when their key is new."""
    sightings: list[Sighting] = []
    owners: list[int] = []
    for position, hit in enumerate(hits):
        behaviour = behaviours.get(hit.rule_id)
        if behaviour is None or not hit.events or hit.first_seen is None:
            continue
        key = behaviour.key_of(hit.events[0])
        if key is None:
            continue
        sightings.append(Sighting(hit.rule_id, key, hit.first_seen, timedelta(days=behaviour.within_days)))
        owners.append(position)
    new = await baseline.novel(sightings) if sightings else set()
    keep = {owners[i] for i in new}
    return [h for i, h in enumerate(hits) if h.rule_id not in behaviours or i in keep]
