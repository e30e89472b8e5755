"""The executive report's narrative, through the reasoning layer.

The deterministic narrative is written from the report's own figures (its highlights) and always
exists; the model may write it up for executives and may query the service's own cost store with
read-only tools (summary, anomalies, forecast). Service names, tag values and anomaly keys come
from billing data anyone with a tag can influence, so the highlights reach the model only as quoted
evidence; the instruction holds numbers. A model narrative is kept per set of figures
(`cost_report_narratives`), so serving the same report again does not pay for the model twice; a
deterministic one is never kept, so a degraded run is retried on the next request.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta

from pydantic import BaseModel, Field

from acso_financial_intelligence.costs.models import Anomaly, Breakdown, ExecutiveReport, MonthForecast, ReportNarrative
from acso_financial_intelligence.costs.report import summarize
from acso_financial_intelligence.store import CostStore
from acso_shared.db import Database
from acso_shared.llm import (
    Evidence,
    Purpose,
    ReadOnlyTool,
    ReasoningLayer,
    ReasoningOutcome,
    ReasoningTask,
    ToolRegistry,
)
from acso_shared.llm.outputs import ExecutiveNarrative
from acso_shared.llm.records import reasoning_record

PURPOSE = Purpose.EXECUTIVE_NARRATIVE
MAX_TOOL_ANOMALIES = 20
Publish = Callable[[ReasoningOutcome[ExecutiveNarrative]], Awaitable[object]]


# -- tools ------------------------------------------------------------------------------------
class SummaryInput(BaseModel):
    days: int = Field(default=30, ge=1, le=366, description="days of spend, ending on the latest day with data")


class SummaryOutput(BaseModel):
    start: str
    end: str
    currency: str
    total: float
    previous_total: float
    change_pct: float | None
    by_service: list[Breakdown]
    by_account: list[Breakdown]
    by_region: list[Breakdown]


class AnomaliesInput(BaseModel):
    days: int = Field(default=30, ge=1, le=366, description="anomalies still running in the last `days` of data")
    limit: int = Field(default=10, ge=1, le=MAX_TOOL_ANOMALIES)


class AnomaliesOutput(BaseModel):
    anomalies: list[Anomaly]


class ForecastInput(BaseModel):
    pass


class ForecastOutput(BaseModel):
    available: bool
    source: str | None = None
    method: str | None = None
    confidence: float | None = None
    months: list[MonthForecast] = Field(default_factory=list)


def build_tools(store: CostStore) -> ToolRegistry:
    """Read-only queries of the service's own cost store."""

    async def cost_summary(args: SummaryInput) -> SummaryOutput:
        last = await store.last_usage_date()
        if last is None:
            return SummaryOutput(
                start="", end="", currency="USD", total=0, previous_total=0, change_pct=None,
                by_service=[], by_account=[], by_region=[],
            )  # fmt: skip
        start = last - timedelta(days=args.days - 1)
        summary = summarize(await store.records(start - timedelta(days=args.days), last), start, last)
        return SummaryOutput.model_validate(
            {**summary.model_dump(exclude={"daily"}), "start": str(summary.start), "end": str(summary.end)}
        )

    async def cost_anomalies(args: AnomaliesInput) -> AnomaliesOutput:
        last = await store.last_usage_date()
        since = last - timedelta(days=args.days - 1) if last else None
        return AnomaliesOutput(anomalies=await store.anomalies(since, args.limit) if last else [])

    async def cost_forecast(_: ForecastInput) -> ForecastOutput:
        stored = await store.latest_forecast()
        if stored is None:
            return ForecastOutput(available=False)
        f = stored.forecast
        return ForecastOutput(
            available=True,
            source=stored.source,
            method=f.method,
            confidence=f.confidence,
            months=[f.month_end, *f.next_months],
        )

    return ToolRegistry(
        [
            ReadOnlyTool("cost_summary", "Spend by service, account and region, versus the period before.",
                         SummaryInput, cost_summary),
            ReadOnlyTool("cost_anomalies", "Detected cost anomalies, largest first, with root causes.",
                         AnomaliesInput, cost_anomalies),
            ReadOnlyTool("cost_forecast", "The latest month-end forecast with its interval.", ForecastInput,
                         cost_forecast),
        ]
    )  # fmt: skip


