"""Wire schemas of the financial-intelligence API and task payloads (the analytic models live in costs/models.py)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from acso_financial_intelligence.costs.models import Anomaly, CostSummary, Forecast, SecurityFinding, WasteFinding
from acso_shared.web.params import Day

ForecastSource = Literal["cost_explorer", "local"]

COST_REFRESH = "cost.refresh"
COST_FINDINGS = "cost.findings"
ALERT_INGEST = "alert.ingest"


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImportStatus(StrEnum):
    RECEIVING = "receiving"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ImportFormat(StrEnum):
    FOCUS = "focus"
    CUR = "cur"


class ImportError_(_Wire):
    # The trailing underscore keeps clear of the builtin ImportError.
    """Why an import failed; `line` (CSV, header = 1) or `row` (Parquet) names the malformed record."""

    code: str
    message: str
    line: int | None = None
    row: int | None = None
    column: str | None = None


class ImportJob(_Wire):
    id: uuid.UUID
    status: ImportStatus
    format: str | None
    media_type: str
    requested_by: str
    bytes_received: int
    total_bytes: int | None
    bytes_read: int
    rows_read: int
    records_stored: int
    progress: float | None = Field(description="share of the file read, 0..1")
    first_day: date | None
    last_day: date | None
    error: ImportError_ | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class ImportQuery(_Wire):
    format: ImportFormat | None = Field(default=None, description="focus or cur; recognised from the header if absent")


class SummaryQuery(_Wire):
    days: int = Field(default=30, ge=1, le=366)
    end: Day | None = Field(default=None, description="last day (inclusive); default: the latest day with data")


class AnomalyQuery(_Wire):
    since: Day | None = Field(default=None, description="anomalies still running on or after this day")
    limit: int = Field(default=100, ge=1, le=500)


class ReportQuery(_Wire):
    format: Literal["json", "html"] | None = None
    days: int | None = Field(default=None, ge=7, le=365)


class SummaryResponse(_Wire):
    summary: CostSummary
    sources: list[str] = Field(description="where the data came from: ce, focus, cur")
    fetched_at: datetime | None = Field(description="when Cost Explorer data was last fetched")


class AnomalyList(_Wire):
    anomalies: list[Anomaly]


class StoredForecast(_Wire):
    source: ForecastSource
    fallback_reason: str | None = Field(description="why Cost Explorer's forecast was not used")
    computed_at: datetime
    forecast: Forecast


class WasteResponse(_Wire):
    findings: list[WasteFinding]
    monthly_savings: float
    scanned_regions: list[str]
    instances_scanned: int


class RefreshRequest(_Wire):
    """Payload of a `cost.refresh` task; the period defaults to the lookback window ending today."""

    start: date | None = None
    end: date | None = Field(default=None, description="exclusive, like Cost Explorer's TimePeriod.End")


class RefreshResult(_Wire):
    start: date
    end: date
    records: int
    anomalies: int
    alerts_sent: int
    forecast_source: ForecastSource | None


class FindingsRequest(_Wire):
    """Payload of a `cost.findings` task: security findings to link with compute cost anomalies."""

    findings: list[SecurityFinding] = Field(min_length=1, max_length=1000)
