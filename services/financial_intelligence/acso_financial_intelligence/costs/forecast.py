"""Forecast of daily spend, the month-end total and the next months, with a prediction interval.

The mean comes from the same seasonal-trend baseline as anomaly detection (weekday profile,
resistant trend, recent level, month-start fees), fitted on the recent history. The interval
comes from simulation: each path draws a level error (the standard error of a two-week median of
the relative residuals), a trend error (the disagreement of the two halves of the history about the slope),
and daily noise as week-long blocks of residuals, so autocorrelated noise widens the band honestly.
Paths are drawn from a seeded generator: the same data always gives the same forecast.

The point forecast (daily `mean` and `forecast_total`) is the median of the same simulated paths
as the interval, so it always lies inside its own band: the baseline's mean of a skewed residual
distribution could fall outside it (a month-end total of $4,484 against "$4,487 to $4,489").
"""

from __future__ import annotations

import calendar
import math
import random
import statistics
from collections.abc import Sequence
from datetime import date, timedelta

from .models import CostRecord, Forecast, ForecastEvaluation, ForecastPoint, MonthForecast
from .series import (
    MAD_TO_SIGMA,
    Baseline,
    DailySeries,
    daily_totals,
    date_range,
    fit_baseline,
    mad,
    quantile,
    resistant_slope,
)

METHOD = "seasonal-trend (weekday, resistant trend, month-start fees) with block-bootstrap interval"
_BLOCK_DAYS = 7
_LEVEL_DAYS = 14


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _add_months(day: date, months: int) -> date:
    """The first day of the month `months` after the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def forecast_series(
    series: DailySeries,
    *,
    horizon_months: int = 2,
    confidence: float = 0.8,
    history_days: int = 91,
    simulations: int = 500,
    seed: int = 0,
    currency: str = "USD",
) -> Forecast:
    """Forecast the rest of the current month and `horizon_months` full months after it.

    `series` ends on the last observed day; the "current" month is the month of the day after it.
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    if len(series.values) < 14:
        raise ValueError("at least 14 days of history are needed for a forecast")
    days = date_range(series.start, series.end)
    lo = max(0, len(days) - history_days)
    hist_days, hist_values = days[lo:], series.values[lo:]
    baseline = fit_baseline(hist_days, hist_values, level_days=_LEVEL_DAYS)
    residuals = _relative_residuals(baseline, hist_days, hist_values)
    slope_sigma = _slope_uncertainty(baseline, hist_days, hist_values)

    first = series.end + timedelta(days=1)
    horizon_end = _month_end(_add_months(first, horizon_months))
    horizon = date_range(first, horizon_end)
    paths = _simulate(baseline, horizon, residuals, slope_sigma, simulations, random.Random(seed))

    alpha = (1 - confidence) / 2
    points = [
        ForecastPoint(
            date=d,
            mean=round(quantile(column, 0.5), 2),
            lower=round(max(0.0, quantile(column, alpha)), 2),
            upper=round(quantile(column, 1 - alpha), 2),
        )
        for i, d in enumerate(horizon)
        for column in ([p[i] for p in paths],)
    ]
    current = month_key(first)
    to_date = sum(v for d, v in zip(days, series.values, strict=True) if month_key(d) == current)
    months = [current] + [month_key(_add_months(first, k)) for k in range(1, horizon_months + 1)]
    totals = [_month_total(m, horizon, paths, to_date if m == current else 0.0, alpha) for m in months]
    return Forecast(
        currency=currency,
        last_observed=series.end,
        confidence=confidence,
        method=METHOD,
        points=points,
        month_end=totals[0],
        next_months=totals[1:],
    )


def forecast_records(
    records: Sequence[CostRecord], *, horizon_months: int = 2, confidence: float = 0.8, seed: int = 0
) -> Forecast:
    """Forecast the daily total spend of `records` (see `forecast_series`)."""
    if not records:
        raise ValueError("no cost records to forecast from")
    return forecast_series(
        daily_totals(records),
        horizon_months=horizon_months,
        confidence=confidence,
        seed=seed,
        currency=records[0].currency,
    )


