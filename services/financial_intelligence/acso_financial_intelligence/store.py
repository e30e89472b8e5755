"""PostgreSQL access of the financial-intelligence service: cost records, imports, anomalies, impacts, alerts.

Every write is an upsert on a natural key, so a handler re-run after a crash (or a re-imported
bill) converges on the same rows instead of adding to them.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

import asyncpg

from acso_financial_intelligence.costs.models import (
    Anomaly,
    ChargeCategory,
    CostRecord,
    Forecast,
    IncidentCostImpact,
    SecurityFinding,
)
from acso_financial_intelligence.models import ForecastSource, ImportError_, ImportJob, ImportStatus, StoredForecast
from acso_shared.db import Database

CostSource = Literal["ce", "focus", "cur"]
DETAIL = "detail"
"""The grouping whose rows partition spend by service, account and region (see the migration)."""


_COLUMNS = (
    "source",
    "grouping",
    "usage_date",
    "service",
    "account",
    "region",
    "usage_type",
    "resource_key",
    "charge_category",
    "currency",
    "tags",
    "tags_key",
    "amount",
    "estimated",
    "fetched_at",
    "imported_at",
    "import_id",
)


_UPSERT = """
INSERT INTO cost_records (source, grouping, usage_date, service, account, region, usage_type, resource_key,
                          charge_category, currency, tags, tags_key, amount, estimated, fetched_at, imported_at,
                          import_id)
SELECT source, grouping, usage_date, service, account, region, usage_type, resource_key, charge_category, currency,
       tags::jsonb, tags_key, amount, estimated, fetched_at, imported_at, import_id
FROM cost_records_in
ON CONFLICT (source, grouping, usage_date, service, account, region, usage_type, resource_key, charge_category,
             currency, tags_key)
DO UPDATE SET amount = EXCLUDED.amount, estimated = EXCLUDED.estimated, tags = EXCLUDED.tags,
              fetched_at = EXCLUDED.fetched_at, imported_at = EXCLUDED.imported_at, import_id = EXCLUDED.import_id
