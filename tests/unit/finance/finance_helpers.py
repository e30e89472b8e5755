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
            CostRecord(usage_date=day, amount=value, service=service, account=account, region=region,
                       usage_type=usage_type, tags=tags or {})
        )
    return out


def add(records: list[CostRecord], day: date, amount: float, **fields: object) -> list[CostRecord]:
    """The records plus one extra record on `day` (fields default to the first record's)."""
    template = records[0]
    extra = template.model_copy(update={"usage_date": day, "amount": amount, **fields})
    return [*records, extra]
