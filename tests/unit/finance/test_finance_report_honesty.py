"""The cost report tells the truth about its own numbers: the month-end forecast lies inside its
interval, and days with no cost data are missing rather than $0 (so top movers are not all "new").
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from acso_financial_intelligence.costs.forecast import forecast_series
from acso_financial_intelligence.costs.generator import generate_costs
from acso_financial_intelligence.costs.models import Dimension
from acso_financial_intelligence.costs.report import (
    build_executive_report,
    render_executive_html,
    summarize,
    top_movers,
)
from acso_financial_intelligence.costs.series import DailySeries, daily_totals
from tests.unit.finance.finance_helpers import START, flat_records

pytestmark = pytest.mark.unit


def _steady_with_recurring_charge(days: int, every: int) -> DailySeries:
    """$150 a day plus a $60 charge every `every` days: the median baseline never sees the charge."""
    return DailySeries(date(2026, 1, 1), tuple(150.0 + (60.0 if i % every == 0 else 0.0) for i in range(days)))


@pytest.mark.parametrize("every", [2, 3, 4])
def test_given_a_recurring_charge_the_month_end_forecast_lies_inside_its_own_interval(every):
    forecast = forecast_series(_steady_with_recurring_charge(90, every))
    for month in [forecast.month_end, *forecast.next_months]:
        assert month.lower <= month.forecast_total <= month.upper, month


def test_given_a_recurring_charge_the_month_total_counts_it():
    # April 2026 has 30 days; a charge every third day falls on 10 of them: 30 * 150 + 10 * 60.
    forecast = forecast_series(_steady_with_recurring_charge(90, 3))
    april = forecast.next_months[0] if forecast.month_end.month == "2026-03" else forecast.month_end
    assert april.month == "2026-04"
    assert april.forecast_total == pytest.approx(30 * 150 + 10 * 60, rel=0.03)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cut", [0, 9, 20])
def test_every_daily_point_and_month_total_lies_inside_its_interval(seed, cut):
    series = daily_totals(generate_costs(seed, days=120).records)
    series = DailySeries(series.start, series.values[: len(series.values) - cut])
    forecast = forecast_series(series)
    for point in forecast.points:
        assert point.lower <= point.mean <= point.upper, point
    for month in [forecast.month_end, *forecast.next_months]:
        assert month.lower <= month.forecast_total <= month.upper, month


def test_days_without_any_cost_data_are_missing_not_zero():
    # Data for days 0-4 and 8-9 of a 10-day period: days 5-7 have no record at all.
    records = flat_records(5, 100.0, wobble=0) + flat_records(2, 100.0, wobble=0, start=START + timedelta(days=8))
    summary = summarize(records, START, START + timedelta(days=9))
    assert [d.amount for d in summary.daily] == [100.0] * 5 + [None] * 3 + [100.0] * 2
    assert summary.days_with_data == 7


def test_given_no_data_before_the_period_there_are_no_top_movers_and_no_change():
    records = flat_records(30, 100.0, wobble=0) + flat_records(30, 40.0, service="AWS Lambda", wobble=0)
    start, end = START, START + timedelta(days=29)
    assert top_movers(records, Dimension.SERVICE, start, end) == []
    assert summarize(records, start, end).change_pct is None


def test_given_a_partly_covered_previous_period_movers_compare_spend_per_day_with_data():
    # The data starts 5 days before the 10-day period: DynamoDB runs at $100/day throughout, Lambda
    # doubles from $50 to $100 a day. Counting the 5 missing days as $0 would call both "new".
    records = flat_records(15, 100.0, wobble=0)
    records += flat_records(5, 50.0, service="AWS Lambda", wobble=0)
    records += flat_records(10, 100.0, service="AWS Lambda", wobble=0, start=START + timedelta(days=5))
    start, end = START + timedelta(days=5), START + timedelta(days=14)
    [mover] = top_movers(records, Dimension.SERVICE, start, end)
    assert (mover.key, mover.previous, mover.current, mover.change_pct) == ("AWS Lambda", 500.0, 1000.0, 100.0)
    assert summarize(records, start, end).change_pct == pytest.approx(33.33, abs=0.01)


def test_the_report_of_a_first_month_of_data_calls_nothing_new_and_breaks_the_line_at_a_gap():
    # 30 days of data with a 2-day gap, and a 30-day report: there is no earlier period to compare.
    records = flat_records(12, 100.0) + flat_records(16, 100.0, start=START + timedelta(days=14))
    records += flat_records(30, 40.0, service="AWS Lambda", start=START + timedelta(days=0))
    records = [r for r in records if r.service != "AWS Lambda" or r.usage_date not in (START + timedelta(days=12),)]
    records = [r for r in records if r.usage_date != START + timedelta(days=13)]
    report = build_executive_report(records, generated_at=START + timedelta(days=31), period_days=30)
    assert report.top_movers == []
    html = render_executive_html(report)
    assert "(new)" not in html
    assert "28 of 30 days have data" in html
    assert html.count('stroke="#1f2937" stroke-width="2"/>') == 2  # the actual line, broken at the gap
