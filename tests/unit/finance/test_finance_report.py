"""Summary, top movers and the executive report (JSON model and self-contained HTML)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from acso_financial_intelligence.costs.models import Dimension, ExecutiveReport
from acso_financial_intelligence.costs.report import (
    build_executive_report,
    render_executive_html,
    summarize,
    top_movers,
)
from tests.unit.finance.finance_helpers import START, flat_records, sample_report_inputs

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def report() -> ExecutiveReport:
    return build_executive_report(**sample_report_inputs())  # type: ignore[arg-type]


def test_the_summary_totals_the_period_and_compares_with_the_previous_one():
    records = flat_records(20, 100.0, wobble=0) + flat_records(
        10, 50.0, service="AWS Lambda", wobble=0, start=START + timedelta(days=10)
    )
    summary = summarize(records, START + timedelta(days=10), START + timedelta(days=19))
    assert summary.total == pytest.approx(1500.0)
    assert summary.previous_total == pytest.approx(1000.0)
    assert summary.change_pct == pytest.approx(50.0)
    assert [(b.key, b.share) for b in summary.by_service] == [("Amazon DynamoDB", 0.6667), ("AWS Lambda", 0.3333)]
    assert len(summary.daily) == 10


def test_top_movers_rank_by_absolute_change_and_mark_new_spend():
    records = flat_records(20, 100.0, wobble=0) + flat_records(
        10, 50.0, service="AWS Lambda", wobble=0, start=START + timedelta(days=10)
    )
    [mover] = top_movers(records, Dimension.SERVICE, START + timedelta(days=10), START + timedelta(days=19))
    assert (mover.key, mover.change_abs, mover.change_pct) == ("AWS Lambda", 500.0, None)


def test_the_report_carries_every_section_and_says_it_is_deterministic(report):
    assert report.reasoning == "deterministic"
    assert report.forecast is not None
    assert report.anomalies
    assert report.incidents[0].total_impact > 0
    assert report.waste_monthly_savings == pytest.approx(sum(w.monthly_savings for w in report.waste))
    assert any("forecast to close" in h for h in report.highlights)
    assert ExecutiveReport.model_validate_json(report.model_dump_json()) == report


class _Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.external: list[str] = []
        self.headings: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_h2 = tag == "h2"
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        if self._in_h2:
            self.headings.append(data)
            self._in_h2 = False


def test_the_html_is_self_contained_with_charts_and_tables(report):
    page = render_executive_html(report)
    parsed = _Structure()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert parsed.external == []
    assert parsed.tags.count("svg") == 3  # trend, top movers, incident cost
    assert parsed.headings == [
        "Highlights",
        "Cost trend and forecast",
        "Top movers (by service)",
        "Cost anomalies",
        "Cost of security incidents",
        "Waste and savings",
        "Tagging coverage",
    ]
    assert page.startswith("<!DOCTYPE html>")


def test_the_trend_chart_marks_anomalies_and_draws_the_forecast_band(report):
    page = render_executive_html(report)
    in_period = [a for a in report.anomalies if a.peak_date >= report.summary.start]
    assert len(re.findall(r"<circle ", page)) == len(in_period)
    assert "<polygon " in page
    assert 'stroke-dasharray="6 4"' in page


def test_text_from_the_data_is_escaped(report):
    hostile = report.model_copy(update={"highlights": ["<script>alert(1)</script>"]})
    page = render_executive_html(hostile)
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_a_report_needs_cost_records():
    with pytest.raises(ValueError, match="no cost records"):
        build_executive_report([], generated_at=datetime(2026, 6, 1, tzinfo=UTC))
