"""Wire schemas of the cost analytics: cost records in, findings out.

Amounts are floats in the record's currency: the analyses are statistical (medians, quantiles),
and the sources (Cost Explorer strings, FOCUS doubles) carry more precision than a bill needs.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

UNSPECIFIED = "(unspecified)"
"""Value of a dimension the source did not break down (e.g. a Cost Explorer query not grouped by it)."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChargeCategory(StrEnum):
    """FOCUS ChargeCategory; CUR line item types and Cost Explorer results map onto it."""

    USAGE = "Usage"
    PURCHASE = "Purchase"
    TAX = "Tax"
    CREDIT = "Credit"
    ADJUSTMENT = "Adjustment"


class Dimension(StrEnum):
    """A way to slice spend. `tag` keys are `<tag-key>=<value>`; `total` has the single key `total`."""

    TOTAL = "total"
    SERVICE = "service"
    ACCOUNT = "account"
    REGION = "region"
    USAGE_TYPE = "usage_type"
    RESOURCE = "resource"
    TAG = "tag"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class CostRecord(_Model):
    """Spend of one day for one combination of service, account, region, usage type, tags and resource."""

    usage_date: date
    amount: float
    currency: str = "USD"
    service: str
    account: str = UNSPECIFIED
    region: str = UNSPECIFIED
    tags: dict[str, str] = Field(default_factory=dict)
    resource_id: str | None = None
    usage_type: str = UNSPECIFIED
    charge_category: ChargeCategory = ChargeCategory.USAGE
    estimated: bool = False


class RootCause(_Model):
    """How much one slice of the anomalous series contributed to the excess spend."""

    dimension: Dimension
    key: str
    actual: float
    expected: float
    contribution: float = Field(description="actual - expected over the anomaly, in currency units")
    share: float = Field(description="contribution / total impact of the anomaly (can exceed 1 when others fell)")


class Anomaly(_Model):
    """A run of consecutive anomalous days in one series, shaped like an AWS Cost Anomaly Detection anomaly."""

    id: str
    dimension: Dimension
    key: str
    start_date: date
    end_date: date
    peak_date: date
    actual: float = Field(description="total actual spend over the anomalous days")
    expected: float = Field(description="total expected spend over the anomalous days")
    impact_abs: float
    impact_pct: float = Field(description="impact_abs / expected * 100; 100000 when nothing was expected")
    max_daily_impact: float
    score: float = Field(description="largest robust z-score (excess over the baseline in MAD units)")
    severity: Severity
    root_causes: list[RootCause] = Field(default_factory=list)
    currency: str = "USD"


class ForecastPoint(_Model):
    date: date
    mean: float
    lower: float
    upper: float


class MonthForecast(_Model):
    """A calendar month's total: observed spend so far plus the forecast of the remaining days."""

    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    actual_to_date: float
    forecast_total: float
    lower: float
    upper: float


class Forecast(_Model):
    currency: str = "USD"
    last_observed: date
    confidence: float = Field(gt=0, lt=1, description="coverage of the prediction interval, e.g. 0.8")
    method: str
    points: list[ForecastPoint]
    month_end: MonthForecast
    next_months: list[MonthForecast] = Field(default_factory=list)


class ForecastEvaluation(_Model):
    holdout_days: int
    mape_pct: float
    interval_coverage: float = Field(description="share of held-back days inside the prediction interval")


class WasteKind(StrEnum):
    IDLE_INSTANCE = "idle_instance"
    OVERSIZED_INSTANCE = "oversized_instance"
    UNATTACHED_VOLUME = "unattached_volume"
    OLD_SNAPSHOT = "old_snapshot"
    UNTAGGED_SPEND = "untagged_spend"


class WasteFinding(_Model):
    kind: WasteKind
    resource_id: str | None = None
    account: str = UNSPECIFIED
    region: str = UNSPECIFIED
    monthly_savings: float = Field(description="estimated monthly saving if acted on; 0 when the price is unknown")
    recommendation: str
    evidence: dict[str, float | str] = Field(default_factory=dict)


class TagCoverage(_Model):
    tag: str
    total_spend: float
    tagged_spend: float
    untagged_spend: float
    coverage_pct: float


