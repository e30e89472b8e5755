"""A generator of realistic daily AWS cost data with injected, labelled anomalies.

The series follow what real bills show: per service/account/region a level with a slow trend,
a weekday profile (compute and Lambda drop at weekends, CloudFront rises), multiplicative noise,
month-start fees (AWS Support, Reserved Instance monthly fees on the 1st), untagged spend and a
service that is adopted part-way (a ramp). Anomalies are injected on top and returned as labels so
detection can be scored: spikes, level shifts, and crypto-mining-like surges of GPU/compute
instances in one region (the classic cost signal of a compromised account).

Deterministic for a given seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from .models import ChargeCategory, CostRecord

EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"

ACCOUNTS: dict[str, float] = {"111111111111": 1.0, "222222222222": 0.35, "333333333333": 0.15}
"""Linked accounts (production, staging, shared tooling) with their share of the workload."""

REGIONS: dict[str, float] = {"us-east-1": 1.0, "eu-west-1": 0.45, "ap-southeast-2": 0.12}
MINING_REGIONS = ("sa-east-1", "ap-south-1", "ap-southeast-2", "eu-north-1")
"""Regions an attacker picks: rarely used by the victim, so the surge stands out and is noticed late."""

TEAMS = ("payments", "search", "platform")
_ENVS = {"111111111111": "prod", "222222222222": "staging", "333333333333": "shared"}
_WEEKDAY_BUSINESS = (1.0, 1.02, 1.03, 1.02, 0.98, 0.72, 0.68)
_WEEKDAY_FLAT = (1.0, 1.0, 1.0, 1.0, 1.0, 0.97, 0.96)
_WEEKDAY_CONSUMER = (0.95, 0.94, 0.95, 0.97, 1.02, 1.2, 1.25)


@dataclass(frozen=True, slots=True)
class _ServiceProfile:
    name: str
    usage_type: str
    base: float
    trend: float
    weekday: tuple[float, ...]
    noise: float


_SERVICES = (
    _ServiceProfile(EC2_COMPUTE, "BoxUsage:m5.xlarge", 420.0, 0.0012, _WEEKDAY_BUSINESS, 0.05),
    _ServiceProfile("EC2 - Other", "EBS:VolumeUsage.gp3", 95.0, 0.0015, _WEEKDAY_FLAT, 0.03),
    _ServiceProfile(
        "Amazon Relational Database Service", "InstanceUsage:db.r6g.large", 180.0, 0.0004, _WEEKDAY_FLAT, 0.02
    ),
    _ServiceProfile("Amazon Simple Storage Service", "TimedStorage-ByteHrs", 70.0, 0.0030, _WEEKDAY_FLAT, 0.03),
    _ServiceProfile("AWS Lambda", "Lambda-GB-Second", 35.0, 0.0020, _WEEKDAY_BUSINESS, 0.08),
    _ServiceProfile("Amazon CloudFront", "DataTransfer-Out-Bytes", 45.0, 0.0010, _WEEKDAY_CONSUMER, 0.07),
    _ServiceProfile("Amazon DynamoDB", "ReadCapacityUnit-Hrs", 40.0, 0.0008, _WEEKDAY_BUSINESS, 0.04),
    _ServiceProfile("AmazonCloudWatch", "CW:MetricMonitorUsage", 22.0, 0.0010, _WEEKDAY_FLAT, 0.03),
)
_RAMP_SERVICE = _ServiceProfile("Amazon SageMaker", "ml.g5.xlarge-Hosting:ml", 120.0, 0.0, _WEEKDAY_FLAT, 0.06)


class AnomalyKind(StrEnum):
    SPIKE = "spike"
    LEVEL_SHIFT = "level_shift"
    CRYPTO_MINING = "crypto_mining"


class InjectedAnomaly(BaseModel):
    """The label of an injected anomaly: which slice, which days, how much extra spend per day."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: AnomalyKind
    service: str
    account: str
    region: str
    start: date
    end: date
    extra_per_day: float
    resource_ids: list[str] = []


class GeneratedCosts(BaseModel):
    model_config = ConfigDict(frozen=True)

    seed: int
    start: date
    days: int
    records: list[CostRecord]
    anomalies: list[InjectedAnomaly]


