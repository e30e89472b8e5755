"""The security cost link: what an incident cost, and cost anomalies that look like an attack.

Incident cost is the spend of the involved resources during the incident window above their own
baseline (median daily spend over the days before the incident; a resource that did not exist
before, like a miner's instance, has a baseline of zero), plus what the response itself cost.
Cost data is daily, so the window is widened to whole days and the method says so.
"""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from acso_shared.contracts import ResponseActionRecord

from .models import (
    Anomaly,
    CostRecord,
    Dimension,
    IncidentCostImpact,
    ResourceCostImpact,
    ResponseActionCost,
    SecurityFinding,
    Severity,
)
from .series import date_range
from .waste import SNAPSHOT_GB_MONTH_USD

ALERT_SOURCE = "acso.financial_intelligence"
ALERT_TYPE = "Cost/ComputeAnomaly"
COMPUTE_SERVICES = frozenset(
    {
        "Amazon Elastic Compute Cloud - Compute",
        "Amazon Elastic Compute Cloud",
        "Amazon EC2",
        "AWS Lambda",
        "Amazon Elastic Container Service",
        "Amazon Elastic Kubernetes Service",
        "AWS Batch",
        "Amazon SageMaker",
        "Amazon Lightsail",
    }
)
_SEVERITY_ORDER = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


def _matches(record_resource: str | None, resource_id: str) -> bool:
    """Bills carry instance ids or full ARNs; an incident may name either."""
    if record_resource is None:
        return False
    return (
        record_resource == resource_id
        or record_resource.endswith(f"/{resource_id}")
        or resource_id.endswith(f"/{record_resource}")
    )


def forensic_snapshot_cost(size_gib: int, retention_days: int, resource_id: str | None = None) -> ResponseActionCost:
    """The cost of keeping a forensic EBS snapshot of `size_gib` for `retention_days` (full-size upper bound)."""
    cost = size_gib * SNAPSHOT_GB_MONTH_USD * retention_days / 30.0
    return ResponseActionCost(
        action="forensic_snapshot",
        resource_id=resource_id,
        cost=round(cost, 2),
        basis=f"{size_gib} GiB x {SNAPSHOT_GB_MONTH_USD}/GB-month x {retention_days} days",
    )


def downtime_cost(
    resource_id: str, daily_spend: float, stopped_at: datetime, until: datetime, action: str
) -> ResponseActionCost:
    """What an isolated or stopped resource's lost service costs: its usual daily spend (what the
    business pays to have it running) for every day it is out of service, pro rata."""
    days = max((until - stopped_at).total_seconds(), 0.0) / 86400.0
    return ResponseActionCost(
        action=f"{action}:downtime",
        resource_id=resource_id,
        cost=round(daily_spend * days, 2),
        basis=f"usual spend {daily_spend:.2f}/day x {days:.3f} days out of service",
    )


def response_action_costs(
    actions: Sequence[ResponseActionRecord],
    records: Iterable[CostRecord],
    window_end: datetime,
    *,
    retention_days: int,
    baseline_days: int = 14,
) -> list[ResponseActionCost]:
    """The response's own cost: forensic snapshots kept for `retention_days`, and the downtime of
    every instance that was stopped or quarantined (from the action until the end of the window)."""
    costs: list[ResponseActionCost] = []
    records = list(records)
    for action in actions:
        if action.status != "succeeded":
            continue
        resource_id = action.target.partition(":")[2]
        if action.action_type == "ec2.snapshot_volumes":
            sizes = action.details.get("sizes_gib") or {}
            for snapshot, size in sorted(sizes.items()):
                costs.append(forensic_snapshot_cost(int(size), retention_days, snapshot))
        elif action.action_type in ("ec2.quarantine", "ec2.stop") and action.finished_at is not None:
            start = action.finished_at.date() - timedelta(days=baseline_days)
            days = date_range(start, action.finished_at.date() - timedelta(days=1))
            spend: dict[date, float] = defaultdict(float)
            for record in records:
                if record.usage_date in days and _matches(record.resource_id, resource_id):
                    spend[record.usage_date] += record.amount
            daily = statistics.median(spend.get(d, 0.0) for d in days) if days else 0.0
            costs.append(downtime_cost(resource_id, daily, action.finished_at, window_end, action.action_type))
    return costs


