"""The cost data generator: realistic shape, labelled anomalies, determinism."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date

import pytest

from acso_financial_intelligence.costs.generator import EC2_COMPUTE, AnomalyKind, generate_costs
from acso_financial_intelligence.costs.models import ChargeCategory

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def generated():
    return generate_costs(11, days=150)


def test_the_same_seed_gives_the_same_data(generated):
    assert generate_costs(11, days=150) == generated


def test_different_seeds_give_different_data(generated):
    assert generate_costs(12, days=150).records != generated.records


def test_every_requested_anomaly_is_labelled_after_the_warm_up(generated):
    kinds = [a.kind for a in generated.anomalies]
    assert kinds.count(AnomalyKind.SPIKE) == 4
    assert kinds.count(AnomalyKind.LEVEL_SHIFT) == 2
    assert kinds.count(AnomalyKind.CRYPTO_MINING) == 2
    assert all((a.start - generated.start).days >= 63 for a in generated.anomalies)
    assert all(a.extra_per_day >= 120.0 for a in generated.anomalies)


def test_crypto_mining_is_ec2_compute_from_labelled_new_instances(generated):
    for label in (a for a in generated.anomalies if a.kind is AnomalyKind.CRYPTO_MINING):
        mined = [r for r in generated.records if r.resource_id in set(label.resource_ids)]
        assert {r.service for r in mined} == {EC2_COMPUTE}
        assert {r.region for r in mined} == {label.region}
        assert min(r.usage_date for r in mined) == label.start


def test_compute_spend_dips_at_weekends(generated):
    by_weekday = defaultdict(list)
    daily: defaultdict[date, float] = defaultdict(float)
    for r in generated.records:
        if r.service == EC2_COMPUTE and r.resource_id is None and r.charge_category is ChargeCategory.USAGE:
            daily[r.usage_date] += r.amount
    for day, amount in daily.items():
        by_weekday[day.weekday()].append(amount)
    assert statistics.median(by_weekday[6]) < 0.85 * statistics.median(by_weekday[2])


def test_support_and_reserved_instance_fees_land_on_the_first_of_the_month(generated):
    fees = [r for r in generated.records if r.charge_category is ChargeCategory.PURCHASE]
    assert fees
    assert {r.usage_date.day for r in fees} == {1}


def test_some_spend_is_untagged(generated):
    untagged = sum(r.amount for r in generated.records if "team" not in r.tags)
    assert 0 < untagged < sum(r.amount for r in generated.records)
