"""Inventory for the waste analysis: running instances with CloudWatch statistics, volumes and snapshots.

Read-only EC2 and CloudWatch calls per region through the shared clients; the analysis itself is
`costs.waste.find_waste`. Regions other than the client's own get their own short-lived clients.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from acso_financial_intelligence.costs.models import InstanceUtilization, SnapshotInfo, VolumeInfo
from acso_shared.aws.clients import AwsClientFactory, translate_aws_error

_DAY_S = 86_400


@dataclass(frozen=True)
class Inventory:
    instances: list[InstanceUtilization]
    volumes: list[VolumeInfo]
    snapshots: list[SnapshotInfo]


def _tags(items: Sequence[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in items or [] if "Key" in t}


def _daily(datapoints: Sequence[dict[str, Any]], statistic: str, days: Sequence[datetime]) -> list[float]:
    """One value per day (oldest first); a day without a datapoint counts as 0 (no CPU, no traffic)."""
    by_day = {point["Timestamp"].astimezone(UTC).date(): float(point[statistic]) for point in datapoints}
    return [by_day.get(day.date(), 0.0) for day in days]


class WasteScanner:
    """Collects what `find_waste` needs from EC2 and CloudWatch."""

    def __init__(self, clients: AwsClientFactory, *, account: str, metric_days: int) -> None:
        self._clients = clients
        self._account = account
        self._metric_days = metric_days

    @contextlib.asynccontextmanager
    async def _client(self, service: str, region: str) -> AsyncIterator[Any]:
        if region == self._clients.region:
            yield await self._clients.client(service)
            return
        session = get_session()
        async with session.create_client(  # type: ignore[call-overload]
            service, region_name=region, endpoint_url=self._clients.endpoint_url
        ) as client:
            yield client

    async def scan(self, regions: Sequence[str], now: datetime) -> Inventory:
        instances: list[InstanceUtilization] = []
        volumes: list[VolumeInfo] = []
        snapshots: list[SnapshotInfo] = []
        for region in regions:
            try:
                async with self._client("ec2", region) as ec2, self._client("cloudwatch", region) as cloudwatch:
                    instances += await self._instances(ec2, cloudwatch, region, now)
                    volumes += await self._volumes(ec2, region)
                    snapshots += await self._snapshots(ec2, region)
            except (ClientError, BotoCoreError) as err:
                raise translate_aws_error(err, f"waste scan in {region}") from err
        return Inventory(instances, volumes, snapshots)

    async def _instances(self, ec2: Any, cloudwatch: Any, region: str, now: datetime) -> list[InstanceUtilization]:
        end = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = end - timedelta(days=self._metric_days)
        days = [start + timedelta(days=i) for i in range(self._metric_days)]
        out = []
        paginator = ec2.get_paginator("describe_instances")
        async for page in paginator.paginate(Filters=[{"Name": "instance-state-name", "Values": ["running"]}]):
            for reservation in page.get("Reservations", []):
                for inst in reservation.get("Instances", []):
                    instance_id = inst["InstanceId"]

                    async def stats(metric: str, statistics: list[str], instance_id: str = instance_id) -> Any:
                        return await cloudwatch.get_metric_statistics(
                            Namespace="AWS/EC2",
                            MetricName=metric,
                            Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
                            StartTime=start,
                            EndTime=end,
                            Period=_DAY_S,
                            Statistics=statistics,
                        )

                    cpu = (await stats("CPUUtilization", ["Average", "Maximum"]))["Datapoints"]
                    net_in = (await stats("NetworkIn", ["Sum"]))["Datapoints"]
                    net_out = (await stats("NetworkOut", ["Sum"]))["Datapoints"]
                    network = [
                        a + b for a, b in zip(_daily(net_in, "Sum", days), _daily(net_out, "Sum", days), strict=True)
                    ]
                    # EC2 publishes CPUUtilization every few minutes while an instance runs, so the days
                    # before its first datapoint are days it did not exist, not idle days.
                    seen = {p["Timestamp"].astimezone(UTC).date() for p in cpu}
                    first = next((i for i, d in enumerate(days) if d.date() in seen), len(days))
                    out.append(
                        InstanceUtilization(
                            instance_id=instance_id,
                            instance_type=inst.get("InstanceType", "unknown"),
                            account=self._account,
                            region=region,
                            state=inst["State"]["Name"],
                            cpu_avg_pct=_daily(cpu, "Average", days)[first:],
                            cpu_max_pct=_daily(cpu, "Maximum", days)[first:],
                            network_bytes=network[first:],
                            tags=_tags(inst.get("Tags")),
                        )
                    )
        return out

    async def _volumes(self, ec2: Any, region: str) -> list[VolumeInfo]:
        out = []
        async for page in ec2.get_paginator("describe_volumes").paginate():
            for vol in page.get("Volumes", []):
                out.append(
                    VolumeInfo(
                        volume_id=vol["VolumeId"],
                        size_gib=int(vol.get("Size", 0)),
                        volume_type=vol.get("VolumeType", "gp3"),
                        state=vol["State"],
                        create_time=vol["CreateTime"],
                        account=self._account,
                        region=region,
                    )
                )
        return out

    async def _snapshots(self, ec2: Any, region: str) -> list[SnapshotInfo]:
        out = []
        async for page in ec2.get_paginator("describe_snapshots").paginate(OwnerIds=["self"]):
            for snap in page.get("Snapshots", []):
                out.append(
                    SnapshotInfo(
                        snapshot_id=snap["SnapshotId"],
                        volume_id=snap.get("VolumeId") or None,
                        size_gib=int(snap.get("VolumeSize", 0)),
                        start_time=snap["StartTime"],
                        account=self._account,
                        region=region,
                    )
                )
        return out