@dataclass(slots=True)
class _Series:
    profile: _ServiceProfile
    account: str
    region: str
    tags: dict[str, str]
    base: float
    ramp_start: int | None = None
    extra: dict[int, float] = field(default_factory=dict)


def generate_costs(
    seed: int = 7,
    *,
    start: date = date(2026, 1, 1),
    days: int = 180,
    spikes: int = 4,
    level_shifts: int = 2,
    crypto_mining: int = 2,
    warmup_days: int = 63,
    min_extra_per_day: float = 120.0,
) -> GeneratedCosts:
    """Generate `days` of daily cost records from `start` with labelled anomalies after `warmup_days`.

    Every injected anomaly adds at least `min_extra_per_day` a day, so a label is never an
    anomaly too small for any sensible $ threshold. Anomalies of the same series do not overlap.
    """
    if days <= warmup_days + 14:
        raise ValueError("days must leave at least two weeks after the warm-up for anomalies")
    rng = random.Random(seed)
    series = _build_series(rng, days)
    labels: list[InjectedAnomaly] = []
    busy: dict[tuple[str, str, str], list[tuple[int, int]]] = {}

    def reserve(s: _Series, first: int, last: int) -> bool:
        spans = busy.setdefault((s.profile.name, s.account, s.region), [])
        if any(first <= b + 7 and a <= last + 7 for a, b in spans):
            return False
        spans.append((first, last))
        return True

    candidates = [s for s in series if s.ramp_start is None]
    for kind, count in ((AnomalyKind.SPIKE, spikes), (AnomalyKind.LEVEL_SHIFT, level_shifts)):
        placed = 0
        while placed < count:
            s = rng.choice(candidates)
            length = rng.randint(1, 3) if kind is AnomalyKind.SPIKE else days
            first = rng.randint(warmup_days, days - 15)
            last = min(first + length - 1, days - 1)
            if not reserve(s, first, last):
                continue
            # Magnitudes range from near the noise floor of big series to several times the level.
            factor = rng.uniform(0.3, 4.0) if kind is AnomalyKind.SPIKE else rng.uniform(0.2, 1.5)
            extra = max(s.base * factor, min_extra_per_day * rng.uniform(1.0, 1.6))
            for day in range(first, last + 1):
                s.extra[day] = s.extra.get(day, 0.0) + extra
            # A level shift is anomalous until a baseline can reasonably adopt it: two weeks.
            label_end = last if kind is AnomalyKind.SPIKE else min(first + 13, days - 1)
            labels.append(_label(len(labels), kind, s, start, first, label_end, extra))
            placed += 1

    records = [r for s in series for r in _emit(rng, s, start, days)]
    for _ in range(crypto_mining):
        label, mined = _crypto_mining(rng, len(labels), start, days, warmup_days)
        labels.append(label)
        records.extend(mined)
    records.sort(key=lambda r: (r.usage_date, r.service, r.account, r.region, r.usage_type))
    return GeneratedCosts(seed=seed, start=start, days=days, records=records, anomalies=labels)


def _label(
    index: int, kind: AnomalyKind, s: _Series, start: date, first: int, last: int, extra: float
) -> InjectedAnomaly:
    return InjectedAnomaly(
        id=f"inj-{index:03d}",
        kind=kind,
        service=s.profile.name,
        account=s.account,
        region=s.region,
        start=start + timedelta(days=first),
        end=start + timedelta(days=last),
        extra_per_day=round(extra, 2),
    )


