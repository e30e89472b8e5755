"""Daily cost series and the robust seasonal baseline shared by anomaly detection and forecasting.

The baseline is a small decomposition written with the standard library (numpy is not a dependency):

    x[t] ~ (level + slope * t) * weekday_factor[t.weekday()] + month_start_excess * [t.day == 1]

Every piece is estimated robustly (medians, a resistant line, MAD) so that the anomalies we are
looking for do not pull the baseline towards themselves.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from .models import CostRecord, Dimension

MAD_TO_SIGMA = 1.4826
"""MAD of a normal distribution times this is its standard deviation."""


def dimension_key(record: CostRecord, dimension: Dimension, tag_key: str | None = None) -> str | None:
    """The key of `record` in `dimension`; None when the record has no value there (untagged, no resource)."""
    match dimension:
        case Dimension.TOTAL:
            return "total"
        case Dimension.SERVICE:
            return record.service
        case Dimension.ACCOUNT:
            return record.account
        case Dimension.REGION:
            return record.region
        case Dimension.USAGE_TYPE:
            return record.usage_type
        case Dimension.RESOURCE:
            return record.resource_id
        case Dimension.TAG:
            if tag_key is None:
                raise ValueError("a tag dimension needs a tag key")
            value = record.tags.get(tag_key)
            return f"{tag_key}={value}" if value else None


def date_range(start: date, end: date) -> list[date]:
    """Every day from start to end, both inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@dataclass(frozen=True, slots=True)
class DailySeries:
    """A dense daily series: values[i] is the spend of start + i days (missing days are 0)."""

    start: date
    values: tuple[float, ...]

    @property
    def end(self) -> date:
        return self.start + timedelta(days=len(self.values) - 1)

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def index_of(self, day: date) -> int:
        return (day - self.start).days


def daily_totals(records: Iterable[CostRecord], start: date | None = None, end: date | None = None) -> DailySeries:
    """Sum records per day into a dense series over [start, end] (defaults: the records' span)."""
    sums: dict[date, float] = defaultdict(float)
    for record in records:
        sums[record.usage_date] += record.amount
    return _dense(sums, start, end)


def series_by_dimension(
    records: Iterable[CostRecord], dimension: Dimension, tag_key: str | None = None
) -> dict[str, DailySeries]:
    """One dense series per key of `dimension`, all over the same span (the span of all the records)."""
    sums: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    first: date | None = None
    last: date | None = None
    for record in records:
        first = record.usage_date if first is None or record.usage_date < first else first
        last = record.usage_date if last is None or record.usage_date > last else last
        key = dimension_key(record, dimension, tag_key)
        if key is not None:
            sums[key][record.usage_date] += record.amount
    if first is None or last is None:
        return {}
    return {key: _dense(days, first, last) for key, days in sums.items()}


def _dense(sums: dict[date, float], start: date | None, end: date | None) -> DailySeries:
    if start is None or end is None:
        if not sums:
            raise ValueError("no records and no explicit range")
        start = start or min(sums)
        end = end or max(sums)
    return DailySeries(start, tuple(sums.get(day, 0.0) for day in date_range(start, end)))


def mad(values: Sequence[float], center: float | None = None) -> float:
    """Median absolute deviation around `center` (default: the median)."""
    if not values:
        return 0.0
    mid = statistics.median(values) if center is None else center
    return statistics.median(abs(v - mid) for v in values)


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile (same as numpy's default) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("quantile of an empty sequence")
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclass(frozen=True, slots=True)
class Baseline:
    """A fitted seasonal-trend model of a window of a series; `t` counts days from the window's first day."""

    window_start: date
    level: float
    slope: float
    weekday_factors: tuple[float, ...]
    month_start_excess: float
    scale: float

    def expected(self, day: date) -> float:
        """The modelled spend of `day` (never negative: spend does not go below zero)."""
        t = (day - self.window_start).days
        value = (self.level + self.slope * t) * self.weekday_factors[day.weekday()]
        if day.day == 1:
            value += self.month_start_excess
        return max(value, 0.0)


def weekday_factors(days: Sequence[date], values: Sequence[float]) -> tuple[float, ...]:
    """Multiplicative weekday profile: median ratio of each day to its centred 7-day mean, normalised to mean 1.

    A centred mean spans exactly one of each weekday, so the ratio isolates the weekday effect from
    trend; month-start days are left out because their fees are modelled separately.
    """
    ratios: dict[int, list[float]] = defaultdict(list)
    for i in range(3, len(values) - 3):
        if days[i].day == 1:
            continue
        window = [v for j, v in enumerate(values[i - 3 : i + 4], start=i - 3) if days[j].day != 1]
        mean = sum(window) / len(window)
        if mean > 0:
            ratios[days[i].weekday()].append(values[i] / mean)
    if len(ratios) < 7:
        return (1.0,) * 7
    factors = [statistics.median(ratios[wd]) for wd in range(7)]
    norm = sum(factors) / 7
    if norm <= 0:
        return (1.0,) * 7
    return tuple(f / norm for f in factors)


def resistant_slope(points: Sequence[tuple[float, float]]) -> float:
    """Tukey's resistant line slope through (x, y) points sorted by x: medians of the outer thirds."""
    n = len(points)
    if n < 6:
        return 0.0
    third = n // 3
    left, right = points[:third], points[n - third :]
    dx = statistics.median(x for x, _ in right) - statistics.median(x for x, _ in left)
    if dx <= 0:
        return 0.0
    return (statistics.median(y for _, y in right) - statistics.median(y for _, y in left)) / dx


def fit_baseline(
    days: Sequence[date], values: Sequence[float], *, level_days: int = 14, min_scale: float = 0.0
) -> Baseline:
    """Fit the seasonal-trend baseline to a window of consecutive days.

    The level is the median of the last `level_days` de-seasonalised, de-trended values so a recent
    level shift is adopted once it has lasted about half of `level_days`. The scale is the MAD of
    the in-window residuals, floored at `min_scale` so a perfectly flat history cannot make every
    cent an anomaly.
    """
    if len(days) != len(values) or not days:
        raise ValueError("days and values must be non-empty and of equal length")
    factors = weekday_factors(days, values)
    # Weekdays with a zero factor (a series that only runs on some days) carry no level information.
    regular = [
        (i, v / factors[d.weekday()])
        for i, (d, v) in enumerate(zip(days, values, strict=True))
        if d.day != 1 and factors[d.weekday()] > 0
    ]
    if not regular:
        regular = [(i, v) for i, v in enumerate(values)]
    slope = resistant_slope([(float(i), v) for i, v in regular])
    recent = regular[-level_days:]
    last_t = len(values) - 1
    level_at_end = statistics.median(v + slope * (last_t - i) for i, v in recent)
    level = level_at_end - slope * last_t
    fitted = [(level + slope * i) * factors[d.weekday()] for i, d in enumerate(days)]
    month_start_residuals = [values[i] - fitted[i] for i, d in enumerate(days) if d.day == 1]
    month_start_excess = max(statistics.median(month_start_residuals), 0.0) if month_start_residuals else 0.0
    residuals = [values[i] - fitted[i] for i, d in enumerate(days) if d.day != 1]
    scale = MAD_TO_SIGMA * mad(residuals) if residuals else 0.0
    return Baseline(
        window_start=days[0],
        level=level,
        slope=slope,
        weekday_factors=factors,
        month_start_excess=month_start_excess,
        scale=max(scale, min_scale),
    )
