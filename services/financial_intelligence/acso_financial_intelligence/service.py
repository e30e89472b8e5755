"""The financial-intelligence service logic: refresh, analysis, reports, incident cost and the security cost link.

No web imports: routes and task handlers call into `FinanceService`. Heavy analytics (detection,
forecast simulation) run in a worker thread so the event loop keeps serving requests and messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from acso_financial_intelligence.alerts import to_generic_alert
from acso_financial_intelligence.cost_explorer import CostExplorer, ForecastAttempt, default_period
from acso_financial_intelligence.costs.anomaly import detect_anomalies
from acso_financial_intelligence.costs.forecast import forecast_records, month_key
from acso_financial_intelligence.costs.importers import CeForecast
from acso_financial_intelligence.costs.models import (
    Anomaly,
    CostRecord,
    Dimension,
    ExecutiveReport,
    Forecast,
    IncidentCostImpact,
    MonthForecast,
    SecurityFinding,
    TagCoverage,
    WasteFinding,
)
from acso_financial_intelligence.costs.report import build_executive_report, summarize
from acso_financial_intelligence.costs.security_cost import (
    compute_anomaly_alerts,
    incident_cost_impact,
    response_action_costs,
)
from acso_financial_intelligence.costs.waste import WastePolicy, find_waste, tag_coverage, untagged_spend_findings
from acso_financial_intelligence.models import (
    ALERT_INGEST,
    AnomalyQuery,
    FindingsRequest,
    ForecastSource,
    RefreshRequest,
    RefreshResult,
    StoredForecast,
    SummaryQuery,
    SummaryResponse,
    WasteResponse,
)
from acso_financial_intelligence.reasoning import ReportNarrator
from acso_financial_intelligence.settings import Settings
from acso_financial_intelligence.store import CostStore
from acso_financial_intelligence.waste_scan import WasteScanner
from acso_shared.contracts import CostImpactRequest
from acso_shared.errors import NotFound
from acso_shared.llm.records import publish_usage
from acso_shared.logging import get_logger
from acso_shared.messaging.envelope import Envelope
from acso_shared.resources import Agent
from acso_shared.runtime import AgentRuntime

log = get_logger("acso.finance")

FORECAST_CONFIDENCE = 0.8
FORECAST_MONTHS = 2
MIN_FORECAST_DAYS = 14


def no_data() -> NotFound:
    return NotFound("cost_data_missing", "no cost data yet: refresh from Cost Explorer or import a cost file")


def _next_month(day: date, months: int = 1) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def forecast_from_ce(ce: CeForecast, records: Sequence[CostRecord], last_observed: date, confidence: float) -> Forecast:
    """Cost Explorer's daily forecast in our model; month bounds add up the daily bounds (a wide, safe band)."""
    first = last_observed + timedelta(days=1)
    current = month_key(first)
    to_date = sum(r.amount for r in records if month_key(r.usage_date) == current and r.usage_date <= last_observed)
    months = [month_key(_next_month(first, k)) if k else current for k in range(FORECAST_MONTHS + 1)]
    totals = []
    for month in months:
        points = [p for p in ce.points if month_key(p.date) == month]
        base = to_date if month == current else 0.0
        totals.append(
            MonthForecast(
                month=month,
                actual_to_date=round(base, 2),
                forecast_total=round(base + sum(p.mean for p in points), 2),
                lower=round(base + sum(p.lower for p in points), 2),
                upper=round(base + sum(p.upper for p in points), 2),
            )
        )
    return Forecast(
        currency=ce.unit,
        last_observed=last_observed,
        confidence=confidence,
        method="AWS Cost Explorer GetCostForecast",
        points=ce.points,
        month_end=totals[0],
        next_months=totals[1:],
    )