class InstanceUtilization(_Model):
    """One EC2 instance with daily CloudWatch statistics (CPUUtilization, NetworkIn + NetworkOut)."""

    instance_id: str
    instance_type: str
    account: str = UNSPECIFIED
    region: str = UNSPECIFIED
    state: str = "running"
    hourly_price: float | None = None
    cpu_avg_pct: list[float] = Field(description="daily Average of CPUUtilization, oldest first")
    cpu_max_pct: list[float] = Field(description="daily Maximum of CPUUtilization, oldest first")
    network_bytes: list[float] = Field(description="daily Sum of NetworkIn + NetworkOut, oldest first")
    tags: dict[str, str] = Field(default_factory=dict)


class VolumeInfo(_Model):
    """An EBS volume as DescribeVolumes returns it (state `available` means unattached)."""

    volume_id: str
    size_gib: int
    volume_type: str = "gp3"
    state: str
    create_time: datetime
    account: str = UNSPECIFIED
    region: str = UNSPECIFIED


class SnapshotInfo(_Model):
    snapshot_id: str
    volume_id: str | None = None
    size_gib: int
    start_time: datetime
    account: str = UNSPECIFIED
    region: str = UNSPECIFIED


class Breakdown(_Model):
    key: str
    amount: float
    share: float


class DailyCost(_Model):
    date: date
    amount: float | None = Field(description="null on a day with no cost data at all (missing, not $0)")


class CostSummary(_Model):
    start: date
    end: date = Field(description="inclusive")
    currency: str = "USD"
    total: float
    previous_total: float = Field(description="spend of the equally long period just before start")
    change_pct: float | None = Field(
        description="change of the spend per day with data; null when the previous period has no data"
    )
    days_with_data: int | None = Field(default=None, description="days of the period that have cost data")
    previous_days_with_data: int | None = Field(
        default=None, description="days of the previous period that have cost data"
    )
    by_service: list[Breakdown]
    by_account: list[Breakdown]
    by_region: list[Breakdown]
    daily: list[DailyCost]


class TopMover(_Model):
    """`previous` is the previous period's spend per day with data, times the current period's days with
    data, so a previous period that is only partly covered by the data compares like for like."""

    dimension: Dimension
    key: str
    previous: float
    current: float
    change_abs: float
    change_pct: float | None


class ResponseActionCost(_Model):
    """What a containment or forensics action costs, e.g. a forensic snapshot kept for 90 days."""

    action: str
    resource_id: str | None = None
    cost: float
    basis: str


class ResourceCostImpact(_Model):
    resource_id: str
    actual: float
    baseline: float
    excess: float
    services: list[str] = Field(default_factory=list)


class IncidentCostImpact(_Model):
    incident_id: str
    window_start: datetime
    window_end: datetime
    currency: str = "USD"
    resources: list[ResourceCostImpact]
    actual_cost: float
    baseline_cost: float
    excess_cost: float
    response_actions: list[ResponseActionCost] = Field(default_factory=list)
    response_cost: float
    total_impact: float
    method: str


class SecurityFinding(_Model):
    """The parts of a normalised security finding that the cost link needs."""

    id: str
    title: str
    region: str
    account: str | None = None
    observed_at: datetime
    severity: Severity = Severity.MEDIUM
    resource_ids: list[str] = Field(default_factory=list)


class ReportNarrative(BaseModel):
    """The executive narrative and how it was written (`reasoning`: llm or deterministic); other stored keys drop."""

    model_config = ConfigDict(frozen=True)
    reasoning: Literal["llm", "deterministic"]
    headline: str
    narrative: str
    recommendations: list[str] = Field(default_factory=list)
    confidence: float
    provider: str
    model_id: str | None = None
    degraded_reason: str | None = None
    injection_findings: list[dict[str, Any]] = Field(default_factory=list)
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    usage: dict[str, Any] = Field(default_factory=dict)


class ExecutiveReport(_Model):
    generated_at: datetime
    currency: str = "USD"
    summary: CostSummary
    forecast: Forecast | None
    anomalies: list[Anomaly]
    top_movers: list[TopMover]
    waste: list[WasteFinding]
    waste_monthly_savings: float
    tag_coverage: list[TagCoverage] = Field(default_factory=list)
    incidents: list[IncidentCostImpact]
    highlights: list[str]
    reasoning: Literal["llm", "deterministic"] = "deterministic"
    narrative: ReportNarrative | None = None
