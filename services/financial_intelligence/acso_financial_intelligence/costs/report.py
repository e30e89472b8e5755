"""Cost summary, top movers and the executive report, as JSON (the model) and as one self-contained HTML page.

The HTML has no scripts, no external CSS, fonts or images: charts are inline SVG drawn here, so the
page renders the same in a browser, in a PDF printer and in a mail client; every chart is backed
by a table with the same numbers for clients that drop SVG. All text from the data is escaped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from html import escape

from .models import (
    Anomaly,
    Breakdown,
    CostRecord,
    CostSummary,
    DailyCost,
    Dimension,
    ExecutiveReport,
    Forecast,
    IncidentCostImpact,
    TagCoverage,
    TopMover,
    WasteFinding,
)
from .series import date_range, dimension_key

_INK, _MUTED, _GRID = "#1f2937", "#6b7280", "#e5e7eb"
_BLUE, _BAND, _RED, _GREEN, _AMBER = "#2563eb", "#bfdbfe", "#dc2626", "#16a34a", "#d97706"


def _breakdown(records: Sequence[CostRecord], dimension: Dimension, top_n: int) -> list[Breakdown]:
    sums: dict[str, float] = defaultdict(float)
    for r in records:
        sums[dimension_key(r, dimension) or "(none)"] += r.amount
    total = sum(sums.values())
    ranked = sorted(sums.items(), key=lambda kv: -kv[1])
    head = ranked[:top_n]
    rest = sum(v for _, v in ranked[top_n:])
    if rest:
        head.append(("Other", rest))
    return [Breakdown(key=k, amount=round(v, 2), share=round(v / total, 4) if total else 0.0) for k, v in head]


def _days_with_data(records: Sequence[CostRecord], start: date, end: date) -> set[date]:
    """The days in [start, end] that have at least one cost record: the others are missing, not $0."""
    return {r.usage_date for r in records if start <= r.usage_date <= end}


def summarize(records: Sequence[CostRecord], start: date, end: date, *, top_n: int = 8) -> CostSummary:
    """Spend between start and end (inclusive) by day, service, account and region, versus the period before.

    A day with no cost record at all is missing (`amount` null), never $0; the change is the change of
    the spend per day with data, so a previous period the data only partly covers compares fairly, and
    one it does not cover at all gives no change.
    """
    days = (end - start).days + 1
    current = [r for r in records if start <= r.usage_date <= end]
    prev_start = start - timedelta(days=days)
    previous_total = sum(r.amount for r in records if prev_start <= r.usage_date < start)
    covered = _days_with_data(records, start, end)
    previous_covered = _days_with_data(records, prev_start, start - timedelta(days=1))
    total = sum(r.amount for r in current)
    per_day: dict[date, float] = defaultdict(float)
    for r in current:
        per_day[r.usage_date] += r.amount
    change_pct = None
    if covered and previous_covered and previous_total > 0:
        rate, previous_rate = total / len(covered), previous_total / len(previous_covered)
        change_pct = round((rate - previous_rate) / previous_rate * 100, 2)
    return CostSummary(
        start=start,
        end=end,
        currency=current[0].currency if current else "USD",
        total=round(total, 2),
        previous_total=round(previous_total, 2),
        change_pct=change_pct,
        days_with_data=len(covered),
        previous_days_with_data=len(previous_covered),
        by_service=_breakdown(current, Dimension.SERVICE, top_n),
        by_account=_breakdown(current, Dimension.ACCOUNT, top_n),
        by_region=_breakdown(current, Dimension.REGION, top_n),
        daily=[
            DailyCost(date=d, amount=round(per_day[d], 2) if d in covered else None) for d in date_range(start, end)
        ],
    )


def top_movers(
    records: Sequence[CostRecord], dimension: Dimension, start: date, end: date, *, n: int = 6
) -> list[TopMover]:
    """The keys whose spend changed most (in absolute terms) from the previous equal period to [start, end].

    Only days with data count: the previous spend is scaled from its days with data to the current
    period's days with data, and with no data at all before `start` there is nothing to compare (no
    movers), rather than every key showing as new spend.
    """
    days = (end - start).days + 1
    prev_start = start - timedelta(days=days)
    covered = _days_with_data(records, start, end)
    previous_covered = _days_with_data(records, prev_start, start - timedelta(days=1))
    if not covered or not previous_covered:
        return []
    scale = len(covered) / len(previous_covered)
    current: dict[str, float] = defaultdict(float)
    previous: dict[str, float] = defaultdict(float)
    for r in records:
        key = dimension_key(r, dimension)
        if key is None:
            continue
        if start <= r.usage_date <= end:
            current[key] += r.amount
        elif prev_start <= r.usage_date < start:
            previous[key] += r.amount * scale
    movers = [
        TopMover(
            dimension=dimension,
            key=k,
            previous=round(previous[k], 2),
            current=round(current[k], 2),
            change_abs=round(current[k] - previous[k], 2),
            change_pct=round((current[k] - previous[k]) / previous[k] * 100, 1) if previous[k] > 0 else None,
        )
        for k in set(current) | set(previous)
    ]
    movers.sort(key=lambda m: (-abs(m.change_abs), m.key))
    return [m for m in movers[:n] if m.change_abs != 0]


def build_executive_report(
    records: Sequence[CostRecord],
    *,
    generated_at: datetime,
    period_days: int = 30,
    anomalies: Sequence[Anomaly] = (),
    forecast: Forecast | None = None,
    waste: Sequence[WasteFinding] = (),
    tag_coverage: Sequence[TagCoverage] = (),
    incidents: Sequence[IncidentCostImpact] = (),
) -> ExecutiveReport:
    """The executive report over the last `period_days` of data, with highlights written from the numbers."""
    if not records:
        raise ValueError("no cost records to report on")
    end = max(r.usage_date for r in records)
    start = end - timedelta(days=period_days - 1)
    summary = summarize(records, start, end)
    in_period = [a for a in anomalies if a.end_date >= start]
    movers = top_movers(records, Dimension.SERVICE, start, end)
    savings = round(sum(w.monthly_savings for w in waste), 2)
    return ExecutiveReport(
        generated_at=generated_at,
        currency=summary.currency,
        summary=summary,
        forecast=forecast,
        anomalies=list(in_period),
        top_movers=movers,
        waste=list(waste),
        waste_monthly_savings=savings,
        tag_coverage=list(tag_coverage),
        incidents=list(incidents),
        highlights=_highlights(summary, forecast, in_period, movers, savings, incidents),
    )


def _money(value: float, currency: str = "USD") -> str:
    symbol = "$" if currency == "USD" else f"{currency} "
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 1_000_000:
        return f"{sign}{symbol}{value / 1_000_000:.2f}M"
    if value >= 10_000:
        return f"{sign}{symbol}{value / 1000:.1f}k"
    return f"{sign}{symbol}{value:,.0f}"


def _highlights(
    summary: CostSummary,
    forecast: Forecast | None,
    anomalies: Sequence[Anomaly],
    movers: Sequence[TopMover],
    savings: float,
    incidents: Sequence[IncidentCostImpact],
) -> list[str]:
    cur = summary.currency
    out = [
        f"Spend over {summary.start} to {summary.end}: {_money(summary.total, cur)}"
        + (f" ({summary.change_pct:+.1f}% on the previous period)." if summary.change_pct is not None else ".")
    ]
    if forecast:
        m = forecast.month_end
        out.append(
            f"{m.month} is forecast to close at {_money(m.forecast_total, cur)} "
            f"({forecast.confidence:.0%} interval {_money(m.lower, cur)} to {_money(m.upper, cur)})."
        )
    if anomalies:
        worst = max(anomalies, key=lambda a: a.impact_abs)
        noun = "anomaly" if len(anomalies) == 1 else "anomalies"
        out.append(
            f"{len(anomalies)} cost {noun}, {_money(sum(a.impact_abs for a in anomalies), cur)} above "
            f"expected; the largest is {worst.dimension} {worst.key} ({_money(worst.impact_abs, cur)})."
        )
    rising = [m for m in movers if m.change_abs > 0]
    if rising:
        out.append(f"Biggest riser: {rising[0].key} (+{_money(rising[0].change_abs, cur)}).")
    if savings > 0:
        out.append(f"Acting on the waste findings would save about {_money(savings, cur)} a month.")
    if incidents:
        out.append(
            f"Security incidents cost {_money(sum(i.total_impact for i in incidents), cur)} "
            f"across {len(incidents)} incident(s)."
        )
    return out


# --- HTML ------------------------------------------------------------------------------------------


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return float(step * magnitude)
    return float(10 * magnitude)


def trend_chart_svg(report: ExecutiveReport, *, forecast_days: int = 31) -> str:
    """Daily spend line, forecast mean and band, anomalies marked on the day they peaked."""
    width, height, left, right, top, bottom = 760, 280, 64, 16, 16, 36
    actual = report.summary.daily
    points = report.forecast.points[:forecast_days] if report.forecast else []
    if not actual:
        return ""
    first = actual[0].date
    last = points[-1].date if points else actual[-1].date
    span = max((last - first).days, 1)
    observed = [(d.date, d.amount) for d in actual if d.amount is not None]
    y_max = _nice_max(max([a for _, a in observed] + [p.upper for p in points] + [0.0]) * 1.05)

    def x(day: date) -> float:
        return left + (day - first).days / span * (width - left - right)

    def y(value: float) -> float:
        return top + (1 - value / y_max) * (height - top - bottom)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="Daily cost trend with forecast">'
    ]
    for i in range(5):
        value = y_max * i / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="{_GRID}"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{_MUTED}">{escape(_money(value, report.currency))}</text>'
        )
    day = first
    while day <= last:
        parts.append(
            f'<text x="{x(day):.1f}" y="{height - 12}" text-anchor="middle" font-size="11" '
            f'fill="{_MUTED}">{day.strftime("%d %b")}</text>'
        )
        day += timedelta(days=14)
    if points:
        band = [f"{x(p.date):.1f},{y(p.upper):.1f}" for p in points]
        band += [f"{x(p.date):.1f},{y(p.lower):.1f}" for p in reversed(points)]
        parts.append(f'<polygon points="{" ".join(band)}" fill="{_BAND}" opacity="0.7"/>')
        mean = [f"{x(observed[-1][0]):.1f},{y(observed[-1][1]):.1f}"] if observed else []
        mean += [f"{x(p.date):.1f},{y(p.mean):.1f}" for p in points]
        parts.append(
            f'<polyline points="{" ".join(mean)}" fill="none" stroke="{_BLUE}" stroke-width="2" '
            f'stroke-dasharray="6 4"/>'
        )
    # A missing day breaks the line: one polyline per run of days with data.
    runs: list[list[str]] = [[]]
    for d in actual:
        if d.amount is None:
            runs.append([])
        else:
            runs[-1].append(f"{x(d.date):.1f},{y(d.amount):.1f}")
    for run in runs:
        if run:
            parts.append(f'<polyline points="{" ".join(run)}" fill="none" stroke="{_INK}" stroke-width="2"/>')
    by_day = dict(observed)
    for a in report.anomalies:
        if a.peak_date in by_day:
            parts.append(
                f'<circle cx="{x(a.peak_date):.1f}" cy="{y(by_day[a.peak_date]):.1f}" r="6" fill="{_RED}" '
                f'fill-opacity="0.85" stroke="#fff" stroke-width="1.5"><title>{escape(a.dimension)} '
                f"{escape(a.key)}: +{escape(_money(a.impact_abs, a.currency))} on {a.peak_date}</title></circle>"
            )
    legend = [(_INK, "Actual", ""), (_BLUE, "Forecast", ' stroke-dasharray="6 4"'), (_RED, "Anomaly", "")]
    for i, (colour, label, dash) in enumerate(legend):
        lx = left + 10 + i * 110
        parts.append(
            f'<line x1="{lx}" x2="{lx + 22}" y1="{top + 8}" y2="{top + 8}" stroke="{colour}" stroke-width="3"{dash}/>'
        )
        parts.append(f'<text x="{lx + 28}" y="{top + 12}" font-size="12" fill="{_INK}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart_svg(items: Sequence[tuple[str, float]], currency: str, *, label: str, diverging: bool = False) -> str:
    """Horizontal bars (red up, green down when diverging); labels on the left, values on the bars."""
    if not items:
        return ""
    width, row, left, right = 760, 30, 250, 80
    height = row * len(items) + 10
    peak = max(abs(v) for _, v in items) or 1.0
    zero = left + (width - left - right) / 2 if diverging else left
    # Leave room beside the longest bar for its value label, on either side of the axis.
    scale = (((width - left - right) / 2 - 60) if diverging else (width - left - right)) / peak
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}">'
    ]
    for i, (name, value) in enumerate(items):
        y = 5 + i * row
        bar = abs(value) * scale
        x0 = zero - bar if value < 0 else zero
        colour = (_GREEN if value < 0 else _RED) if diverging else _AMBER
        short = name if len(name) <= 36 else name[:35] + "…"
        parts.append(
            f'<text x="{left - 8}" y="{y + 19}" text-anchor="end" font-size="12" fill="{_INK}">{escape(short)}</text>'
        )
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(bar, 1):.1f}" height="{row - 10}" rx="3" fill="{colour}"/>'
        )
        text_x = x0 + bar + 6 if value >= 0 else x0 - 6
        anchor = "start" if value >= 0 else "end"
        sign = "+" if diverging and value > 0 else ""
        parts.append(
            f'<text x="{text_x:.1f}" y="{y + 19}" text-anchor="{anchor}" font-size="12" fill="{_INK}">'
            f"{sign}{escape(_money(value, currency))}</text>"
        )
    if diverging:
        parts.append(f'<line x1="{zero}" x2="{zero}" y1="0" y2="{height}" stroke="{_MUTED}"/>')
    parts.append("</svg>")
    return "".join(parts)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = f"""