def _build_series(rng: random.Random, days: int) -> list[_Series]:
    series: list[_Series] = []
    for profile in _SERVICES:
        for account, account_weight in ACCOUNTS.items():
            for region, region_weight in REGIONS.items():
                # Small accounts do not run every service in every region.
                if account_weight * region_weight < 0.1 and rng.random() < 0.5:
                    continue
                tags = {"env": _ENVS[account]}
                if rng.random() < 0.85:
                    tags["team"] = rng.choice(TEAMS)
                if rng.random() < 0.1:
                    tags = {}
                base = profile.base * account_weight * region_weight * rng.uniform(0.7, 1.3)
                series.append(_Series(profile, account, region, tags, base))
    ramp_start = rng.randint(days // 3, days // 2)
    series.append(
        _Series(
            _RAMP_SERVICE,
            "111111111111",
            "us-east-1",
            {"env": "prod", "team": "search"},
            _RAMP_SERVICE.base,
            ramp_start=ramp_start,
        )
    )
    return series


def _emit(rng: random.Random, s: _Series, start: date, days: int) -> list[CostRecord]:
    out: list[CostRecord] = []
    p = s.profile
    for t in range(days):
        day = start + timedelta(days=t)
        level = s.base * math.exp(p.trend * t)
        if s.ramp_start is not None:
            if t < s.ramp_start:
                continue
            # Adoption follows a logistic curve over roughly six weeks.
            level *= 1.0 / (1.0 + math.exp(-(t - s.ramp_start - 21) / 5.0))
        value = level * p.weekday[day.weekday()] * max(0.0, rng.gauss(1.0, p.noise)) + s.extra.get(t, 0.0)
        out.append(_record(day, value, p.name, s.account, s.region, p.usage_type, s.tags))
        if p.name == EC2_COMPUTE and day.day == 1 and s.region == "us-east-1":
            # Reserved Instance monthly fees are billed on the first of the month.
            out.append(
                _record(
                    day,
                    s.base * 6.0,
                    p.name,
                    s.account,
                    s.region,
                    "HeavyUsage:m5.xlarge",
                    s.tags,
                    ChargeCategory.PURCHASE,
                )
            )
    if s.profile.name == _SERVICES[0].name and s.account == "111111111111" and s.region == "us-east-1":
        out.extend(_support_fees(rng, start, days))
    return out


def _support_fees(rng: random.Random, start: date, days: int) -> list[CostRecord]:
    """AWS Support (Business): one charge on the 1st of every month, roughly 7% of the previous month."""
    out = []
    for t in range(days):
        day = start + timedelta(days=t)
        if day.day == 1:
            out.append(
                _record(
                    day,
                    2400.0 * rng.uniform(0.97, 1.05),
                    "AWS Support (Business)",
                    "111111111111",
                    "global",
                    "Dollar",
                    {},
                    ChargeCategory.PURCHASE,
                )
            )
    return out


def _crypto_mining(
    rng: random.Random, index: int, start: date, days: int, warmup_days: int
) -> tuple[InjectedAnomaly, list[CostRecord]]:
    account = rng.choice(list(ACCOUNTS))
    region = rng.choice(MINING_REGIONS)
    instance_type, hourly = rng.choice((("p3.16xlarge", 24.48), ("g4dn.12xlarge", 3.912), ("c5.24xlarge", 4.08)))
    count = rng.randint(4, 12) if hourly < 10 else rng.randint(1, 3)
    first = rng.randint(warmup_days, days - 8)
    length = rng.randint(2, 6)
    ids = [f"i-{rng.getrandbits(68):017x}" for _ in range(count)]
    records: list[CostRecord] = []
    for t in range(first, min(first + length, days)):
        day = start + timedelta(days=t)
        # The instances start part-way through the first day.
        hours = 24.0 if t > first else rng.uniform(6.0, 20.0)
        for instance_id in ids:
            records.append(
                CostRecord(
                    usage_date=day,
                    amount=round(hours * hourly, 4),
                    service=EC2_COMPUTE,
                    account=account,
                    region=region,
                    usage_type=f"BoxUsage:{instance_type}",
                    resource_id=instance_id,
                )
            )
    last = min(first + length, days) - 1
    label = InjectedAnomaly(
        id=f"inj-{index:03d}",
        kind=AnomalyKind.CRYPTO_MINING,
        service=EC2_COMPUTE,
        account=account,
        region=region,
        start=start + timedelta(days=first),
        end=start + timedelta(days=last),
        extra_per_day=round(24.0 * hourly * count, 2),
        resource_ids=ids,
    )
    return label, records


def _record(
    day: date,
    value: float,
    service: str,
    account: str,
    region: str,
    usage_type: str,
    tags: dict[str, str],
    category: ChargeCategory = ChargeCategory.USAGE,
) -> CostRecord:
    return CostRecord(
        usage_date=day,
        amount=round(value, 4),
        service=service,
        account=account,
        region=region,
        usage_type=usage_type,
        tags=dict(tags),
        charge_category=category,
    )
