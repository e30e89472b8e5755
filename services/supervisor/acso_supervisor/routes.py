"""HTTP routes of the supervisor's agent directory and DLQ console (transport only)."""

from __future__ import annotations

from aiohttp import web

from acso_shared.web.api import ApiRouter, json_response, parse_body
from acso_supervisor.keys import DIRECTORY, DLQ
from acso_supervisor.models import AgentList, DlqInfo, DlqList, PingResponse, ReplayRequest, ReplayResult

router = ApiRouter("agents")


@router.route(
    "GET", "/v1/agents", summary="Each agent's status, version, heartbeat, queue and DLQ depth", response=AgentList
)
async def list_agents(request: web.Request) -> web.Response:
    return json_response(await request.app[DIRECTORY].list_agents())


@router.route(
    "POST", "/v1/agents/ping", summary="Probe the message path to every agent and back", response=PingResponse
)
async def ping_agents(request: web.Request) -> web.Response:
    return json_response(PingResponse(results=await request.app[DIRECTORY].ping_all()))


@router.route("GET", "/v1/dlq", summary="Dead-letter queues: depth and the oldest messages", response=DlqList)
async def list_dlqs(request: web.Request) -> web.Response:
    return json_response(await request.app[DLQ].list())


@router.route(
    "POST",
    "/v1/dlq/{agent}/replay",
    summary="Move messages from an agent's DLQ back to its task queue",
    request=ReplayRequest,
    response=ReplayResult,
    errors=(404,),
)
async def replay_dlq(request: web.Request) -> web.Response:
    body = await parse_body(request, ReplayRequest)
    result = await request.app[DLQ].replay(request.match_info["agent"], body.max_messages)
    return json_response(result)


__all__ = ["DlqInfo", "router"]