# -- the task ---------------------------------------------------------------------------------
def deterministic_narrative(report: ExecutiveReport) -> ExecutiveNarrative:
    """The narrative the figures give on their own: the highlights, and what to act on."""
    recommendations: list[str] = []
    if report.waste:
        recommendations.append(
            f"Act on the {len(report.waste)} waste finding(s): about {report.waste_monthly_savings:,.0f} "
            f"{report.currency} a month."
        )
    if report.anomalies:
        worst = max(report.anomalies, key=lambda a: a.impact_abs)
        recommendations.append(f"Review the largest cost anomaly: {worst.dimension} {worst.key}.")
    uncovered = [t.tag for t in report.tag_coverage if t.coverage_pct < 100]
    if uncovered:
        recommendations.append(f"Tag the untagged spend (required tags: {', '.join(uncovered)}).")
    if report.incidents:
        recommendations.append(f"Review the cost of {len(report.incidents)} security incident(s).")
    return ExecutiveNarrative(
        headline=(report.highlights[0] if report.highlights else "Cloud cost report")[:200],
        narrative=" ".join(report.highlights)[:4000] or "No cost data in the period.",
        recommendations=[r[:500] for r in recommendations[:5]],
        confidence=1.0,
    )


def instruction(report: ExecutiveReport) -> str:
    """Trusted text only: the report's dates, totals, counts and percentages."""
    s = report.summary
    change = f"{s.change_pct:+.1f}%" if s.change_pct is not None else "no previous period"
    forecast = (
        f"month-end forecast {report.forecast.month_end.forecast_total:.2f}" if report.forecast else "no forecast"
    )
    return (
        f"Write the executive narrative of the cloud cost report for {s.start} to {s.end}: spend {s.total:.2f} "
        f"{report.currency} ({change}), {forecast}, {len(report.anomalies)} cost anomalies, "
        f"{len(report.waste)} waste findings worth {report.waste_monthly_savings:.2f} a month, "
        f"{len(report.incidents)} security incidents with a cost. The report's highlights follow as quoted "
        "evidence; the read-only cost tools answer follow-up questions. Do not invent figures."
    )


def evidence_of(report: ExecutiveReport) -> list[Evidence]:
    """The untrusted text: highlights and anomaly keys name services and tag values from billing data."""
    items = [Evidence(source="report.highlights", text="\n".join(report.highlights))]
    if report.anomalies:
        items.append(
            Evidence(
                source="report.anomalies",
                text="\n".join(f"{a.dimension} {a.key}: +{a.impact_abs:.2f}" for a in report.anomalies[:20]),
            )
        )
    return items


def figures_key(report: ExecutiveReport) -> str:
    """A digest of everything the narrative is written from (not when it was generated)."""
    figures = report.model_dump(mode="json", exclude={"generated_at", "reasoning", "narrative"})
    return hashlib.sha256(json.dumps(figures, sort_keys=True).encode()).hexdigest()


class ReportNarrator:
    """Adds the narrative to an executive report through the runtime's reasoning layer."""

    def __init__(self, layer: ReasoningLayer, db: Database, store: CostStore, publish: Publish) -> None:
        self._layer = layer
        self._db = db
        self._store = store
        self._publish = publish

    async def narrate(self, report: ExecutiveReport) -> ExecutiveReport:
        """The report with `narrative` and `reasoning`; a kept model narrative for the same figures is reused."""
        key = figures_key(report)
        kept = await self._db.fetchval("SELECT record FROM cost_report_narratives WHERE figures_key = $1", key)
        if kept is None:
            outcome = await self._layer.run(
                ReasoningTask(
                    agent="financial_intelligence",
                    purpose=PURPOSE.value,
                    instruction=instruction(report),
                    output_model=ExecutiveNarrative,
                    deterministic=deterministic_narrative(report),
                    evidence=evidence_of(report),
                    tools=build_tools(self._store),
                )
            )
            await self._publish(outcome)
            record = {**reasoning_record(outcome), **outcome.output.model_dump(mode="json")}
            if outcome.reasoning == "llm":
                kept = await self._db.fetchval(
                    "INSERT INTO cost_report_narratives (figures_key, record) VALUES ($1, $2) "
                    "ON CONFLICT (figures_key) DO UPDATE SET figures_key = EXCLUDED.figures_key RETURNING record",
                    key,
                    record,
                )
            else:
                kept = record
        narrative = ReportNarrative.model_validate(kept)
        return report.model_copy(update={"narrative": narrative, "reasoning": narrative.reasoning})
