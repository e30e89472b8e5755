"""Builders of small, exact cost series for the finance unit tests."""

from __future__ import annotations

from datetime import date, timedelta

from acso_financial_intelligence.costs.models import CostRecord

START = date(2026, 1, 5)  # a Monday


def flat_records(
    days: int,
    amount: float = 100.0,
    *,
    service: str = "Amazon DynamoDB",
    account: str = "111111111111",
    region: str = "us-east-1",
    start: date = START,
    weekend_factor: float = 1.0,
    wobble: float = 0.02,
    usage_type: str = "ReadCapacityUnit-Hrs",
    tags: dict[str, str] | None = None,
) -> list[CostRecord]:
    """A steady daily series with a deterministic +-wobble and an optional weekend dip."""
    out = []
    for i in range(days):
        day = start + timedelta(days=i)
        factor = weekend_factor if day.weekday() >= 5 else 1.0
        value = amount * factor * (1 + wobble * ((i * 7) % 5 - 2) / 2)
        out.append(
            CostRecord(
                usage_date=day,
                amount=value,
                service=service,
                account=account,
                region=region,
                usage_type=usage_type,
                tags=tags or {},
            )
        )
    return out


def add(records: list[CostRecord], day: date, amount: float, **fields: object) -> list[CostRecord]:
    """The records plus one extra record on `day` (fields default to the first record's)."""
    template = records[0]
    extra = template.model_copy(update={"usage_date": day, "amount": amount, **fields})
    return [*records, extra]


def sample_report_inputs() -> dict[str, object]:
    """Everything an executive report needs, from generated data with labelled anomalies (seed 3)."""
    from datetime import UTC, datetime

    from acso_financial_intelligence.costs.anomaly import detect_anomalies
    from acso_financial_intelligence.costs.forecast import forecast_records
    from acso_financial_intelligence.costs.generator import AnomalyKind, generate_costs
    from acso_financial_intelligence.costs.models import VolumeInfo
    from acso_financial_intelligence.costs.security_cost import forensic_snapshot_cost, incident_cost_impact
    from acso_financial_intelligence.costs.waste import find_waste, tag_coverage

    data = generate_costs(3, days=150)
    now = datetime.combine(data.start + timedelta(days=data.days), datetime.min.time(), tzinfo=UTC)
    mining = next(a for a in data.anomalies if a.kind is AnomalyKind.CRYPTO_MINING)
    incident = incident_cost_impact(
        "INC-0042",
        mining.resource_ids,
        datetime.combine(mining.start, datetime.min.time(), tzinfo=UTC),
        datetime.combine(mining.end, datetime.max.time(), tzinfo=UTC),
        data.records,
        response_actions=[forensic_snapshot_cost(500, 90, "vol-0forensic")],
    )
    volumes = [
        VolumeInfo(
            volume_id="vol-0unused",
            size_gib=800,
            volume_type="gp2",
            state="available",
            create_time=now - timedelta(days=60),
        )
    ]
    return {
        "records": data.records,
        "generated_at": now,
        "period_days": 60,
        "anomalies": detect_anomalies(data.records),
        "forecast": forecast_records(data.records),
        "waste": find_waste(now=now, volumes=volumes, records=data.records, required_tags=["team"]),
        "tag_coverage": tag_coverage(data.records, ["team", "env"]),
        "incidents": [incident],
    }
