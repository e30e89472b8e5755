"""Waste: idle and oversized instances, unattached volumes, old snapshots, untagged spend.

The utilisation rules follow AWS's own checks: Trusted Advisor calls an instance low-utilisation
when daily CPU is at most 10% and network I/O at most 5 MB on 4 of the last 14 days; we call it
idle when that holds on nearly every observed day (stricter, because "stop it" is the advice), and
oversized when even its busiest days stay under 40% CPU (one size down halves the price).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from pydantic import BaseModel, ConfigDict

from .models import (
    ChargeCategory,
    CostRecord,
    InstanceUtilization,
    SnapshotInfo,
    TagCoverage,
    VolumeInfo,
    WasteFinding,
    WasteKind,
)
from .series import quantile

HOURS_PER_MONTH = 730.0
EBS_GB_MONTH_USD: dict[str, float] = {
    # us-east-1 list prices per GB-month; other regions are within ~20%.
    "gp3": 0.08,
    "gp2": 0.10,
    "io1": 0.125,
    "io2": 0.125,
    "st1": 0.045,
    "sc1": 0.015,
    "standard": 0.05,
}
SNAPSHOT_GB_MONTH_USD = 0.05
_SIZES = (
    "nano",
    "micro",
    "small",
    "medium",
    "large",
    "xlarge",
    "2xlarge",
    "4xlarge",
    "8xlarge",
    "12xlarge",
    "16xlarge",
    "24xlarge",
    "32xlarge",
    "48xlarge",
)
_HALF = {
    "2xlarge": "xlarge",
    "4xlarge": "2xlarge",
    "8xlarge": "4xlarge",
    "12xlarge": "6xlarge",
    "16xlarge": "8xlarge",
    "24xlarge": "12xlarge",
    "32xlarge": "16xlarge",
    "48xlarge": "24xlarge",
}


class WastePolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    idle_cpu_pct: float = 10.0
    idle_network_mb: float = 5.0
    idle_day_share: float = 0.9
    oversized_cpu_max_pct: float = 40.0
    oversized_quantile: float = 0.95
    min_days_observed: int = 7
    volume_grace_days: int = 7
    snapshot_max_age_days: int = 90


def smaller_instance_type(instance_type: str) -> str | None:
    """The instance type of half the size in the same family (m5.2xlarge -> m5.xlarge), if there is one."""
    family, _, size = instance_type.partition(".")
    if size in _HALF:
        return f"{family}.{_HALF[size]}"
    if size in _SIZES and _SIZES.index(size) > 0:
        return f"{family}.{_SIZES[_SIZES.index(size) - 1]}"
    return None


def _monthly_instance_cost(
    instance: InstanceUtilization, spend_by_resource: dict[str, float], days_of_spend: int
) -> float:
    """Monthly cost from the bill (resource-level records) or, failing that, the hourly price."""
    spend = next(
        (
            v
            for k, v in spend_by_resource.items()
            if k == instance.instance_id or k.endswith(f"/{instance.instance_id}")
        ),
        None,
    )
    if spend is not None and days_of_spend > 0:
        return spend / days_of_spend * (HOURS_PER_MONTH / 24)
    if instance.hourly_price is not None:
        return instance.hourly_price * HOURS_PER_MONTH
    return 0.0


def instance_findings(
    instances: Iterable[InstanceUtilization],
    records: Sequence[CostRecord] = (),
    policy: WastePolicy | None = None,
) -> list[WasteFinding]:
    """Idle and oversized running instances, with the monthly saving of stopping or downsizing them."""
    policy = policy or WastePolicy()
    spend: dict[str, float] = defaultdict(float)
    spend_days = {r.usage_date for r in records if r.resource_id}
    for r in records:
        if r.resource_id:
            spend[r.resource_id] += r.amount
    findings: list[WasteFinding] = []
    for inst in instances:
        days = min(len(inst.cpu_avg_pct), len(inst.cpu_max_pct), len(inst.network_bytes))
        if inst.state != "running" or days < policy.min_days_observed:
            continue
        quiet_days = sum(
            1
            for cpu, net in zip(inst.cpu_avg_pct[-days:], inst.network_bytes[-days:], strict=True)
            if cpu <= policy.idle_cpu_pct and net <= policy.idle_network_mb * 1_000_000
        )
        monthly = _monthly_instance_cost(inst, spend, len(spend_days))
        busy_cpu = quantile(inst.cpu_max_pct[-days:], policy.oversized_quantile)
        evidence: dict[str, float | str] = {
            "days_observed": days,
            "quiet_days": quiet_days,
            "cpu_avg_pct": round(sum(inst.cpu_avg_pct[-days:]) / days, 2),
            f"cpu_max_p{round(policy.oversized_quantile * 100)}_pct": round(busy_cpu, 2),
            "monthly_cost": round(monthly, 2),
            "instance_type": inst.instance_type,
        }
        if quiet_days >= policy.idle_day_share * days:
            findings.append(
                WasteFinding(
                    kind=WasteKind.IDLE_INSTANCE,
                    resource_id=inst.instance_id,
                    account=inst.account,
                    region=inst.region,
                    monthly_savings=round(monthly, 2),
                    evidence=evidence,
                    recommendation=f"Stop or terminate {inst.instance_id}: CPU <= {policy.idle_cpu_pct:g}% and network "
                    f"<= {policy.idle_network_mb:g} MB on {quiet_days} of {days} days.",
                )
            )
        elif busy_cpu < policy.oversized_cpu_max_pct:
            target = smaller_instance_type(inst.instance_type)
            if target is None:
                continue
            findings.append(
                WasteFinding(
                    kind=WasteKind.OVERSIZED_INSTANCE,
                    resource_id=inst.instance_id,
                    account=inst.account,
                    region=inst.region,
                    monthly_savings=round(monthly / 2, 2),
                    evidence={**evidence, "target": target},
                    recommendation=(
                        f"Downsize {inst.instance_id} from {inst.instance_type} to {target}: "
                        f"its busiest days peak at {busy_cpu:.0f}% CPU."
                    ),
                )
            )
    return findings


def volume_findings(
    volumes: Iterable[VolumeInfo], now: datetime, policy: WastePolicy | None = None
) -> list[WasteFinding]:
    """EBS volumes in state `available` (attached to nothing) for longer than the grace period."""
    policy = policy or WastePolicy()
    findings = []
    for vol in volumes:
        age = now - vol.create_time
        if vol.state != "available" or age < timedelta(days=policy.volume_grace_days):
            continue
        price = EBS_GB_MONTH_USD.get(vol.volume_type, EBS_GB_MONTH_USD["gp3"])
        findings.append(
            WasteFinding(
                kind=WasteKind.UNATTACHED_VOLUME,
                resource_id=vol.volume_id,
                account=vol.account,
                region=vol.region,
                monthly_savings=round(vol.size_gib * price, 2),
                evidence={"size_gib": vol.size_gib, "volume_type": vol.volume_type, "age_days": age.days},
                recommendation=f"Snapshot and delete {vol.volume_id} ({vol.size_gib} GiB {vol.volume_type}), "
                f"unattached for up to {age.days} days.",
            )
        )
    return findings


def snapshot_findings(
    snapshots: Iterable[SnapshotInfo],
    now: datetime,
    existing_volume_ids: Iterable[str] = (),
    policy: WastePolicy | None = None,
) -> list[WasteFinding]:
    """Snapshots older than the retention age; the saving is an upper bound (snapshots are incremental)."""
    policy = policy or WastePolicy()
    volumes = set(existing_volume_ids)
    findings = []
    for snap in snapshots:
        age = now - snap.start_time
        if age <= timedelta(days=policy.snapshot_max_age_days):
            continue
        orphaned = snap.volume_id is None or snap.volume_id not in volumes
        findings.append(
            WasteFinding(
                kind=WasteKind.OLD_SNAPSHOT,
                resource_id=snap.snapshot_id,
                account=snap.account,
                region=snap.region,
                monthly_savings=round(snap.size_gib * SNAPSHOT_GB_MONTH_USD, 2),
                evidence={
                    "age_days": age.days,
                    "size_gib": snap.size_gib,
                    "source_volume": "deleted" if orphaned else str(snap.volume_id),
                },
                recommendation=f"Delete or archive {snap.snapshot_id}: {age.days} days old"
                + (", its volume no longer exists." if orphaned else "."),
            )
        )
    return findings


def tag_coverage(records: Iterable[CostRecord], required_tags: Sequence[str]) -> list[TagCoverage]:
    """Share of usage spend carrying each required tag (taxes, credits and fees cannot be tagged)."""
    usage = [r for r in records if r.charge_category is ChargeCategory.USAGE]
    total = sum(r.amount for r in usage)
    out = []
    for tag in required_tags:
        tagged = sum(r.amount for r in usage if r.tags.get(tag))
        out.append(
            TagCoverage(
                tag=tag,
                total_spend=round(total, 2),
                tagged_spend=round(tagged, 2),
                untagged_spend=round(total - tagged, 2),
                coverage_pct=round(100 * tagged / total, 2) if total > 0 else 100.0,
            )
        )
    return out


def untagged_spend_findings(records: Sequence[CostRecord], required_tags: Sequence[str]) -> list[WasteFinding]:
    """One finding per required tag with untagged spend, naming the services that carry most of it."""
    if not records:
        return []
    days = len({r.usage_date for r in records})
    findings = []
    for coverage in tag_coverage(records, required_tags):
        if coverage.untagged_spend <= 0:
            continue
        by_service: dict[str, float] = defaultdict(float)
        for r in records:
            if r.charge_category is ChargeCategory.USAGE and not r.tags.get(coverage.tag):
                by_service[r.service] += r.amount
        top = sorted(by_service.items(), key=lambda kv: -kv[1])[:3]
        findings.append(
            WasteFinding(
                kind=WasteKind.UNTAGGED_SPEND,
                monthly_savings=0.0,
                evidence={
                    "tag": coverage.tag,
                    "coverage_pct": coverage.coverage_pct,
                    "untagged_spend": coverage.untagged_spend,
                    "days": days,
                    "top_services": ", ".join(f"{name} ({amount:.0f})" for name, amount in top),
                },
                recommendation=f"Tag the resources behind {coverage.untagged_spend:,.0f} of spend without "
                f"'{coverage.tag}' ({100 - coverage.coverage_pct:.1f}%): it cannot be allocated.",
            )
        )
    return findings


def find_waste(
    *,
    now: datetime,
    instances: Iterable[InstanceUtilization] = (),
    volumes: Sequence[VolumeInfo] = (),
    snapshots: Iterable[SnapshotInfo] = (),
    records: Sequence[CostRecord] = (),
    required_tags: Sequence[str] = (),
    policy: WastePolicy | None = None,
    since: date | None = None,
) -> list[WasteFinding]:
    """All waste findings, largest monthly saving first (untagged spend, which saves nothing itself, last)."""
    scoped = [r for r in records if since is None or r.usage_date >= since]
    findings = [
        *instance_findings(instances, scoped, policy),
        *volume_findings(volumes, now, policy),
        *snapshot_findings(snapshots, now, (v.volume_id for v in volumes), policy),
        *untagged_spend_findings(scoped, required_tags),
    ]
    findings.sort(key=lambda f: (f.kind is WasteKind.UNTAGGED_SPEND, -f.monthly_savings, f.resource_id or ""))
    return findings
