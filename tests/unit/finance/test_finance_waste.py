"""Waste: idle/oversized instances, unattached volumes, old snapshots, tag coverage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from acso_financial_intelligence.costs.models import (
    ChargeCategory,
    InstanceUtilization,
    SnapshotInfo,
    VolumeInfo,
    WasteKind,
)
from acso_financial_intelligence.costs.waste import (
    find_waste,
    instance_findings,
    smaller_instance_type,
    snapshot_findings,
    tag_coverage,
    volume_findings,
)
from tests.unit.finance.finance_helpers import add, flat_records

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _instance(cpu_avg: float, cpu_max: float, net_mb: float, days: int = 14, **kw: object) -> InstanceUtilization:
    return InstanceUtilization.model_validate(
        {
            "instance_id": "i-0aaa",
            "instance_type": "m5.2xlarge",
            "hourly_price": 0.384,
            "cpu_avg_pct": [cpu_avg] * days,
            "cpu_max_pct": [cpu_max] * days,
            "network_bytes": [net_mb * 1e6] * days,
            **kw,
        }
    )


def test_an_instance_quiet_on_nearly_every_day_is_idle_and_saves_its_full_cost():
    [finding] = instance_findings([_instance(1.5, 4.0, 0.5)])
    assert finding.kind is WasteKind.IDLE_INSTANCE
    assert finding.monthly_savings == pytest.approx(0.384 * 730, abs=0.01)


def test_an_instance_with_network_traffic_is_not_idle():
    findings = instance_findings([_instance(1.5, 30.0, 500.0)])
    assert [f.kind for f in findings] == [WasteKind.OVERSIZED_INSTANCE]


def test_an_instance_that_never_peaks_above_40_percent_is_oversized_with_a_smaller_type():
    [finding] = instance_findings([_instance(15.0, 35.0, 200.0)])
    assert finding.kind is WasteKind.OVERSIZED_INSTANCE
    assert finding.evidence["target"] == "m5.xlarge"
    assert finding.monthly_savings == pytest.approx(0.384 * 730 / 2, abs=0.01)


def test_a_busy_instance_is_not_waste():
    assert instance_findings([_instance(55.0, 95.0, 900.0)]) == []


def test_too_short_an_observation_gives_no_verdict():
    assert instance_findings([_instance(1.0, 2.0, 0.1, days=3)]) == []


def test_the_instance_cost_comes_from_the_bill_when_resource_records_exist():
    records = [
        r.model_copy(update={"resource_id": "arn:aws:ec2:us-east-1:1:instance/i-0aaa", "amount": 12.0})
        for r in flat_records(10)
    ]
    [finding] = instance_findings([_instance(1.0, 2.0, 0.1, hourly_price=None)], records)
    assert finding.monthly_savings == pytest.approx(12.0 * 730 / 24, abs=0.01)


@pytest.mark.parametrize(
    ("given", "expected"),
    [("m5.2xlarge", "m5.xlarge"), ("t3.large", "t3.medium"), ("c5.24xlarge", "c5.12xlarge"), ("t3.nano", None)],
)
def test_downsizing_halves_the_size(given, expected):
    assert smaller_instance_type(given) == expected


def test_an_unattached_volume_past_the_grace_period_costs_its_size_times_price():
    volumes = [
        VolumeInfo(
            volume_id="vol-1", size_gib=500, volume_type="gp2", state="available", create_time=NOW - timedelta(days=40)
        ),
        VolumeInfo(volume_id="vol-2", size_gib=100, state="in-use", create_time=NOW - timedelta(days=400)),
        VolumeInfo(volume_id="vol-3", size_gib=100, state="available", create_time=NOW - timedelta(days=2)),
    ]
    [finding] = volume_findings(volumes, NOW)
    assert finding.resource_id == "vol-1"
    assert finding.monthly_savings == pytest.approx(50.0)


def test_old_snapshots_are_found_and_orphans_are_called_out():
    snaps = [
        SnapshotInfo(snapshot_id="snap-old", volume_id="vol-gone", size_gib=200, start_time=NOW - timedelta(days=400)),
        SnapshotInfo(snapshot_id="snap-new", volume_id="vol-2", size_gib=200, start_time=NOW - timedelta(days=10)),
    ]
    [finding] = snapshot_findings(snaps, NOW, existing_volume_ids=["vol-2"])
    assert finding.resource_id == "snap-old"
    assert finding.evidence["source_volume"] == "deleted"
    assert finding.monthly_savings == pytest.approx(10.0)


def test_tag_coverage_counts_usage_spend_per_required_tag():
    records = flat_records(10, 100.0, tags={"team": "payments", "env": "prod"})
    records += flat_records(10, 50.0, service="AWS Lambda", tags={"env": "prod"})
    records = add(records, records[0].usage_date, 999.0, charge_category=ChargeCategory.TAX, tags={})
    team, env = tag_coverage(records, ["team", "env"])
    assert team.coverage_pct == pytest.approx(100 * 1000 / 1500, rel=0.02)
    assert team.untagged_spend == pytest.approx(team.total_spend - team.tagged_spend)
    assert env.coverage_pct == 100.0


def test_find_waste_puts_the_biggest_saving_first_and_untagged_spend_last():
    records = flat_records(10, 100.0, tags={})
    volumes = [VolumeInfo(volume_id="vol-1", size_gib=50, state="available", create_time=NOW - timedelta(days=30))]
    findings = find_waste(
        now=NOW, instances=[_instance(1.0, 2.0, 0.1)], volumes=volumes, records=records, required_tags=["team"]
    )
    assert [f.kind for f in findings] == [
        WasteKind.IDLE_INSTANCE,
        WasteKind.UNATTACHED_VOLUME,
        WasteKind.UNTAGGED_SPEND,
    ]
    assert "Amazon DynamoDB" in str(findings[-1].evidence["top_services"])
