"""Security cost link: incident cost impact and compute-anomaly alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from acso_financial_intelligence.costs.anomaly import detect_anomalies
from acso_financial_intelligence.costs.models import CostRecord, Dimension, SecurityFinding, Severity
from acso_financial_intelligence.costs.security_cost import (
    ALERT_SOURCE,
    ALERT_TYPE,
    compute_anomaly_alerts,
    forensic_snapshot_cost,
    incident_cost_impact,
    response_action_costs,
)
from acso_shared.contracts import ResponseActionRecord
from tests.unit.finance.finance_helpers import START, flat_records

pytestmark = pytest.mark.unit

EC2 = "Amazon Elastic Compute Cloud - Compute"
MINING_DAY = START + timedelta(days=75)


def _mining(days: int = 3) -> list[CostRecord]:
    return [
        CostRecord(
            usage_date=MINING_DAY + timedelta(days=d),
            amount=587.52,
            service=EC2,
            account="111111111111",
            region="sa-east-1",
            usage_type="BoxUsage:p3.16xlarge",
            resource_id=rid,
        )
        for d in range(days)
        for rid in ("i-0miner1", "i-0miner2")
    ]


def _bill() -> list[CostRecord]:
    web = [r.model_copy(update={"resource_id": "i-0web"}) for r in flat_records(90, 40.0, service=EC2)]
    return web + _mining()


def _at(day, hour: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_a_miners_instances_cost_their_whole_spend_because_they_had_no_baseline():
    impact = incident_cost_impact(
        "inc-1", ["i-0miner1", "i-0miner2"], _at(MINING_DAY, 3), _at(MINING_DAY + timedelta(days=2), 18), _bill()
    )
    assert impact.actual_cost == pytest.approx(6 * 587.52, abs=0.05)
    assert impact.baseline_cost == 0.0
    assert impact.total_impact == pytest.approx(impact.excess_cost)
    assert impact.resources[0].services == [EC2]


def test_an_existing_resource_costs_only_its_excess_over_its_baseline():
    bill = _bill()
    arn = "arn:aws:ec2:us-east-1:111111111111:instance/i-0web"
    bill += [CostRecord(usage_date=MINING_DAY, amount=300.0, service=EC2, resource_id=arn)]
    impact = incident_cost_impact("inc-2", ["i-0web"], _at(MINING_DAY, 1), _at(MINING_DAY, 20), bill)
    [web] = impact.resources
    assert web.baseline == pytest.approx(40.0, rel=0.03)
    assert web.excess == pytest.approx(300.0, abs=2.0)


def test_response_actions_add_to_the_incident_cost():
    snapshot = forensic_snapshot_cost(500, 90, "vol-1")
    assert snapshot.cost == pytest.approx(75.0)
    impact = incident_cost_impact(
        "inc-3", ["i-0miner1"], _at(MINING_DAY), _at(MINING_DAY, 23), _bill(), response_actions=[snapshot]
    )
    assert impact.total_impact == pytest.approx(587.52 + 75.0, abs=0.05)


def test_a_window_ending_before_it_starts_is_rejected():
    with pytest.raises(ValueError, match="ends before"):
        incident_cost_impact("inc-4", ["i-1"], _at(MINING_DAY, 5), _at(MINING_DAY, 4), [])


def _finding(region: str, when: datetime, account: str | None = "111111111111") -> SecurityFinding:
    return SecurityFinding(
        id="gd-1",
        title="CryptoCurrency:EC2/BitcoinTool.B!DNS",
        region=region,
        account=account,
        observed_at=when,
        severity=Severity.HIGH,
        resource_ids=["i-0miner1"],
    )


def test_a_compute_anomaly_with_a_concurrent_finding_in_its_region_raises_an_alert():
    anomalies = detect_anomalies(_bill(), dimensions=[Dimension.REGION])
    [alert] = compute_anomaly_alerts(anomalies, [_finding("sa-east-1", _at(MINING_DAY, 9))])
    assert alert["source"] == ALERT_SOURCE
    assert alert["type"] == ALERT_TYPE
    # The finding is high, the $3.5k jump from nothing is critical: the alert takes the higher.
    assert alert["severity"] == "critical"
    assert {"type": "region", "value": "sa-east-1"} in alert["observables"]
    assert {"i-0miner1", "i-0miner2"} <= set(alert["resources"])
    assert alert["occurred_at"] == _at(MINING_DAY).isoformat()
    assert alert["cost"]["usage_types"] == ["BoxUsage:p3.16xlarge"]


def test_a_finding_in_another_region_raises_no_alert():
    anomalies = detect_anomalies(_bill(), dimensions=[Dimension.REGION])
    assert compute_anomaly_alerts(anomalies, [_finding("us-east-1", _at(MINING_DAY, 9))]) == []


def test_a_finding_long_before_the_anomaly_raises_no_alert():
    anomalies = detect_anomalies(_bill(), dimensions=[Dimension.SERVICE])
    assert compute_anomaly_alerts(anomalies, [_finding("sa-east-1", _at(MINING_DAY - timedelta(days=10)))]) == []


def test_a_finding_in_another_account_raises_no_alert():
    anomalies = detect_anomalies(_bill(), dimensions=[Dimension.SERVICE])
    assert compute_anomaly_alerts(anomalies, [_finding("sa-east-1", _at(MINING_DAY, 9), "999999999999")]) == []


def test_a_non_compute_anomaly_raises_no_alert():
    bill = flat_records(90, 50.0, service="Amazon Simple Storage Service", region="sa-east-1")
    bill += [r.model_copy(update={"service": "Amazon Simple Storage Service"}) for r in _mining()]
    anomalies = detect_anomalies(bill, dimensions=[Dimension.REGION])
    assert anomalies
    assert compute_anomaly_alerts(anomalies, [_finding("sa-east-1", _at(MINING_DAY, 9))]) == []


def test_the_response_costs_its_forensic_snapshots_and_the_downtime_of_the_instances_it_isolated() -> None:
    isolated_at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    records = [
        CostRecord(usage_date=date(2026, 3, d), service="Amazon EC2", resource_id="i-0abc", amount=24.0)
        for d in range(1, 10)
    ]
    actions = [
        ResponseActionRecord(
            action_type="ec2.snapshot_volumes",
            target="ec2_instance:i-0abc",
            status="succeeded",
            details={"sizes_gib": {"snap-1": 100, "snap-2": 20}},
        ),
        ResponseActionRecord(
            action_type="ec2.quarantine", target="ec2_instance:i-0abc", status="succeeded", finished_at=isolated_at
        ),
        ResponseActionRecord(action_type="ec2.stop", target="ec2_instance:i-0abc", status="rejected"),
    ]

    costs = response_action_costs(actions, records, isolated_at + timedelta(hours=12), retention_days=90)

    by_kind = {(c.action, c.resource_id): c.cost for c in costs}
    assert by_kind[("forensic_snapshot", "snap-1")] == round(100 * 0.05 * 3, 2)
    assert by_kind[("forensic_snapshot", "snap-2")] == round(20 * 0.05 * 3, 2)
    # 24/day usual spend, half a day out of service; the rejected stop costs nothing.
    assert by_kind[("ec2.quarantine:downtime", "i-0abc")] == 12.0
    assert len(costs) == 3
