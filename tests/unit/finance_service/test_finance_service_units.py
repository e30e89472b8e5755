"""Specs of the service layer's pure parts: Cost Explorer call plan, alert mapping, imports, forecast mapping."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from acso_financial_intelligence.alerts import to_generic_alert
from acso_financial_intelligence.cost_explorer import default_period, forecast_metric, seed_responses
from acso_financial_intelligence.costs.anomaly import detect_anomalies
from acso_financial_intelligence.costs.importers import CeForecast, parse_cost_and_usage
from acso_financial_intelligence.costs.models import CostRecord, Dimension, ForecastPoint, SecurityFinding, Severity
from acso_financial_intelligence.costs.security_cost import compute_anomaly_alerts
from acso_financial_intelligence.imports import detect_format, read_cost_file, suffix_for
from acso_financial_intelligence.models import ImportFormat
from acso_financial_intelligence.service import forecast_from_ce
from acso_financial_intelligence.settings import Settings
from acso_shared.alerts.normalize import normalize_payload
from acso_shared.errors import Invalid, UnsupportedMediaType

pytestmark = pytest.mark.unit

START = date(2026, 1, 5)
FOCUS_HEADER = "ChargePeriodStart,ServiceName,BillingCurrency,BilledCost,SubAccountId,RegionId,ResourceId,Tags\n"


def _record(day: int, amount: float, **fields: object) -> CostRecord:
    values: dict[str, object] = {"service": "Amazon DynamoDB", "account": "111111111111", "region": "us-east-1"}
    values.update(fields)
    return CostRecord(usage_date=START + timedelta(days=day), amount=amount, **values)


def test_seeded_responses_follow_the_call_plan_and_rebuild_the_detail_partition() -> None:
    records = [
        _record(0, 10.0, tags={"team": "search"}),
        _record(0, 5.0, account="222222222222", region="eu-west-1", service="AWS Lambda"),
        _record(1, 7.0),
    ]

    accounts, first, second, by_team = seed_responses(records, ["team"])

    assert {tuple(g["Keys"]) for r in accounts["ResultsByTime"] for g in r["Groups"]} == {
        ("111111111111",),
        ("222222222222",),
    }
    rebuilt = parse_cost_and_usage(first) + parse_cost_and_usage(second)
    assert sorted((r.usage_date, r.service, r.region, r.amount) for r in rebuilt) == sorted(
        (r.usage_date, r.service, r.region, r.amount) for r in records
    )
    team = parse_cost_and_usage(by_team)
    assert sum(r.amount for r in team if r.tags.get("team") == "search") == pytest.approx(10.0)
    assert sum(r.amount for r in team) == pytest.approx(22.0)


def test_forecast_metrics_are_named_in_upper_snake_case() -> None:
    assert forecast_metric("UnblendedCost") == "UNBLENDED_COST"
    assert forecast_metric("AmortizedCost") == "AMORTIZED_COST"


def test_the_refresh_window_ends_with_yesterday() -> None:
    assert default_period(date(2026, 3, 10), 30) == (date(2026, 2, 8), date(2026, 3, 10))


def _mining_alert() -> dict[str, object]:
    bill = [_record(i, 50.0, service="Amazon Elastic Compute Cloud - Compute", region="sa-east-1") for i in range(60)]
    bill += [
        _record(
            60,
            587.52,
            service="Amazon Elastic Compute Cloud - Compute",
            region="sa-east-1",
            resource_id=f"i-0abc{n}def01234567",
            usage_type="BoxUsage:p3.16xlarge",
        )
        for n in range(3)
    ]
    finding = SecurityFinding(
        id="gd-1",
        title="CryptoCurrency:EC2/BitcoinTool.B!DNS",
        region="sa-east-1",
        account="111111111111",
        observed_at=datetime.combine(START + timedelta(days=60), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9),
        severity=Severity.HIGH,
        resource_ids=["i-0abc0def01234567"],
    )
    [alert] = compute_anomaly_alerts(detect_anomalies(bill, dimensions=[Dimension.REGION]), [finding])
    return alert


def test_a_cost_alert_becomes_a_generic_alert_the_main_flow_accepts() -> None:
    alert = _mining_alert()
    generic = to_generic_alert(alert)

    [normalized] = normalize_payload({"alerts": [generic]})
    assert normalized.source == "acso.financial_intelligence"
    assert normalized.region == "sa-east-1"
    assert {r.id for r in normalized.resources} == {f"i-0abc{n}def01234567" for n in range(3)}
    assert normalized.severity.label.value == alert["severity"]


def test_the_generic_alert_id_is_stable_so_a_resend_is_the_same_alert() -> None:
    alert = _mining_alert()
    assert to_generic_alert(alert)["id"] == to_generic_alert(alert)["id"]


def test_upload_media_types_map_to_parser_suffixes_and_others_are_refused() -> None:
    assert suffix_for("text/csv") == ".csv"
    assert suffix_for("application/gzip") == ".csv.gz"
    assert suffix_for("application/vnd.apache.parquet") == ".parquet"
    with pytest.raises(UnsupportedMediaType):
        suffix_for("application/json")


def test_the_format_is_recognised_from_the_header(tmp_path: Path) -> None:
    focus = tmp_path / "bill.csv"
    focus.write_text(FOCUS_HEADER)
    cur = tmp_path / "cur.csv.gz"
    cur.write_bytes(gzip.compress(b"lineItem/UsageStartDate,lineItem/UnblendedCost,product/ProductName\n"))
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")

    assert detect_format(focus) is ImportFormat.FOCUS
    assert detect_format(cur) is ImportFormat.CUR
    with pytest.raises(Invalid, match="neither a FOCUS"):
        detect_format(other)


def test_a_focus_file_is_read_into_daily_records_per_resource(tmp_path: Path) -> None:
    path = tmp_path / "bill.csv"
    path.write_text(
        FOCUS_HEADER
        + "2026-01-05T00:00:00Z,Amazon EC2,USD,1.5,111111111111,us-east-1,i-1,{}\n"
        + "2026-01-05T01:00:00Z,Amazon EC2,USD,2.5,111111111111,us-east-1,i-1,{}\n"
        + "2026-01-05T01:00:00Z,Amazon EC2,USD,4,111111111111,us-east-1,i-2,{}\n"
    )
    seen: list[int] = []

    records = read_cost_file(path, ImportFormat.FOCUS, lambda p: seen.append(p.rows))

    assert sorted((r.resource_id, r.amount) for r in records) == [("i-1", 4.0), ("i-2", 4.0)]
    assert seen[-1] == 3


def test_a_cur_import_refuses_parquet(tmp_path: Path) -> None:
    path = tmp_path / "cur.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(Invalid, match="CSV"):
        read_cost_file(path, ImportFormat.CUR, lambda _: None)


def test_cost_explorer_forecasts_add_up_to_month_totals_on_top_of_spend_to_date() -> None:
    records = [CostRecord(usage_date=date(2026, 3, d), amount=10.0, service="s") for d in range(1, 11)]
    points = [
        ForecastPoint(date=date(2026, 3, 11) + timedelta(days=i), mean=10.0, lower=8.0, upper=12.0) for i in range(80)
    ]

    forecast = forecast_from_ce(CeForecast(total=800.0, unit="USD", points=points), records, date(2026, 3, 10), 0.8)

    assert forecast.month_end.month == "2026-03"
    assert forecast.month_end.actual_to_date == 100.0
    assert forecast.month_end.forecast_total == pytest.approx(100.0 + 21 * 10.0)
    assert (forecast.month_end.lower, forecast.month_end.upper) == (100.0 + 21 * 8.0, 100.0 + 21 * 12.0)
    assert [m.month for m in forecast.next_months] == ["2026-04", "2026-05"]
    assert forecast.method == "AWS Cost Explorer GetCostForecast"


def test_list_settings_are_comma_separated_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACSO_COST_TAG_KEYS", "team, cost-center")
    monkeypatch.setenv("ACSO_WASTE_REGIONS", "us-east-1,eu-west-1")

    settings = Settings()

    assert settings.cost_tag_keys == ("team", "cost-center")
    assert settings.waste_regions == ("us-east-1", "eu-west-1")
