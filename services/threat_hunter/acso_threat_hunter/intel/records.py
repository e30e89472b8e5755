"""Parser output: indicators in canonical form, ready for the repository and the index."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .models import IndicatorType, RelatedObject

MAX_WARNINGS = 50


@dataclass(frozen=True, slots=True)
class IndicatorRecord:
    """One matchable value from a feed; `(source, type, value)` is its identity across imports."""

    external_id: str
    type: IndicatorType
    value: str
    confidence: int
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    revoked: bool = False
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    labels: tuple[str, ...] = ()
    description: str | None = None
    pattern: str | None = None
    related: tuple[RelatedObject, ...] = ()


@dataclass(slots=True)
class ParsedFeed:
    """Everything one feed file yields; `skipped` counts inputs that carry no matchable indicator."""

    indicators: list[IndicatorRecord] = field(default_factory=list)
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record an input skipped or refused; only the first few messages are kept so a noisy feed
        cannot bloat the job."""
        self.skipped += 1
        self.note(message)

    def note(self, message: str) -> None:
        """Record a warning about an indicator that was kept (flagged, cleaned)."""
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """The later expiry, where None (never expires) is the latest of all."""
    if a is None or b is None:
        return None
    return max(a, b)


def _min_opt(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _max_opt(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def merge_duplicates(records: Iterable[IndicatorRecord]) -> list[IndicatorRecord]:
    """Fold records with the same (type, value) into one, as a feed may repeat a value.

    The merge keeps the strongest claim: highest confidence, widest validity, union of labels and
    context; it is revoked only if every copy is. One row per key also lets a single
    INSERT .. ON CONFLICT statement upsert the batch.
    """
    merged: dict[tuple[IndicatorType, str], IndicatorRecord] = {}
    for rec in records:
        key = (rec.type, rec.value)
        prev = merged.get(key)
        if prev is None:
            merged[key] = rec
            continue
        merged[key] = replace(
            prev,
            confidence=max(prev.confidence, rec.confidence),
            valid_from=_min_opt(prev.valid_from, rec.valid_from),
            valid_until=_later(prev.valid_until, rec.valid_until),
            revoked=prev.revoked and rec.revoked,
            first_seen=_min_opt(prev.first_seen, rec.first_seen),
            last_seen=_max_opt(prev.last_seen, rec.last_seen),
            labels=tuple(dict.fromkeys((*prev.labels, *rec.labels))),
            description=prev.description or rec.description,
            related=tuple(dict.fromkeys((*prev.related, *rec.related))),
        )
    return list(merged.values())


def default_expiry(valid_from: datetime | None, now: datetime, days: int | None) -> datetime | None:
    """The expiry a feed without one gets: `days` after it became valid (or after now)."""
    if days is None:
        return None
    return (valid_from or now) + timedelta(days=days)
