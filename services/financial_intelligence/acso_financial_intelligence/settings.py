"""Settings of the financial-intelligence service."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from acso_shared.settings import ServiceSettings

# Comma-separated in the environment (`ACSO_COST_TAG_KEYS=team,env`), not JSON.
Names = Annotated[tuple[str, ...], NoDecode]


def _split(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(ServiceSettings):
    """Everything the financial-intelligence service reads from the environment (`ACSO_` prefix)."""

    cost_refresh_on_start: bool = Field(default=True, description="Refresh from Cost Explorer at start when stale")
    cost_cache_max_age_s: int = Field(default=6 * 3600, ge=60, description="Age after which cached CE data is stale")
    cost_lookback_days: int = Field(default=120, ge=28, le=400, description="Days of daily cost fetched per refresh")
    cost_explorer_forecast: bool = Field(default=True, description="Ask GetCostForecast before the local forecast")
    cost_metric: str = Field(default="UnblendedCost", pattern=r"^[A-Za-z]+$")
    cost_tag_keys: Names = Field(
        default=("team", "env"), description="Cost-allocation tag keys fetched from Cost Explorer and analysed"
    )
    cost_required_tags: Names = Field(default=("team",), description="Tags every resource must carry")
    cost_import_max_bytes: int = Field(default=512 * 1024 * 1024, ge=1024, description="Largest accepted cost file")
    cost_import_dir: Path | None = Field(default=None, description="Where uploads are spooled (default: temp dir)")
    cost_report_days: int = Field(default=30, ge=7, le=365)
    cost_finding_window_days: int = Field(
        default=30, ge=1, description="How far back security findings are matched against compute anomalies"
    )
    forensic_retention_days: int = Field(
        default=90, ge=1, description="How long forensic snapshots are kept, for an incident's response cost"
    )
    waste_regions: Names = Field(default=(), description="Regions scanned for waste (default: aws_region)")
    waste_volume_grace_days: int = Field(default=7, ge=0, description="Unattached volumes younger than this are fine")
    waste_snapshot_max_age_days: int = Field(default=90, ge=0, description="Snapshots older than this are waste")
    waste_metric_days: int = Field(default=14, ge=7, le=63, description="Days of CloudWatch statistics per instance")

    _split_tags = field_validator("cost_tag_keys", "cost_required_tags", "waste_regions", mode="before")(_split)
