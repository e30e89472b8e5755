"""Sigma correlation rules evaluated over a batch of events.

Aggregations such as "one principal reads 10 distinct secrets within 15 minutes" are not a
property of one event. They are written as Sigma correlation rules (event_count, value_count,
temporal) over base rules, and evaluated here on the base-rule matches of one batch: events are
grouped by the group-by fields, ordered by eventTime, and a sliding window of `timespan` seconds
fires as soon as the condition holds. After firing, the window's events form one hit and
scanning resumes after them, so one burst yields one hit rather than one per event.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from acso_shared.hunting.compiled import EventRule, event_time, make_hit
from acso_shared.hunting.fields import ABSENT, EventView, plain_text
from acso_shared.hunting.models import Hit, RuleMeta

_UNPARSED: Any = object()


class CorrelationType(StrEnum):
    """Correlation types the batch engine evaluates."""

    EVENT_COUNT = "event_count"
    VALUE_COUNT = "value_count"
    TEMPORAL = "temporal"


@dataclass(slots=True)  # not frozen: a frozen dataclass is several times slower to build
class _Item:
    time: datetime
    rule_id: str
    record: Mapping[str, Any]
    values: tuple[str, ...]  # value_count field values of this event
    ts: float = 0.0  # time as epoch seconds: windows compare floats, not datetimes


@dataclass(frozen=True, slots=True)
class CorrelationOutcome:
    """Hits of one evaluation plus how many matched events had no usable eventTime."""

    hits: list[Hit]
    untimed_events: int


@dataclass(frozen=True, slots=True)
class CorrelationRule:
    """A compiled Sigma correlation rule with its compiled base rules."""

    meta: RuleMeta
    name: str | None
    type: CorrelationType
    base_rules: tuple[EventRule, ...]
    generate: bool  # whether the base rules also produce hits of their own
    group_by: tuple[str, ...]
    # For each base rule id, the event field behind each group-by name (Sigma field aliases).
    group_fields: Mapping[str, tuple[str, ...]]
    timespan_s: float
    minimum: int  # the condition as "at least minimum" (gt n is turned into gte n+1)
    value_field: str | None = None  # value_count only

    def evaluate(self, matches: Mapping[str, Sequence[Mapping[str, Any] | EventView]]) -> CorrelationOutcome:
        """Evaluate on the records (or their views) each base rule matched in a batch, keyed by base rule id."""
        groups: dict[tuple[tuple[str, ...], ...], list[_Item]] = {}
        untimed = 0
        read_value = plain_text(self.value_field) if self.value_field else None
        times: dict[Any, datetime | None] = {}  # events share their second: parse each stamp once
        for base in self.base_rules:
            fields = self.group_fields[base.meta.id]
            single = fields[0] if len(fields) == 1 else None
            read_single = plain_text(single) if single is not None else None
            for match in matches.get(base.meta.id, ()):
                view = match if isinstance(match, EventView) else EventView(match)
                record = view.record
                stamp = record.get("eventTime")
                time = times.get(stamp, _UNPARSED) if type(stamp) is str else _UNPARSED
                if time is _UNPARSED:
                    time = event_time(record)
                    if type(stamp) is str:
                        times[stamp] = time
                if time is None:
                    untimed += 1
                    continue
                if read_single is not None:
                    text = read_single(record)
                    if text is ABSENT:
                        key: tuple[tuple[str, ...], ...] = ((),)
                    else:
                        key = ((text,),) if text is not None else (view.texts(single or ""),)
                else:
                    key = tuple(view.texts(f) for f in fields)
                if fields and not all(key):
                    # A missing group-by value is no value: such events are never grouped
                    # together (that would merge unrelated principals), so each stands alone.
                    key = (*key, (f"\x00ungrouped:{id(record)}",))
                values: tuple[str, ...] = ()
                if read_value is not None:
                    value = read_value(record)
                    if value is not ABSENT:
                        values = (value,) if value is not None else view.texts(self.value_field or "")
                groups.setdefault(key, []).append(_Item(time, base.meta.id, record, values, time.timestamp()))
        hits: list[Hit] = []
        for key, items in groups.items():
            items.sort(key=lambda item: item.time)
            for window in self._bursts(items):
                group = {name: _group_value(values) for name, values in zip(self.group_by, key, strict=False)}
                hits.append(make_hit(self.meta, [item.record for item in window], group))
        return CorrelationOutcome(hits, untimed)

    def _bursts(self, items: list[_Item]) -> list[list[_Item]]:
        bursts: list[list[_Item]] = []
        left, right, n = 0, 0, len(items)
        counts: Counter[str] = Counter()
        span = self.timespan_s
        while right < n:
            self._add(counts, items[right])
            while items[right].ts - items[left].ts > span:
                self._remove(counts, items[left])
                left += 1
            if self._satisfied(counts, right - left + 1):
                end = right
                while end + 1 < n and items[end + 1].ts - items[left].ts <= span:
                    end += 1
                bursts.append(items[left : end + 1])
                counts.clear()
                left = right = end + 1
                continue
            right += 1
        return bursts

    def _add(self, counts: Counter[str], item: _Item) -> None:
        if self.type is CorrelationType.VALUE_COUNT:
            counts.update(item.values)
        elif self.type is CorrelationType.TEMPORAL:
            counts[item.rule_id] += 1

    def _remove(self, counts: Counter[str], item: _Item) -> None:
        keys = item.values if self.type is CorrelationType.VALUE_COUNT else (item.rule_id,)
        if self.type is CorrelationType.EVENT_COUNT:
            return
        for k in keys:
            counts[k] -= 1
            if counts[k] <= 0:
                del counts[k]

    def _satisfied(self, counts: Counter[str], events_in_window: int) -> bool:
        if self.type is CorrelationType.EVENT_COUNT:
            return events_in_window >= self.minimum
        return len(counts) >= self.minimum  # distinct values, or distinct base rules for temporal


def _group_value(values: tuple[str, ...]) -> Any:
    if not values:
        return None
    return values[0] if len(values) == 1 else list(values)
