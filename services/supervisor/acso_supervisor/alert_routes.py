"""HTTP routes of ingestion, alerts, workflows and the live event stream (transport only)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import WSMsgType, web

from acso_shared.web.api import ApiRouter, json_response, parse_query, read_json
from acso_shared.web.auth import principal_of
from acso_supervisor.keys import ENGINE, HUB, INGESTOR
from acso_supervisor.models import (
    AlertBatchAccepted,
    AlertOut,
    AlertPage,
    AlertQuery,
    IngestedAlertOut,
    WorkflowOut,
    WorkflowPage,
    WorkflowQuery,
)

router = ApiRouter("alerts")


@router.route(
    "POST",
    "/v1/alerts",
    summary="Ingest one alert or a batch: GuardDuty, Security Hub ASFF, OCSF 2004, Splunk webhook, ACSO generic",
    response=AlertBatchAccepted,
    status=202,
    errors=(400, 413, 415),
)
async def post_alerts(request: web.Request) -> web.Response:
    ingestor = request.app[INGESTOR]
    alerts = ingestor.normalize(await read_json(request))
    results = await ingestor.ingest(alerts)
    body = AlertBatchAccepted(
        accepted=len(results),
        incidents=sorted({r.incident_id for r in results if r.incident_id}),
        results=[IngestedAlertOut(**r.__dict__) for r in results],
    )
    return json_response(body, status=202)


@router.route("GET", "/v1/alerts", summary="Recent alerts, newest first", query=AlertQuery, response=AlertPage)
async def list_alerts(request: web.Request) -> web.Response:
    query = parse_query(request, AlertQuery)
    rows = await request.app[INGESTOR].list_alerts(incident_id=query.incident_id, limit=query.limit)
    return json_response(AlertPage(alerts=[AlertOut(**row) for row in rows]))


@router.route("GET", "/v1/alerts/{id}", summary="One alert with its normalised form", response=AlertOut, errors=(404,))
async def get_alert(request: web.Request) -> web.Response:
    return json_response(AlertOut(**await request.app[INGESTOR].get_alert(request.match_info["id"])))


@router.route("GET", "/v1/workflows", summary="Workflows, newest first", query=WorkflowQuery, response=WorkflowPage)
async def list_workflows(request: web.Request) -> web.Response:
    query = parse_query(request, WorkflowQuery)
    rows = await request.app[ENGINE].list(incident_id=query.incident_id, status=query.status, limit=query.limit)
    return json_response(WorkflowPage(workflows=[WorkflowOut(**r) for r in rows]))


@router.route("GET", "/v1/workflows/{id}", summary="A workflow with every step", response=WorkflowOut, errors=(404,))
async def get_workflow(request: web.Request) -> web.Response:
    return json_response(WorkflowOut(**await request.app[ENGINE].get(request.match_info["id"])))


@router.route("GET", "/v1/stream", summary="WebSocket: workflow, incident and alert events as they happen")
async def stream(request: web.Request) -> web.StreamResponse:
    principal = principal_of(request)
    socket = web.WebSocketResponse(heartbeat=30, protocols=("bearer",))
    await socket.prepare(request)
    hub = request.app[HUB]
    subscriber = hub.subscribe(principal)

    async def pump() -> None:
        while True:
            await socket.send_str(await subscriber.queue.get())

    sender = asyncio.create_task(pump())
    try:
        async for message in socket:
            if message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
            await sender
        hub.unsubscribe(subscriber)
    return socket
