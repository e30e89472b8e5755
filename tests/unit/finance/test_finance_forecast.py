"""Forecast: month-end and next months with a prediction interval; MAPE on held-back days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from acso_financial_intelligence.costs.forecast import evaluate_forecast, forecast_records, forecast_series
from acso_financial_intelligence.costs.series import DailySeries
from tests.unit.finance.finance_helpers import flat_records

pytestmark = pytest.mark.unit


def _growing(days: int, start: date = date(2026, 1, 1)) -> DailySeries:
    values = []
    for i in range(days):
        day = start + timedelta(days=i)
        weekday = 0.7 if day.weekday() >= 5 else 1.0
        values.append((1000.0 + 5.0 * i) * weekday * (1 + 0.03 * ((i * 7) % 5 - 2) / 2))
    return DailySeries(start, tuple(values))


def test_the_month_end_total_adds_the_forecast_to_the_spend_so_far():
    series = _growing(100)  # ends 2026-04-10
    forecast = forecast_series(series)
    april_so_far = sum(series.values[-10:])
    assert forecast.month_end.month == "2026-04"
    assert forecast.month_end.actual_to_date == pytest.approx(april_so_far, abs=0.01)
    rest = sum(p.mean for p in forecast.points if p.date.month == 4)
    # The total is the median of the simulated month totals: close to, not exactly, the sum of daily medians.
    assert forecast.month_end.forecast_total == pytest.approx(april_so_far + rest, rel=0.001)


def test_the_forecast_covers_the_rest_of_the_month_and_the_next_months():
    forecast = forecast_series(_growing(100), horizon_months=2)
    assert forecast.points[0].date == date(2026, 4, 11)
    assert forecast.points[-1].date == date(2026, 6, 30)
    assert [m.month for m in forecast.next_months] == ["2026-05", "2026-06"]


def test_every_interval_contains_its_mean_and_widens_with_the_horizon():
    forecast = forecast_series(_growing(100), confidence=0.9)
    assert all(p.lower <= p.mean <= p.upper for p in forecast.points)
    first, last = forecast.points[0], forecast.points[-1]
    assert (last.upper - last.lower) / last.mean > (first.upper - first.lower) / first.mean
    for month in [forecast.month_end, *forecast.next_months]:
        assert month.lower <= month.forecast_total <= month.upper


def test_the_forecast_continues_the_trend_and_the_weekday_profile():
    forecast = forecast_series(_growing(100))
    by_day = {p.date: p.mean for p in forecast.points}
    assert by_day[date(2026, 5, 13)] == pytest.approx(1000.0 + 5.0 * 132, rel=0.03)  # a Wednesday
    assert by_day[date(2026, 5, 16)] == pytest.approx(0.7 * (1000.0 + 5.0 * 135), rel=0.03)  # a Saturday


def test_the_same_data_gives_the_same_forecast():
    assert forecast_series(_growing(90), seed=3) == forecast_series(_growing(90), seed=3)


def test_forecasting_records_uses_their_daily_totals_and_currency():
    records = flat_records(60, 100.0) + flat_records(60, 50.0, service="AWS Lambda")
    forecast = forecast_records(records)
    assert forecast.points[0].mean == pytest.approx(150.0, rel=0.05)
    assert forecast.currency == "USD"


def test_evaluation_on_a_predictable_series_has_a_small_error():
    evaluation = evaluate_forecast(_growing(120), holdout_days=28)
    assert evaluation.holdout_days == 28
    assert evaluation.mape_pct < 3.0
    assert evaluation.interval_coverage >= 0.6


def test_evaluation_reports_a_large_error_when_spend_changes_unforeseeably():
    series = _growing(120)
    jumped = DailySeries(series.start, series.values[:-28] + tuple(v * 2 for v in series.values[-28:]))
    assert evaluate_forecast(jumped, holdout_days=28).mape_pct > 40.0


def test_a_forecast_needs_two_weeks_of_history():
    with pytest.raises(ValueError, match="14 days"):
        forecast_series(_growing(10))
