"""Anomaly detection: robust seasonal baseline, AWS-like thresholds, root causes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from acso_financial_intelligence.costs.anomaly import (
    DetectorConfig,
    detect_anomalies,
    passes_thresholds,
    score_series,
    severity_of,
)
from acso_financial_intelligence.costs.models import Dimension, Severity
from acso_financial_intelligence.costs.series import daily_totals, fit_baseline
from tests.unit.finance.finance_helpers import START, add, flat_records

pytestmark = pytest.mark.unit


def test_a_steady_series_has_no_anomalies():
    records = flat_records(90)
    assert detect_anomalies(records) == []


def test_a_spike_is_reported_with_expected_value_and_impact():
    records = add(flat_records(90), START + timedelta(days=70), 400.0)
    [anomaly] = detect_anomalies(records, dimensions=[Dimension.SERVICE])
    assert anomaly.start_date == anomaly.end_date == START + timedelta(days=70)
    assert anomaly.expected == pytest.approx(100.0, rel=0.05)
    assert anomaly.impact_abs == pytest.approx(anomaly.actual - anomaly.expected, abs=0.01)
    assert anomaly.impact_pct == pytest.approx(anomaly.impact_abs / anomaly.expected * 100, rel=0.01)


def test_weekend_dips_are_seasonality_not_anomalies():
    records = flat_records(120, 500.0, weekend_factor=0.5)
    assert detect_anomalies(records) == []


def test_a_weekend_spike_to_the_weekday_level_is_an_anomaly():
    records = flat_records(120, 1000.0, weekend_factor=0.4)
    saturday = START + timedelta(days=96)
    assert saturday.weekday() == 5
    records = [r.model_copy(update={"amount": 1000.0}) if r.usage_date == saturday else r for r in records]
    anomalies = detect_anomalies(records, dimensions=[Dimension.SERVICE])
    assert [a.start_date for a in anomalies] == [saturday]


def test_a_monthly_fee_on_the_first_is_learned_after_two_months():
    records = flat_records(150, 200.0)
    for r in list(records):
        if r.usage_date.day == 1:
            records = add(records, r.usage_date, 3000.0, usage_type="HeavyUsage:m5.xlarge")
    anomalies = detect_anomalies(records, since=START + timedelta(days=70))
    assert anomalies == []


def test_a_small_spike_below_the_dollar_threshold_is_not_reported():
    records = add(flat_records(90, 10.0), START + timedelta(days=70), 50.0)
    assert detect_anomalies(records, config=DetectorConfig(min_impact_abs=100.0)) == []


def test_the_or_combination_reports_a_relative_jump_below_the_dollar_threshold():
    records = add(flat_records(90, 10.0), START + timedelta(days=70), 50.0)
    config = DetectorConfig(min_impact_abs=100.0, min_impact_pct=50.0, combine="or")
    assert len(detect_anomalies(records, dimensions=[Dimension.SERVICE], config=config)) == 1


def test_thresholds_combine_absolute_and_percentage_impact():
    config = DetectorConfig(min_impact_abs=100.0, min_impact_pct=20.0)
    assert passes_thresholds(150.0, 500.0, config)
    assert not passes_thresholds(150.0, 1000.0, config)
    assert not passes_thresholds(90.0, 10.0, config)


def test_a_level_shift_is_reported_once_and_then_becomes_the_new_normal():
    shift_day = START + timedelta(days=70)
    records = [
        r.model_copy(update={"amount": r.amount + 300.0}) if r.usage_date >= shift_day else r
        for r in flat_records(130, 200.0)
    ]
    [anomaly] = detect_anomalies(records, dimensions=[Dimension.SERVICE])
    assert anomaly.start_date == shift_day
    assert anomaly.end_date < shift_day + timedelta(days=14)


def test_consecutive_anomalous_days_form_one_anomaly():
    records = flat_records(90)
    for offset in (70, 71, 72):
        records = add(records, START + timedelta(days=offset), 500.0)
    [anomaly] = detect_anomalies(records, dimensions=[Dimension.SERVICE])
    assert (anomaly.start_date, anomaly.end_date) == (START + timedelta(days=70), START + timedelta(days=72))
    assert anomaly.actual == pytest.approx(3 * 600.0, rel=0.03)


def test_root_causes_name_the_region_usage_type_and_resource_that_drove_the_spend():
    records = flat_records(90, 300.0, service="Amazon Elastic Compute Cloud - Compute")
    records += flat_records(90, 200.0, service="Amazon Elastic Compute Cloud - Compute", region="eu-west-1")
    day = START + timedelta(days=75)
    records = add(records, day, 2000.0, region="sa-east-1", usage_type="BoxUsage:p3.16xlarge", resource_id="i-0abc")
    [anomaly] = detect_anomalies(records, dimensions=[Dimension.SERVICE])
    causes = {(c.dimension, c.key): c for c in anomaly.root_causes}
    assert causes[(Dimension.REGION, "sa-east-1")].share == pytest.approx(1.0, abs=0.05)
    assert causes[(Dimension.USAGE_TYPE, "BoxUsage:p3.16xlarge")].contribution == pytest.approx(2000.0)
    assert (Dimension.RESOURCE, "i-0abc") in causes
    assert (Dimension.REGION, "us-east-1") not in causes


def test_anomalies_are_detected_per_tag_value():
    records = flat_records(90, 100.0, tags={"team": "payments"})
    records += flat_records(90, 100.0, service="AWS Lambda", tags={"team": "search"})
    records = add(records, START + timedelta(days=80), 400.0, service="AWS Lambda", tags={"team": "search"})
    anomalies = detect_anomalies(records, dimensions=[], tag_keys=["team"])
    assert [(a.dimension, a.key) for a in anomalies] == [(Dimension.TAG, "team=search")]


def test_a_day_is_judged_only_against_the_days_before_it():
    records = add(flat_records(60), START + timedelta(days=59), 1000.0)
    verdicts = score_series(daily_totals(records), DetectorConfig())
    assert [v.day for v in verdicts if v.anomalous] == [START + timedelta(days=59)]
    assert verdicts[-1].expected == pytest.approx(100.0, rel=0.05)


def test_no_verdict_before_the_minimum_history():
    verdicts = score_series(daily_totals(flat_records(30)), DetectorConfig(min_history_days=21))
    assert verdicts[0].day == START + timedelta(days=21)


def test_the_baseline_follows_a_linear_trend():
    records = [r.model_copy(update={"amount": 100.0 + 2.0 * i}) for i, r in enumerate(flat_records(63, wobble=0))]
    series = daily_totals(records)
    days = [series.day(i) for i in range(len(series.values))]
    baseline = fit_baseline(days, series.values)
    assert baseline.slope == pytest.approx(2.0, rel=0.01)
    assert baseline.expected(series.end + timedelta(days=1)) == pytest.approx(100.0 + 2.0 * 63, rel=0.01)


@pytest.mark.parametrize(
    ("impact", "pct", "expected"),
    [
        (5000.0, 300.0, Severity.CRITICAL),
        (600.0, 80.0, Severity.HIGH),
        (250.0, 30.0, Severity.MEDIUM),
        (120.0, 25.0, Severity.LOW),
    ],
)
def test_severity_grows_with_impact(impact, pct, expected):
    assert severity_of(impact, pct, DetectorConfig(min_impact_abs=100.0)) is expected


def test_anomaly_ids_are_stable_across_runs():
    records = add(flat_records(90), START + timedelta(days=70), 400.0)
    assert [a.id for a in detect_anomalies(records)] == [a.id for a in detect_anomalies(records)]
