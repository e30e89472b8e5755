"""Cost data import: FOCUS CSV/Parquet, CUR CSV, Cost Explorer responses; malformed files name the line."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from acso_financial_intelligence.costs import importers
from acso_financial_intelligence.costs.importers import (
    ImportProgress,
    aggregate_daily,
    cost_and_usage_response,
    import_cost_file,
    iter_cur_csv,
    iter_focus_csv,
    iter_focus_parquet,
    parse_cost_and_usage,
    parse_cost_forecast,
)
from acso_financial_intelligence.costs.models import UNSPECIFIED, ChargeCategory, CostRecord
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "costs"


def test_a_focus_csv_becomes_cost_records_with_normalised_tags():
    records = list(iter_focus_csv(FIXTURES / "focus_1_0_sample.csv"))
    assert len(records) == 44
    ec2 = records[0]
    assert ec2.usage_date == date(2026, 3, 1)
    assert ec2.amount == pytest.approx(67.2)
    assert (ec2.service, ec2.account, ec2.region) == ("Amazon Elastic Compute Cloud", "111111111111", "us-east-1")
    assert ec2.tags == {"team": "payments", "env": "prod"}
    assert ec2.usage_type == "BoxUsage:m5.xlarge"
    assert ec2.resource_id == "arn:aws:ec2:us-east-1:111111111111:instance/i-0a1b2c3d4e5f60718"


def test_focus_charge_categories_and_empty_regions_are_kept():
    records = list(iter_focus_csv(FIXTURES / "focus_1_0_sample.csv"))
    support = next(r for r in records if r.service == "AWS Support (Business)")
    assert support.charge_category is ChargeCategory.PURCHASE
    assert support.region == UNSPECIFIED
    assert any(r.charge_category is ChargeCategory.TAX for r in records)


def test_the_effective_cost_column_can_be_chosen():
    [first, *_] = iter_focus_csv(FIXTURES / "focus_1_0_sample.csv", cost_column="EffectiveCost")
    assert first.amount == pytest.approx(56.0)


def test_a_malformed_cost_names_its_line_and_column():
    with pytest.raises(Invalid) as caught:
        list(iter_focus_csv(FIXTURES / "focus_malformed_cost.csv"))
    assert caught.value.code == "cost_file_invalid"
    assert caught.value.details["line"] == 5
    assert caught.value.details["column"] == "BilledCost"
    assert "line 5" in caught.value.message


def test_malformed_tags_json_names_its_line():
    with pytest.raises(Invalid) as caught:
        list(iter_focus_csv(FIXTURES / "focus_malformed_tags.csv"))
    assert (caught.value.details["line"], caught.value.details["column"]) == (7, "Tags")


def test_rows_before_the_malformed_line_are_streamed_first():
    stream = iter_focus_csv(FIXTURES / "focus_malformed_cost.csv")
    seen = [next(stream) for _ in range(3)]
    assert len(seen) == 3
    with pytest.raises(Invalid):
        next(stream)


def test_a_missing_required_column_is_reported_on_the_header_line():
    with pytest.raises(Invalid) as caught:
        list(import_cost_file(FIXTURES / "focus_missing_column.csv"))
    assert caught.value.details["line"] == 1
    assert "ServiceName" in caught.value.message


def test_a_row_with_too_few_fields_is_rejected(tmp_path):
    path = tmp_path / "short.csv"
    lines = (FIXTURES / "focus_1_0_sample.csv").read_text().splitlines()
    path.write_text("\n".join([*lines[:3], "1.0,999999999999,USD", *lines[3:5]]) + "\n")
    with pytest.raises(Invalid) as caught:
        list(iter_focus_csv(path))
    assert caught.value.details["line"] == 4


def test_a_cur_csv_becomes_cost_records():
    records = list(iter_cur_csv(FIXTURES / "cur_sample.csv"))
    assert len(records) == 9
    first, second, credit = records[:3]
    assert (first.service, first.account, first.region) == ("Amazon Elastic Compute Cloud", "111111111111", "us-east-1")
    assert first.tags == {"team": "search", "env": "prod"}
    assert second.tags == {"env": "prod"}
    assert first.resource_id == "i-0123456789abcdef0"
    assert credit.charge_category is ChargeCategory.CREDIT
    assert credit.amount == pytest.approx(-0.5)


def test_a_malformed_cur_date_names_its_line():
    with pytest.raises(Invalid) as caught:
        list(iter_cur_csv(FIXTURES / "cur_malformed_date.csv"))
    assert caught.value.details == {"source": "cur_malformed_date.csv", "line": 3, "column": "lineItem/UsageStartDate"}


def test_hourly_cur_lines_aggregate_into_daily_records():
    daily = aggregate_daily(iter_cur_csv(FIXTURES / "cur_sample.csv"))
    ec2_day_one = [r for r in daily if r.usage_date == date(2026, 3, 1) and r.account == "111111111111"]
    # The two hours differ in tags, so they stay two slices of the day.
    assert sorted(r.amount for r in ec2_day_one) == pytest.approx([0.085, 0.085])
    assert all(r.resource_id is None for r in daily)


def test_the_file_kind_is_recognised_from_the_header():
    assert len(list(import_cost_file(FIXTURES / "cur_sample.csv"))) == 9
    assert len(list(import_cost_file(FIXTURES / "focus_1_0_sample.csv"))) == 44


def test_an_unknown_file_type_is_rejected(tmp_path):
    path = tmp_path / "bill.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(Invalid, match=r"expected \.csv"):
        import_cost_file(path)


def test_gzipped_csv_streams_with_progress_in_rows_and_bytes(tmp_path, monkeypatch):
    path = tmp_path / "focus.csv.gz"
    with (FIXTURES / "focus_1_0_sample.csv").open("rb") as src, gzip.open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    monkeypatch.setattr(importers, "PROGRESS_EVERY_ROWS", 10)
    reports: list[ImportProgress] = []
    records = list(import_cost_file(path, progress=reports.append))
    assert len(records) == 44
    assert [p.rows for p in reports] == [10, 20, 30, 40, 44]
    assert reports[-1].bytes_read == reports[-1].total_bytes == path.stat().st_size
    assert reports[-1].fraction == 1.0


def _focus_table(tags: list[object], cost: list[object]) -> pa.Table:
    n = len(cost)
    return pa.table(
        {
            "ChargePeriodStart": pa.array([f"2026-03-0{i + 1}T00:00:00Z" for i in range(n)]),
            "ServiceName": pa.array(["Amazon Elastic Compute Cloud"] * n),
            "BillingCurrency": pa.array(["USD"] * n),
            "BilledCost": pa.array(cost, type=pa.float64()),
            "SubAccountId": pa.array(["111111111111"] * n),
            "RegionId": pa.array(["eu-west-1"] * n),
            "ChargeCategory": pa.array(["Usage"] * n),
            "Tags": pa.array(tags, type=pa.map_(pa.string(), pa.string())),
        }
    )


def test_a_focus_parquet_with_map_tags_becomes_cost_records(tmp_path):
    path = tmp_path / "focus.parquet"
    pq.write_table(_focus_table([[("user:team", "search")], []], [10.5, 20.0]), path, row_group_size=1)
    progress: list[ImportProgress] = []
    records = list(iter_focus_parquet(path, progress=progress.append))
    assert [r.amount for r in records] == [10.5, 20.0]
    assert records[0].tags == {"team": "search"}
    assert records[1].region == "eu-west-1"
    assert progress[-1].rows == 2
    assert progress[-1].fraction == 1.0


def test_a_null_cost_in_parquet_names_its_row(tmp_path):
    path = tmp_path / "focus.parquet"
    pq.write_table(_focus_table([[], [], []], [1.0, 2.0, None]), path)
    with pytest.raises(Invalid) as caught:
        list(import_cost_file(path))
    assert (caught.value.details["row"], caught.value.details["column"]) == (3, "BilledCost")


def test_a_file_that_is_not_parquet_is_rejected(tmp_path):
    path = tmp_path / "focus.parquet"
    path.write_text("BilledCost\n1.0\n")
    with pytest.raises(Invalid) as caught:
        list(import_cost_file(path))
    assert caught.value.code == "cost_file_invalid"


def test_cost_explorer_groups_map_onto_record_dimensions():
    response = json.loads((FIXTURES / "ce_get_cost_and_usage_service_region.json").read_text())
    records = parse_cost_and_usage(response)
    assert [(r.usage_date.day, r.service, r.region, r.amount) for r in records] == [
        (1, "Amazon Elastic Compute Cloud - Compute", "us-east-1", pytest.approx(412.3345021)),
        (1, "Amazon Simple Storage Service", "eu-west-1", 61.09),
        (2, "Amazon Elastic Compute Cloud - Compute", "us-east-1", 430.1),
        (2, "Amazon Elastic Compute Cloud - Compute", "sa-east-1", 1958.4),
    ]
    assert all(r.account == UNSPECIFIED for r in records)
    assert [r.estimated for r in records] == [False, False, True, True]


def test_cost_explorer_tag_groups_leave_untagged_spend_without_the_tag():
    response = json.loads((FIXTURES / "ce_get_cost_and_usage_tag.json").read_text())
    untagged, payments = parse_cost_and_usage(response)
    assert untagged.tags == {}
    assert payments.tags == {"team": "payments"}


def test_a_monthly_cost_explorer_response_is_rejected():
    response = {"ResultsByTime": [{"TimePeriod": {"Start": "2026-03-01", "End": "2026-04-01"}, "Groups": []}]}
    with pytest.raises(Invalid, match="DAILY"):
        parse_cost_and_usage(response)


def test_records_round_trip_through_a_cost_explorer_response():
    records = [
        CostRecord(usage_date=date(2026, 3, 1), amount=5.0, service="AWS Lambda", account="111111111111"),
        CostRecord(usage_date=date(2026, 3, 1), amount=7.0, service="AWS Lambda", account="111111111111"),
        CostRecord(usage_date=date(2026, 3, 2), amount=3.0, service="Amazon S3", account="222222222222"),
    ]
    group_by = [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}]
    parsed = parse_cost_and_usage(cost_and_usage_response(records, group_by))
    assert [(r.usage_date.day, r.service, r.account, r.amount) for r in parsed] == [
        (1, "AWS Lambda", "111111111111", 12.0),
        (2, "Amazon S3", "222222222222", 3.0),
    ]


def test_cost_explorer_seeded_in_the_emulator_parses_into_records():
    moto = pytest.importorskip("moto")
    import boto3  # type: ignore[import-untyped]
    import requests

    response = json.loads((FIXTURES / "ce_get_cost_and_usage_service_region.json").read_text())
    with moto.mock_aws():
        seeded = requests.post(
            "http://motoapi.amazonaws.com/moto-api/static/ce/cost-and-usage-results",
            json={"results": [response]},
            timeout=5,
        )
        assert seeded.status_code == 201
        client = boto3.client("ce", region_name="us-east-1")
        group_by = response["GroupDefinitions"]
        answer = client.get_cost_and_usage(
            TimePeriod={"Start": "2026-03-01", "End": "2026-03-03"},
            Granularity="DAILY",
            Metrics=["UnblendedCost"],
            GroupBy=group_by,
        )
    records = parse_cost_and_usage(answer, group_by)
    assert sum(r.amount for r in records) == pytest.approx(412.3345021 + 61.09 + 430.1 + 1958.4)


def test_a_cost_forecast_response_parses_into_points_with_bounds():
    forecast = parse_cost_forecast(json.loads((FIXTURES / "ce_get_cost_forecast.json").read_text()))
    assert forecast.total == pytest.approx(27345.1234)
    assert forecast.unit == "USD"
    first = forecast.points[0]
    assert (first.date, first.mean, first.lower, first.upper) == (date(2026, 3, 15), 901.5, 850.0, 960.25)


def test_a_malformed_cost_forecast_response_is_invalid():
    with pytest.raises(Invalid) as caught:
        parse_cost_forecast({"ForecastResultsByTime": []})
    assert caught.value.code == "ce_response_invalid"