"""

# When a day has both an imported bill and Cost Explorer data, the bill wins: it is invoice-grade.
_RECORDS = """
WITH chosen AS (
    SELECT usage_date, min(CASE WHEN source = 'ce' THEN 1 ELSE 0 END) AS priority FROM cost_records
    WHERE grouping = 'detail' AND ($1::date IS NULL OR usage_date >= $1) AND ($2::date IS NULL OR usage_date <= $2)
    GROUP BY usage_date
)
SELECT r.* FROM cost_records r
JOIN chosen c ON c.usage_date = r.usage_date AND c.priority = (CASE WHEN r.source = 'ce' THEN 1 ELSE 0 END)
WHERE r.grouping = $3
ORDER BY r.usage_date, r.service, r.account, r.region, r.usage_type, r.resource_key
"""


def tags_key(tags: dict[str, str]) -> str:
    """A canonical text form of a tag set, part of the natural key."""
    return json.dumps(tags, sort_keys=True, separators=(",", ":")) if tags else ""


def _record_row(record: asyncpg.Record) -> CostRecord:
    return CostRecord(
        usage_date=record["usage_date"],
        amount=record["amount"],
        currency=record["currency"],
        service=record["service"],
        account=record["account"],
        region=record["region"],
        tags=record["tags"],
        resource_id=record["resource_key"] or None,
        usage_type=record["usage_type"],
        charge_category=ChargeCategory(record["charge_category"]),
        estimated=record["estimated"],
    )


def _job(row: asyncpg.Record) -> ImportJob:
    error = row["error"]
    return ImportJob(
        id=row["id"],
        status=ImportStatus(row["status"]),
        format=row["format"],
        media_type=row["media_type"],
        requested_by=row["requested_by"],
        bytes_received=row["bytes_received"],
        total_bytes=row["total_bytes"],
        bytes_read=row["bytes_read"],
        rows_read=row["rows_read"],
        records_stored=row["records_stored"],
        progress=(min(row["bytes_read"] / row["total_bytes"], 1.0) if row["total_bytes"] else None),
        first_day=row["first_day"],
        last_day=row["last_day"],
        error=ImportError_.model_validate(error) if error else None,
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        finished_at=row["finished_at"],
    )


class CostStore:
    """The service's tables (migration 0001_costs.sql).

    jsonb parameters are Python objects: the shared pool's codec serialises them.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- cost records ----------------------------------------------------------------------
    async def replace_records(
        self,
        source: CostSource,
        grouping: str,
        records: Sequence[CostRecord],
        *,
        at: datetime,
        import_id: uuid.UUID | None = None,
    ) -> int:
        """Upsert `records` (one per natural key: callers aggregate first) and return how many were written.

        Fetched rows carry `fetched_at`, imported rows `imported_at` and their import job.
        """
        rows = [
            (
                source,
                grouping,
                r.usage_date,
                r.service,
                r.account,
                r.region,
                r.usage_type,
                r.resource_id or "",
                r.charge_category.value,
                r.currency,
                json.dumps(r.tags),
                tags_key(r.tags),
                r.amount,
                r.estimated,
                at if source == "ce" else None,
                None if source == "ce" else at,
                import_id,
            )
            for r in records
        ]
        if not rows:
            return 0
        async with self._db.transaction() as conn:
            # COPY into a temporary table, then one set-based upsert: a bill has millions of lines.
            await conn.execute(
                """
                CREATE TEMP TABLE cost_records_in (
                    source text, grouping text, usage_date date, service text, account text, region text,
                    usage_type text, resource_key text, charge_category text, currency text, tags text,
                    tags_key text, amount double precision, estimated boolean, fetched_at timestamptz,
                    imported_at timestamptz, import_id uuid
                ) ON COMMIT DROP
                """
            )
            await conn.copy_records_to_table("cost_records_in", records=rows, columns=list(_COLUMNS))
            await conn.execute(_UPSERT)
        return len(rows)

    async def records(
        self, start: date | None = None, end: date | None = None, *, grouping: str = DETAIL
    ) -> list[CostRecord]:
        """Records of `grouping` in [start, end]; per day from one source only (an imported bill wins)."""
        rows = await self._db.fetch(
            _RECORDS,
            start,
            end,
            grouping,
        )
        return [_record_row(row) for row in rows]

    async def sources(self, start: date, end: date) -> list[str]:
        """Which sources hold detail records in [start, end]."""
        rows = await self._db.fetch(
            "SELECT DISTINCT source FROM cost_records WHERE grouping = $1 AND usage_date BETWEEN $2 AND $3 "
            "ORDER BY source",
            DETAIL,
            start,
            end,
        )
        return [row["source"] for row in rows]

    async def last_usage_date(self) -> date | None:
        value: date | None = await self._db.fetchval(
            "SELECT max(usage_date) FROM cost_records WHERE grouping = $1", DETAIL
        )
        return value

    async def last_fetched_at(self) -> datetime | None:
        value: datetime | None = await self._db.fetchval("SELECT max(fetched_at) FROM cost_records WHERE source = 'ce'")
        return value

    # -- import jobs -----------------------------------------------------------------------
    async def create_import(self, media_type: str, fmt: str | None, requested_by: str) -> ImportJob:
        row = await self._db.fetchrow(
            "INSERT INTO cost_imports (id, status, format, media_type, requested_by) "
            "VALUES ($1, 'receiving', $2, $3, $4) RETURNING *",
            uuid.uuid4(),
            fmt,
            media_type,
            requested_by,
        )
        assert row is not None
        return _job(row)

    async def update_import(self, job_id: uuid.UUID, **fields: Any) -> None:
        """Set columns of a job (`error` is a dict); finished jobs get `finished_at`."""
        if fields.get("status") in (ImportStatus.SUCCEEDED, ImportStatus.FAILED):
            fields["finished_at"] = datetime.now(UTC)
        names = list(fields)
        assignments = ", ".join(
            f"{name} = ${i + 2}{'::jsonb' if name == 'error' else ''}" for i, name in enumerate(names)
        )
        values = [str(v) if isinstance(v, ImportStatus) else v for v in fields.values()]
        # Column names come from this module's callers (keyword arguments), never from input.
        await self._db.execute(
            f"UPDATE cost_imports SET {assignments}, updated_at = now() WHERE id = $1",  # noqa: S608
            job_id,
            *values,
        )

    async def get_import(self, job_id: uuid.UUID) -> ImportJob | None:
        row = await self._db.fetchrow("SELECT * FROM cost_imports WHERE id = $1", job_id)
        return _job(row) if row else None

    async def fail_interrupted_imports(self) -> int:
        """Jobs left unfinished by a previous process cannot resume (their spooled file is gone)."""
        status = await self._db.execute(
            """
            UPDATE cost_imports SET status = 'failed', finished_at = now(), updated_at = now(),
                   error = '{"code": "import_interrupted", "message": "the service restarted during the import"}'
            WHERE status IN ('receiving', 'queued', 'running')
            """
        )
        return int(status.split()[-1])

    # -- anomalies -------------------------------------------------------------------------
    async def save_anomalies(self, anomalies: Sequence[Anomaly]) -> None:
        if not anomalies:
            return
        await self._db.pool.executemany(
            """
            INSERT INTO cost_anomalies (id, dimension, key, start_date, end_date, severity, impact_abs, body)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
            ON CONFLICT (id) DO UPDATE SET end_date = EXCLUDED.end_date, severity = EXCLUDED.severity,
                impact_abs = EXCLUDED.impact_abs, body = EXCLUDED.body, detected_at = now()
            """,
            [
                (
                    a.id,
                    a.dimension.value,
                    a.key,
                    a.start_date,
                    a.end_date,
                    a.severity.value,
                    a.impact_abs,
                    a.model_dump(mode="json"),
                )
                for a in anomalies
            ],
        )

    async def anomalies(self, since: date | None = None, limit: int = 500) -> list[Anomaly]:
        rows = await self._db.fetch(
            "SELECT body FROM cost_anomalies WHERE $1::date IS NULL OR end_date >= $1 "
            "ORDER BY impact_abs DESC, start_date, id LIMIT $2",
            since,
            limit,
        )
        return [Anomaly.model_validate(row["body"]) for row in rows]

    # -- forecasts -------------------------------------------------------------------------
    async def save_forecast(self, forecast: Forecast, source: ForecastSource, fallback_reason: str | None) -> None:
        await self._db.execute(
            "INSERT INTO cost_forecasts (source, fallback_reason, body) VALUES ($1, $2, $3::jsonb)",
            source,
            fallback_reason,
            forecast.model_dump(mode="json"),
        )

    async def latest_forecast(self) -> StoredForecast | None:
        row = await self._db.fetchrow(
            "SELECT source, fallback_reason, body, created_at FROM cost_forecasts ORDER BY id DESC LIMIT 1"
        )
        if row is None:
            return None
        return StoredForecast(
            source=row["source"],
            fallback_reason=row["fallback_reason"],
            computed_at=row["created_at"],
            forecast=Forecast.model_validate(row["body"]),
        )

    # -- incidents -------------------------------------------------------------------------
    async def save_impact(self, impact: IncidentCostImpact) -> None:
        await self._db.execute(
            "INSERT INTO cost_incident_impacts (incident_id, body) VALUES ($1, $2::jsonb) "
            "ON CONFLICT (incident_id) DO UPDATE SET body = EXCLUDED.body, computed_at = now()",
            impact.incident_id,
            impact.model_dump(mode="json"),
        )

    async def impact(self, incident_id: str) -> IncidentCostImpact | None:
        row = await self._db.fetchrow("SELECT body FROM cost_incident_impacts WHERE incident_id = $1", incident_id)
        return IncidentCostImpact.model_validate(row["body"]) if row else None

    async def recent_impacts(self, limit: int = 20) -> list[IncidentCostImpact]:
        rows = await self._db.fetch("SELECT body FROM cost_incident_impacts ORDER BY computed_at DESC LIMIT $1", limit)
        return [IncidentCostImpact.model_validate(row["body"]) for row in rows]

    # -- security findings and alerts ------------------------------------------------------
    async def save_findings(self, findings: Sequence[SecurityFinding]) -> None:
        if not findings:
            return
        await self._db.pool.executemany(
            "INSERT INTO cost_security_findings (id, region, account, observed_at, body) "
            "VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT (id) DO UPDATE SET region = EXCLUDED.region, "
            "account = EXCLUDED.account, observed_at = EXCLUDED.observed_at, body = EXCLUDED.body",
            [(f.id, f.region, f.account, f.observed_at, f.model_dump(mode="json")) for f in findings],
        )

    async def findings_since(self, since: datetime) -> list[SecurityFinding]:
        rows = await self._db.fetch(
            "SELECT body FROM cost_security_findings WHERE observed_at >= $1 ORDER BY observed_at", since
        )
        return [SecurityFinding.model_validate(row["body"]) for row in rows]

    async def add_alerts(self, alerts: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Record (id, anomaly id, alert) rows; an alert already recorded keeps its first body and sent state."""
        if not alerts:
            return
        await self._db.pool.executemany(
            "INSERT INTO cost_alerts (id, anomaly_id, body) VALUES ($1, $2, $3::jsonb) ON CONFLICT (id) DO NOTHING",
            [(alert_id, anomaly_id, body) for alert_id, anomaly_id, body in alerts],
        )

    async def unsent_alerts(self) -> list[tuple[str, dict[str, Any]]]:
        rows = await self._db.fetch("SELECT id, body FROM cost_alerts WHERE sent_at IS NULL ORDER BY created_at, id")
        return [(row["id"], row["body"]) for row in rows]

    async def mark_alert_sent(self, alert_id: str) -> None:
        await self._db.execute("UPDATE cost_alerts SET sent_at = now() WHERE id = $1 AND sent_at IS NULL", alert_id)
