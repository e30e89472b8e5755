"""HTTP routes of the financial-intelligence service (transport only)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aiohttp import web

from acso_financial_intelligence.costs.models import ExecutiveReport, IncidentCostImpact
from acso_financial_intelligence.costs.report import render_executive_html
from acso_financial_intelligence.keys import FINANCE, IMPORTS
from acso_financial_intelligence.models import (
    AnomalyList,
    AnomalyQuery,
    ImportJob,
    ImportQuery,
    ReportQuery,
    StoredForecast,
    SummaryQuery,
    SummaryResponse,
    WasteResponse,
)
from acso_shared.errors import Invalid, NotFound
from acso_shared.web.api import ApiRouter, json_response, parse_query
from acso_shared.web.auth import principal_of

router = ApiRouter("costs")


def _now() -> datetime:
    return datetime.now(UTC)


@router.route(
    "GET",
    "/v1/costs/summary",
    summary="Spend by day, service, account and region versus the period before",
    query=SummaryQuery,
    response=SummaryResponse,
    errors=(400, 404),
)
async def cost_summary(request: web.Request) -> web.Response:
    query = parse_query(request, SummaryQuery)
    return json_response(await request.app[FINANCE].summary(query))


@router.route(
    "GET",
    "/v1/costs/anomalies",
    summary="Detected cost anomalies with root causes, largest first",
    query=AnomalyQuery,
    response=AnomalyList,
    errors=(400,),
)
async def cost_anomalies(request: web.Request) -> web.Response:
    query = parse_query(request, AnomalyQuery)
    return json_response(AnomalyList(anomalies=await request.app[FINANCE].anomalies(query)))


@router.route(
    "GET",
    "/v1/costs/forecast",
    summary="Month-end and next months' spend forecast, and its source",
    response=StoredForecast,
    errors=(404,),
)
async def cost_forecast(request: web.Request) -> web.Response:
    return json_response(await request.app[FINANCE].forecast(_now()))


@router.route(
    "GET",
    "/v1/costs/waste",
    summary="Idle and oversized instances, unattached volumes, old snapshots, untagged spend",
    response=WasteResponse,
    errors=(502,),
)
async def cost_waste(request: web.Request) -> web.Response:
    return json_response(await request.app[FINANCE].waste(_now()))


@router.route(
    "GET",
    "/v1/costs/incidents/{incident_id}",
    summary="The cost impact of a security incident",
    response=IncidentCostImpact,
    errors=(404,),
)
async def incident_cost(request: web.Request) -> web.Response:
    return json_response(await request.app[FINANCE].impact(request.match_info["incident_id"]))


@router.route(
    "POST",
    "/v1/costs/imports",
    summary="Import a FOCUS 1.x (CSV/Parquet) or CUR (CSV) cost file; the body is the file",
    query=ImportQuery,
    response=ImportJob,
    status=202,
    errors=(400, 413, 415),
)
async def start_import(request: web.Request) -> web.Response:
    query = parse_query(request, ImportQuery)
    principal = principal_of(request)
    job = await request.app[IMPORTS].start(
        request.content.iter_chunked(1024 * 1024),
        media_type=request.content_type,
        fmt=query.format,
        requested_by=principal.subject,
        declared_length=request.content_length,
    )
    response = json_response(job, status=202)
    response.headers["Location"] = f"/v1/costs/imports/{job.id}"
    return response


@router.route(
    "GET",
    "/v1/costs/imports/{id}",
    summary="An import job: status, progress, error with its line",
    response=ImportJob,
    errors=(400, 404),
)
async def get_import(request: web.Request) -> web.Response:
    try:
        job_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise Invalid("invalid_id", "an import id is a UUID") from None
    job = await request.app[FINANCE].store.get_import(job_id)
    if job is None:
        raise NotFound("import_not_found", f"no import {job_id}")
    return json_response(job)


def _wants_html(request: web.Request, query: ReportQuery) -> bool:
    if query.format is not None:
        return query.format == "html"
    accept = request.headers.get("Accept", "")
    # Browsers send text/html first; API clients send application/json or */*.
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == "text/html":
            return True
        if media in ("application/json", "*/*"):
            return False
    return False


@router.route(
    "GET",
    "/v1/reports/executive",
    summary="The executive cost report as JSON, or as a self-contained HTML page (Accept: text/html or ?format=html)",
    query=ReportQuery,
    response=ExecutiveReport,
    errors=(400, 404),
)
async def executive_report(request: web.Request) -> web.Response:
    query = parse_query(request, ReportQuery)
    report = await request.app[FINANCE].executive_report(_now(), query.days)
    if _wants_html(request, query):
        response = web.Response(text=render_executive_html(report), content_type="text/html", charset="utf-8")
        # The page has no scripts and inline styles only: allow exactly that.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
        )
        return response
    return json_response(report)