def _one_per_finding_set(alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One alert per region and set of related findings: the largest anomaly speaks for the rest.

    The same excess spend shows as a service, an account and a region anomaly at once; three
    alerts about one event would open three workflows.
    """
    best: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    for alert in alerts:
        key = (alert["cost"]["region"], tuple(sorted(alert["related_findings"])))
        if key not in best or alert["cost"]["impact_abs"] > best[key]["cost"]["impact_abs"]:
            best[key] = alert
    return list(best.values())


class FinanceService:
    """Composes the store, Cost Explorer, the waste scanner and the analytic core."""

    def __init__(self, runtime: AgentRuntime, settings: Settings) -> None:
        self._runtime = runtime
        self._settings = settings
        self.store = CostStore(runtime.db)
        self._ce = CostExplorer(runtime.clients, metric=settings.cost_metric, tag_keys=settings.cost_tag_keys)
        self._scanner = WasteScanner(
            runtime.clients, account=settings.aws_account_id, metric_days=settings.waste_metric_days
        )
        # One analysis at a time: a refresh and an import finishing together would only repeat work.
        self._analysis = asyncio.Lock()
        self._ce_forecast_failed: tuple[datetime, str] | None = None
        self._narrator = ReportNarrator(
            runtime.reasoning,
            runtime.db,
            self.store,
            lambda outcome: publish_usage(
                runtime.clients, f"acso-{settings.env}/reasoning", Agent.FINANCIAL_INTELLIGENCE.value, outcome
            ),
        )

    # -- refresh ---------------------------------------------------------------------------
    async def refresh_if_stale(self, now: datetime) -> RefreshResult | None:
        """Refresh from Cost Explorer when the cache is older than `cost_cache_max_age_s` (or empty)."""
        fetched = await self.store.last_fetched_at()
        if fetched is not None and now - fetched < timedelta(seconds=self._settings.cost_cache_max_age_s):
            return None
        return await self.refresh(RefreshRequest(), now)

    async def refresh(self, request: RefreshRequest, now: datetime) -> RefreshResult:
        """Fetch daily cost from Cost Explorer into the cache, then re-run the analysis."""
        start, end = default_period(now.date(), self._settings.cost_lookback_days)
        start, end = request.start or start, request.end or end
        fetched = await self._ce.fetch(start, end)
        stored = await self.store.replace_records("ce", "detail", fetched.detail, at=now)
        for tag_key, records in fetched.by_tag.items():
            await self.store.replace_records("ce", f"tag:{tag_key}", records, at=now)
        log.info("cost_refreshed", start=str(start), end=str(end), records=stored, ce_calls=fetched.calls)
        anomalies, sent, source = await self.analyze(now)
        return RefreshResult(
            start=start, end=end, records=stored, anomalies=anomalies, alerts_sent=sent, forecast_source=source
        )

    # -- analysis --------------------------------------------------------------------------
    async def _history(self) -> list[CostRecord]:
        last = await self.store.last_usage_date()
        if last is None:
            return []
        return await self.store.records(last - timedelta(days=self._settings.cost_lookback_days - 1), last)

    async def analyze(self, now: datetime) -> tuple[int, int, ForecastSource | None]:
        """Detect anomalies, refresh the forecast and raise alerts for compute anomalies with findings."""
        async with self._analysis:
            records = await self._history()
            if not records:
                return 0, 0, None
            anomalies = await asyncio.to_thread(
                detect_anomalies,
                records,
                dimensions=(Dimension.SERVICE, Dimension.ACCOUNT, Dimension.REGION),
                tag_keys=self._settings.cost_tag_keys,
            )
            await self.store.save_anomalies(anomalies)
            source = await self._refresh_forecast(records, now)
            sent = await self.raise_alerts(anomalies)
            log.info("cost_analyzed", anomalies=len(anomalies), alerts_sent=sent, forecast_source=source)
            return len(anomalies), sent, source

    async def _refresh_forecast(self, records: Sequence[CostRecord], now: datetime) -> ForecastSource | None:
        last = max(r.usage_date for r in records)
        if len({r.usage_date for r in records}) < MIN_FORECAST_DAYS:
            return None
        first = last + timedelta(days=1)
        horizon_end = _next_month(first, FORECAST_MONTHS + 1)
        attempt = await self._ce_forecast(first, horizon_end, now)
        if attempt.forecast is not None and attempt.forecast.points:
            forecast = forecast_from_ce(attempt.forecast, records, last, FORECAST_CONFIDENCE)
            await self.store.save_forecast(forecast, "cost_explorer", None)
            return "cost_explorer"
        local = await asyncio.to_thread(
            forecast_records, records, horizon_months=FORECAST_MONTHS, confidence=FORECAST_CONFIDENCE
        )
        await self.store.save_forecast(local, "local", attempt.fallback_reason or "Cost Explorer returned no points")
        return "local"

    async def _ce_forecast(self, start: date, end: date, now: datetime) -> ForecastAttempt:
        """Ask Cost Explorer unless disabled or it failed recently.

        A failing GetCostForecast (the emulator has none) costs the SDK's retries with backoff,
        about 20 s; after a failure we use the local forecast until the cache age has passed.
        """
        if not self._settings.cost_explorer_forecast:
            return ForecastAttempt(None, "Cost Explorer forecasts are disabled (cost_explorer_forecast=false)")
        if self._ce_forecast_failed is not None:
            failed_at, reason = self._ce_forecast_failed
            if now - failed_at < timedelta(seconds=self._settings.cost_cache_max_age_s):
                return ForecastAttempt(None, f"{reason} (at {failed_at.isoformat()}; not retried yet)")
        attempt = await self._ce.forecast(start, end, FORECAST_CONFIDENCE)
        self._ce_forecast_failed = (now, attempt.fallback_reason) if attempt.fallback_reason else None
        return attempt

    async def raise_alerts(self, anomalies: Sequence[Anomaly] | None = None) -> int:
        """Link recent compute anomalies to concurrent security findings, record new alerts, send every unsent one.

        "Recent" is relative to the newest cost data, not the clock: bills arrive days late.
        """
        if anomalies is None:
            last = await self.store.last_usage_date()
            window = timedelta(days=self._settings.cost_finding_window_days)
            anomalies = await self.store.anomalies(last - window) if last else []
        findings: list[SecurityFinding] = []
        if anomalies:
            # compute_anomaly_alerts allows a day of slack before an anomaly's first day.
            earliest = min(a.start_date for a in anomalies) - timedelta(days=1)
            findings = await self.store.findings_since(datetime.combine(earliest, datetime.min.time(), tzinfo=UTC))
        if findings:
            alerts = _one_per_finding_set(compute_anomaly_alerts(anomalies, findings))
            await self.store.add_alerts(
                [(a["fingerprint"], a["cost"]["anomaly_id"], to_generic_alert(a)) for a in alerts]
            )
        sent = 0
        for alert_id, body in await self.store.unsent_alerts():
            envelope = Envelope.new(
                kind=ALERT_INGEST,
                sender=Agent.FINANCIAL_INTELLIGENCE.value,
                payload={"alerts": [body]},
                idempotency_key=f"{ALERT_INGEST}:cost:{alert_id}",
            )
            await self._runtime.send_task(Agent.SUPERVISOR, envelope)
            await self.store.mark_alert_sent(alert_id)
            sent += 1
        return sent

    async def ingest_findings(self, request: FindingsRequest) -> int:
        """Store forwarded security findings and check them against the known anomalies."""
        await self.store.save_findings(request.findings)
        async with self._analysis:
            return await self.raise_alerts()

    # -- reads -----------------------------------------------------------------------------
    async def summary(self, query: SummaryQuery) -> SummaryResponse:
        end = query.end or await self.store.last_usage_date()
        if end is None:
            raise no_data()
        start = end - timedelta(days=query.days - 1)
        # The summary compares with the equally long period before, so load both.
        records = await self.store.records(start - timedelta(days=query.days), end)
        sources = await self.store.sources(start, end)
        return SummaryResponse(
            summary=summarize(records, start, end), sources=sources, fetched_at=await self.store.last_fetched_at()
        )

    async def anomalies(self, query: AnomalyQuery) -> list[Anomaly]:
        return await self.store.anomalies(query.since, query.limit)

    async def forecast(self, now: datetime) -> StoredForecast:
        stored = await self.store.latest_forecast()
        if stored is None:
            records = await self._history()
            if len({r.usage_date for r in records}) < MIN_FORECAST_DAYS:
                raise NotFound("forecast_unavailable", f"a forecast needs at least {MIN_FORECAST_DAYS} days of data")
            await self._refresh_forecast(records, now)
            stored = await self.store.latest_forecast()
            assert stored is not None
        return stored

    async def waste(self, now: datetime) -> WasteResponse:
        regions = list(self._settings.waste_regions or (self._settings.aws_region,))
        inventory = await self._scanner.scan(regions, now)
        last = await self.store.last_usage_date()
        since = last - timedelta(days=self._settings.waste_metric_days - 1) if last else None
        records = await self.store.records(since, last) if last else []
        policy = WastePolicy(
            volume_grace_days=self._settings.waste_volume_grace_days,
            snapshot_max_age_days=self._settings.waste_snapshot_max_age_days,
        )
        findings = find_waste(
            now=now,
            policy=policy,
            instances=inventory.instances,
            volumes=inventory.volumes,
            snapshots=inventory.snapshots,
            records=records,
            required_tags=await self._tagged_required(records),
        )
        findings += await self._ce_untagged(since, last, records)
        return WasteResponse(
            findings=findings,
            monthly_savings=round(sum(f.monthly_savings for f in findings), 2),
            scanned_regions=regions,
            instances_scanned=len(inventory.instances),
        )

    async def _tagged_required(self, records: Sequence[CostRecord]) -> list[str]:
        """Required tags checked on the detail records: only when they carry tags (imported bills do)."""
        return list(self._settings.cost_required_tags) if any(r.tags for r in records) else []

    async def _ce_untagged(
        self, since: date | None, last: date | None, records: Sequence[CostRecord]
    ) -> list[WasteFinding]:
        """Untagged spend from Cost Explorer's per-tag breakdown, when the detail records have no tags."""
        if last is None or any(r.tags for r in records):
            return []
        out: list[WasteFinding] = []
        for tag in self._settings.cost_required_tags:
            tagged = await self.store.records(since, last, grouping=f"tag:{tag}")
            out += untagged_spend_findings(tagged, [tag])
        return out

    async def _coverage(self, records: Sequence[CostRecord], start: date, end: date) -> list[TagCoverage]:
        if any(r.tags for r in records):
            return tag_coverage([r for r in records if start <= r.usage_date <= end], self._settings.cost_required_tags)
        out = []
        for tag in self._settings.cost_required_tags:
            out += tag_coverage(await self.store.records(start, end, grouping=f"tag:{tag}"), [tag])
        return out

    async def executive_report(
        self, now: datetime, days: int | None = None, waste: WasteResponse | None = None
    ) -> ExecutiveReport:
        period = days or self._settings.cost_report_days
        last = await self.store.last_usage_date()
        if last is None:
            raise no_data()
        start = last - timedelta(days=period - 1)
        records = await self.store.records(start - timedelta(days=period), last)
        stored = await self.store.latest_forecast()
        waste = waste or await self.waste(now)
        report = build_executive_report(
            records,
            generated_at=now,
            period_days=period,
            anomalies=await self.store.anomalies(start),
            forecast=stored.forecast if stored else None,
            waste=waste.findings,
            tag_coverage=await self._coverage(records, start, last),
            incidents=await self.store.recent_impacts(),
        )
        return await self._narrator.narrate(report)

    # -- incidents -------------------------------------------------------------------------
    async def incident_impact(self, request: CostImpactRequest, now: datetime) -> IncidentCostImpact:
        """Compute and store (replacing any earlier estimate) the cost impact of an incident."""
        window_start = request.window_start if request.window_start.tzinfo else request.window_start.replace(tzinfo=UTC)
        window_end = request.window_end or now
        if window_end.tzinfo is None:
            window_end = window_end.replace(tzinfo=UTC)
        window_end = max(window_end, window_start)
        baseline_days = 14
        records = await self.store.records(window_start.date() - timedelta(days=baseline_days), window_end.date())
        response = response_action_costs(
            request.actions,
            records,
            window_end,
            retention_days=self._settings.forensic_retention_days,
            baseline_days=baseline_days,
        )
        impact = incident_cost_impact(
            request.incident_id,
            request.resource_ids,
            window_start,
            window_end,
            records,
            response_actions=response,
            baseline_days=baseline_days,
        )
        await self.store.save_impact(impact)
        return impact

    async def impact(self, incident_id: str) -> IncidentCostImpact:
        found = await self.store.impact(incident_id)
        if found is None:
            raise NotFound("cost_impact_not_found", f"no cost impact recorded for incident {incident_id}")
        return found