body{{margin:0;background:#f3f4f6;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:{_INK}}}
.page{{max-width:820px;margin:0 auto;padding:24px;background:#fff}}
h1{{font-size:24px;margin:0 0 4px}}
h2{{font-size:17px;margin:28px 0 8px;border-bottom:1px solid {_GRID};padding-bottom:4px}}
.muted{{color:{_MUTED};font-size:13px}}
.kpis{{width:100%;border-collapse:separate;border-spacing:8px 0;margin:16px -8px 0}}
.kpi{{background:#f9fafb;border:1px solid {_GRID};border-radius:8px;padding:12px;width:25%;vertical-align:top}}
.kpi .v{{font-size:22px;font-weight:700}} .kpi .l{{font-size:12px;color:{_MUTED};text-transform:uppercase}}
.up{{color:{_RED}}} .down{{color:{_GREEN}}}
table{{border-collapse:collapse;width:100%;font-size:13px}}
th{{text-align:left;color:{_MUTED};font-weight:600;border-bottom:1px solid {_GRID};padding:6px 4px}}
td{{border-bottom:1px solid #f3f4f6;padding:6px 4px;vertical-align:top}}
ul{{padding-left:20px;line-height:1.5}}
.sev-critical,.sev-high{{color:{_RED};font-weight:600}} .sev-medium{{color:{_AMBER};font-weight:600}}
"""


def _narrative_html(report: ExecutiveReport) -> str:
    """The narrative paragraph(s); its text may come from a model, so it is escaped like any data."""
    n = report.narrative
    if n is None:
        return ""
    paragraphs = "".join(f"<p>{escape(p.strip())}</p>" for p in n.narrative.split("\n\n") if p.strip())
    actions = "".join(f"<li>{escape(r)}</li>" for r in n.recommendations)
    return (
        f"<h2>Summary</h2><p><strong>{escape(n.headline)}</strong></p>{paragraphs}"
        + (f"<ul>{actions}</ul>" if actions else "")
        + f'<div class="muted">written by: {escape(n.reasoning)}</div>'
    )


def render_executive_html(report: ExecutiveReport) -> str:
    """The executive report as one self-contained HTML page (no scripts, no external resources)."""
    cur = report.currency
    s = report.summary
    change = ""
    if s.change_pct is not None:
        css = "up" if s.change_pct > 0 else "down"
        change = f'<div class="{css}">{s.change_pct:+.1f}% per day vs previous {(s.end - s.start).days + 1} days</div>'
    if s.days_with_data is not None and s.days_with_data < (s.end - s.start).days + 1:
        change += f'<div class="muted">{s.days_with_data} of {(s.end - s.start).days + 1} days have data</div>'
    month = report.forecast.month_end if report.forecast else None
    kpis = [
        ("Spend, last period", _money(s.total, cur), change),
        (
            "Month-end forecast",
            _money(month.forecast_total, cur) if month else "n/a",
            f'<div class="muted">{_money(month.lower, cur)} to {_money(month.upper, cur)}</div>' if month else "",
        ),
        (
            "Cost anomalies",
            str(len(report.anomalies)),
            f'<div class="muted">{_money(sum(a.impact_abs for a in report.anomalies), cur)} above expected</div>',
        ),
        (
            "Savings available",
            f"{_money(report.waste_monthly_savings, cur)}/mo",
            f'<div class="muted">{len(report.waste)} waste findings</div>',
        ),
    ]
    kpi_html = "".join(
        f'<td class="kpi"><div class="l">{escape(label)}</div><div class="v">{escape(value)}</div>{extra}</td>'
        for label, value, extra in kpis
    )
    sections = [
        f'<h1>Cloud cost report</h1><div class="muted">{s.start} to {s.end} · generated '
        f"{report.generated_at:%Y-%m-%d %H:%M} UTC · analysis: {escape(report.reasoning)}</div>",
        f'<table class="kpis"><tr>{kpi_html}</tr></table>',
        _narrative_html(report),
        "<h2>Highlights</h2><ul>" + "".join(f"<li>{escape(h)}</li>" for h in report.highlights) + "</ul>",
        "<h2>Cost trend and forecast</h2>" + trend_chart_svg(report),
    ]
    if report.forecast:
        months = [report.forecast.month_end, *report.forecast.next_months]
        sections.append(
            _table(
                ["Month", "Spent so far", "Forecast", f"{report.forecast.confidence:.0%} interval"],
                [
                    (
                        m.month,
                        _money(m.actual_to_date, cur),
                        _money(m.forecast_total, cur),
                        f"{_money(m.lower, cur)} to {_money(m.upper, cur)}",
                    )
                    for m in months
                ],
            )
        )
    if report.top_movers:
        sections.append(
            "<h2>Top movers (by service)</h2>"
            + bar_chart_svg([(m.key, m.change_abs) for m in report.top_movers], cur, label="Top movers", diverging=True)
        )
        sections.append(
            _table(
                ["Service", "Previous", "Current", "Change"],
                [
                    (
                        m.key,
                        _money(m.previous, cur),
                        _money(m.current, cur),
                        f"{_money(m.change_abs, cur)}"
                        + (f" ({m.change_pct:+.0f}%)" if m.change_pct is not None else " (new)"),
                    )
                    for m in report.top_movers
                ],
            )
        )
    if report.anomalies:
        rows = []
        for a in report.anomalies[:10]:
            cause = ", ".join(f"{c.dimension}: {c.key}" for c in a.root_causes[:2]) or "-"
            rows.append(
                (
                    f"{a.start_date}" + (f" to {a.end_date}" if a.end_date != a.start_date else ""),
                    f"{a.dimension}: {a.key}",
                    _money(a.actual, a.currency),
                    _money(a.expected, a.currency),
                    f"+{_money(a.impact_abs, a.currency)}",
                    a.severity.value,
                    cause,
                )
            )
        table = _table(["When", "Where", "Actual", "Expected", "Impact", "Severity", "Root cause"], rows)
        for sev in ("critical", "high", "medium"):
            table = table.replace(f"<td>{sev}</td>", f'<td class="sev-{sev}">{sev}</td>')
        sections.append("<h2>Cost anomalies</h2>" + table)
    if report.incidents:
        sections.append(
            "<h2>Cost of security incidents</h2>"
            + bar_chart_svg([(i.incident_id, i.total_impact) for i in report.incidents], cur, label="Incident cost")
        )
        sections.append(
            _table(
                ["Incident", "Window", "Excess spend", "Response", "Total"],
                [
                    (
                        i.incident_id,
                        f"{i.window_start:%Y-%m-%d %H:%M} to {i.window_end:%Y-%m-%d %H:%M}",
                        _money(i.excess_cost, cur),
                        _money(i.response_cost, cur),
                        _money(i.total_impact, cur),
                    )
                    for i in report.incidents
                ],
            )
        )
    if report.waste:
        sections.append(
            "<h2>Waste and savings</h2>"
            + _table(
                ["Finding", "Resource", "Monthly saving", "Recommendation"],
                [
                    (
                        w.kind.value.replace("_", " "),
                        w.resource_id or "-",
                        _money(w.monthly_savings, cur),
                        w.recommendation,
                    )
                    for w in report.waste[:12]
                ],
            )
        )
    if report.tag_coverage:
        sections.append(
            "<h2>Tagging coverage</h2>"
            + _table(
                ["Required tag", "Coverage", "Untagged spend"],
                [(t.tag, f"{t.coverage_pct:.1f}%", _money(t.untagged_spend, cur)) for t in report.tag_coverage],
            )
        )
    body = "".join(sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Cloud cost report {s.start} to {s.end}</title><style>{_CSS}</style></head>"
        f'<body><div class="page">{body}</div></body></html>'
    )