def _relative_residuals(baseline: Baseline, days: Sequence[date], values: Sequence[float]) -> list[float]:
    out = []
    for d, v in zip(days, values, strict=True):
        expected = baseline.expected(d)
        if d.day != 1 and expected > 0:
            out.append(v / expected - 1.0)
    if not out:
        return [0.0]
    # Centre on the median: the level is a median, so a skew from past anomalies must not shift every path.
    centre = statistics.median(out)
    return [r - centre for r in out]


def _slope_uncertainty(baseline: Baseline, days: Sequence[date], values: Sequence[float]) -> float:
    """Half the difference between the slopes of the two halves of the history, as a trend error scale."""
    deseasonalised = [
        (float(i), v / baseline.weekday_factors[d.weekday()])
        for i, (d, v) in enumerate(zip(days, values, strict=True))
        if d.day != 1 and baseline.weekday_factors[d.weekday()] > 0
    ]
    half = len(deseasonalised) // 2
    if half < 6:
        return 0.0
    return abs(resistant_slope(deseasonalised[:half]) - resistant_slope(deseasonalised[half:])) / 2


def _simulate(
    baseline: Baseline,
    horizon: Sequence[date],
    residuals: Sequence[float],
    slope_sigma: float,
    simulations: int,
    rng: random.Random,
) -> list[list[float]]:
    n = len(residuals)
    # The level is the median of the last two weeks: its standard error is about 1.25 sigma / sqrt(n).
    level_sigma = 1.25 * MAD_TO_SIGMA * mad(residuals, 0.0) / math.sqrt(_LEVEL_DAYS)
    paths = []
    for _ in range(simulations):
        level_error = rng.gauss(0.0, level_sigma)
        slope_error = rng.gauss(0.0, slope_sigma) if slope_sigma > 0 else 0.0
        path: list[float] = []
        block_start = 0
        for step, day in enumerate(horizon):
            if step % _BLOCK_DAYS == 0:
                block_start = rng.randrange(n)
            noise = residuals[(block_start + step % _BLOCK_DAYS) % n]
            mean = baseline.expected(day) + slope_error * (step + 1) * baseline.weekday_factors[day.weekday()]
            path.append(max(0.0, mean * (1.0 + level_error + noise)))
        paths.append(path)
    return paths


def _month_total(
    month: str,
    horizon: Sequence[date],
    paths: Sequence[Sequence[float]],
    actual_to_date: float,
    alpha: float,
) -> MonthForecast:
    idx = [i for i, d in enumerate(horizon) if month_key(d) == month]
    sums = [actual_to_date + sum(p[i] for i in idx) for p in paths]
    return MonthForecast(
        month=month,
        actual_to_date=round(actual_to_date, 2),
        forecast_total=round(quantile(sums, 0.5), 2),
        lower=round(quantile(sums, alpha), 2),
        upper=round(quantile(sums, 1 - alpha), 2),
    )


def evaluate_forecast(
    series: DailySeries, holdout_days: int = 28, *, confidence: float = 0.8, seed: int = 0
) -> ForecastEvaluation:
    """Hold back the last `holdout_days`, forecast them from the rest, and score the forecast.

    MAPE is the mean absolute percentage error over held-back days with non-zero spend; coverage
    is the share of held-back days that fall inside the prediction interval.
    """
    if holdout_days < 1 or holdout_days >= len(series.values) - 14:
        raise ValueError("holdout must leave at least 14 days of history")
    train = DailySeries(series.start, series.values[:-holdout_days])
    # Enough whole months that the horizon always covers the held-back days.
    forecast = forecast_series(train, horizon_months=holdout_days // 28 + 1, confidence=confidence, seed=seed)
    by_day = {p.date: p for p in forecast.points}
    errors: list[float] = []
    inside = 0
    for offset, actual in enumerate(series.values[-holdout_days:]):
        point = by_day[train.end + timedelta(days=offset + 1)]
        if actual > 0:
            errors.append(abs(actual - point.mean) / actual)
        inside += point.lower <= actual <= point.upper
    return ForecastEvaluation(
        holdout_days=holdout_days,
        mape_pct=round(100 * statistics.fmean(errors), 2) if errors else 0.0,
        interval_coverage=round(inside / holdout_days, 3),
    )