def incident_cost_impact(
    incident_id: str,
    resource_ids: Sequence[str],
    window_start: datetime,
    window_end: datetime,
    records: Iterable[CostRecord],
    *,
    response_actions: Sequence[ResponseActionCost] = (),
    baseline_days: int = 14,
) -> IncidentCostImpact:
    """Spend of the involved resources during the incident above their baseline, plus response costs."""
    if window_end < window_start:
        raise ValueError("the incident window ends before it starts")
    incident_days = date_range(window_start.date(), window_end.date())
    history = date_range(window_start.date() - timedelta(days=baseline_days), window_start.date() - timedelta(days=1))
    wanted = set(incident_days) | set(history)
    per_day: dict[str, dict[date, float]] = {rid: defaultdict(float) for rid in resource_ids}
    services: dict[str, set[str]] = {rid: set() for rid in resource_ids}
    currency = "USD"
    for record in records:
        if record.usage_date not in wanted:
            continue
        for rid in resource_ids:
            if _matches(record.resource_id, rid):
                per_day[rid][record.usage_date] += record.amount
                services[rid].add(record.service)
                currency = record.currency
    impacts = []
    for rid in resource_ids:
        actual = sum(per_day[rid].get(d, 0.0) for d in incident_days)
        baseline = statistics.median(per_day[rid].get(d, 0.0) for d in history) * len(incident_days)
        impacts.append(
            ResourceCostImpact(
                resource_id=rid,
                actual=round(actual, 2),
                baseline=round(baseline, 2),
                excess=round(actual - baseline, 2),
                services=sorted(services[rid]),
            )
        )
    actual_total = sum(i.actual for i in impacts)
    baseline_total = sum(i.baseline for i in impacts)
    response_cost = sum(a.cost for a in response_actions)
    excess = actual_total - baseline_total
    return IncidentCostImpact(
        incident_id=incident_id,
        window_start=window_start,
        window_end=window_end,
        currency=currency,
        resources=impacts,
        actual_cost=round(actual_total, 2),
        baseline_cost=round(baseline_total, 2),
        excess_cost=round(excess, 2),
        response_actions=list(response_actions),
        response_cost=round(response_cost, 2),
        total_impact=round(max(excess, 0.0) + response_cost, 2),
        method=f"daily spend of the involved resources over {len(incident_days)} whole day(s) versus their median "
        f"daily spend over the {baseline_days} days before; plus response action costs",
    )


def _attribute(anomaly: Anomaly, dimension: Dimension, min_share: float) -> str | None:
    """The anomaly's key in `dimension`: its own key, or a root cause that carries at least `min_share`."""
    if anomaly.dimension is dimension:
        return anomaly.key
    causes = [c for c in anomaly.root_causes if c.dimension is dimension and c.share >= min_share]
    return max(causes, key=lambda c: c.contribution).key if causes else None


def compute_anomaly_alerts(
    anomalies: Iterable[Anomaly],
    findings: Sequence[SecurityFinding],
    *,
    slack: timedelta = timedelta(days=1),
    min_share: float = 0.5,
) -> list[dict[str, Any]]:
    """Generic alerts for compute cost anomalies in a region with a concurrent security finding.

    An anomaly qualifies when its service is a compute service and its region is known (from its
    own key or a root cause carrying at least `min_share` of the excess); a finding is concurrent
    when it is in the same region (and account, when both are known) and observed between the
    anomaly's first day minus `slack` and the end of its last day plus `slack`.
    """
    alerts = []
    for anomaly in anomalies:
        service = _attribute(anomaly, Dimension.SERVICE, min_share)
        region = _attribute(anomaly, Dimension.REGION, min_share)
        account = _attribute(anomaly, Dimension.ACCOUNT, min_share)
        if service not in COMPUTE_SERVICES or region is None:
            continue
        start = datetime.combine(anomaly.start_date, time.min, tzinfo=UTC) - slack
        end = datetime.combine(anomaly.end_date + timedelta(days=1), time.min, tzinfo=UTC) + slack
        related = [
            f
            for f in findings
            if f.region == region
            and (account is None or f.account is None or f.account == account)
            and start <= _utc(f.observed_at) < end
        ]
        if related:
            alerts.append(_alert(anomaly, service, region, account, related))
    return alerts


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _alert(
    anomaly: Anomaly, service: str, region: str, account: str | None, related: Sequence[SecurityFinding]
) -> dict[str, Any]:
    resources = sorted(
        {c.key for c in anomaly.root_causes if c.dimension is Dimension.RESOURCE}
        | {rid for f in related for rid in f.resource_ids}
    )
    severity = max([anomaly.severity, *(f.severity for f in related), Severity.HIGH], key=_SEVERITY_ORDER.index)
    observables: list[dict[str, str]] = [{"type": "region", "value": region}]
    if account:
        observables.append({"type": "aws_account_id", "value": account})
    observables += [{"type": "resource_id", "value": rid} for rid in resources]
    usage_types = [c.key for c in anomaly.root_causes if c.dimension is Dimension.USAGE_TYPE]
    fingerprint = hashlib.sha256(f"{ALERT_TYPE}|{anomaly.id}".encode()).hexdigest()[:32]
    return {
        "source": ALERT_SOURCE,
        "type": ALERT_TYPE,
        "title": f"Compute spend anomaly in {region} concurrent with {len(related)} security finding(s)",
        "description": (
            f"{service} spend in {region} was {anomaly.actual:,.2f} {anomaly.currency} against "
            f"{anomaly.expected:,.2f} expected from {anomaly.start_date} to {anomaly.end_date} "
            f"(+{anomaly.impact_pct:.0f}%), while {', '.join(f.title for f in related)} was observed. "
            "Unexpected compute in a region with security findings is a classic sign of crypto-mining."
        ),
        "severity": severity.value,
        "occurred_at": datetime.combine(anomaly.start_date, time.min, tzinfo=UTC).isoformat(),
        "fingerprint": fingerprint,
        "resources": resources,
        "observables": observables,
        "related_findings": [f.id for f in related],
        "cost": {
            "anomaly_id": anomaly.id,
            "service": service,
            "region": region,
            "account": account,
            "actual": anomaly.actual,
            "expected": anomaly.expected,
            "impact_abs": anomaly.impact_abs,
            "impact_pct": anomaly.impact_pct,
            "currency": anomaly.currency,
            "usage_types": usage_types,
        },
    }
