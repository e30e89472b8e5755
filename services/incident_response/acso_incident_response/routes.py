"""HTTP routes of incidents, actions and approvals (transport only)."""

from __future__ import annotations

from aiohttp import web

from acso_incident_response.keys import APPROVALS, EXECUTOR, INCIDENTS
from acso_incident_response.metrics import router as metrics_router
from acso_incident_response.models import (
    ActionList,
    Approval,
    ApprovalDecision,
    ApprovalList,
    ApprovalQuery,
    CloseRequest,
    Comment,
    CommentCreate,
    IncidentDetail,
    IncidentList,
    IncidentPatch,
    IncidentQuery,
)
from acso_shared.web.api import ApiRouter, json_response, parse_body, parse_query
from acso_shared.web.auth import principal_of

router = ApiRouter("incidents")


@router.route("GET", "/v1/incidents", summary="Incidents, newest first", query=IncidentQuery, response=IncidentList)
async def list_incidents(request: web.Request) -> web.Response:
    return json_response(await request.app[INCIDENTS].list(parse_query(request, IncidentQuery)))


@router.route(
    "GET",
    "/v1/incidents/{id}",
    summary="One incident with timeline, actions and SLA",
    response=IncidentDetail,
    errors=(404,),
)
async def get_incident(request: web.Request) -> web.Response:
    return json_response(await request.app[INCIDENTS].get(request.match_info["id"]))


@router.route(
    "PATCH",
    "/v1/incidents/{id}",
    summary="Change status, severity, assignee or title",
    request=IncidentPatch,
    response=IncidentDetail,
    errors=(400, 404, 409),
)
async def patch_incident(request: web.Request) -> web.Response:
    body = await parse_body(request, IncidentPatch)
    actor = principal_of(request).display_name
    return json_response(await request.app[INCIDENTS].update(request.match_info["id"], body, actor))


@router.route(
    "POST",
    "/v1/incidents/{id}/comments",
    summary="Comment on an incident",
    request=CommentCreate,
    response=Comment,
    status=201,
    errors=(400, 404),
)
async def comment_incident(request: web.Request) -> web.Response:
    body = await parse_body(request, CommentCreate)
    actor = principal_of(request).display_name
    return json_response(await request.app[INCIDENTS].comment(request.match_info["id"], body.text, actor), status=201)


@router.route(
    "POST",
    "/v1/incidents/{id}/close",
    summary="Close an incident with a resolution",
    request=CloseRequest,
    response=IncidentDetail,
    errors=(400, 404, 409),
)
async def close_incident(request: web.Request) -> web.Response:
    body = await parse_body(request, CloseRequest)
    actor = principal_of(request).display_name
    return json_response(await request.app[INCIDENTS].close(request.match_info["id"], body, actor))


@router.route(
    "GET",
    "/v1/incidents/{id}/actions",
    summary="The incident's actions with before/after state",
    response=ActionList,
    errors=(404,),
)
async def list_actions(request: web.Request) -> web.Response:
    return json_response(await request.app[INCIDENTS].actions(request.match_info["id"]))


@router.route(
    "POST",
    "/v1/incidents/{id}/actions/{action_id}/revert",
    summary="Restore the state an action changed",
    response=ActionList,
    errors=(404, 409),
)
async def revert_action(request: web.Request) -> web.Response:
    incident_id = request.match_info["id"]
    actor = principal_of(request).display_name
    await request.app[EXECUTOR].revert(incident_id, request.match_info["action_id"], actor)
    return json_response(await request.app[INCIDENTS].actions(incident_id))


@router.route(
    "GET", "/v1/approvals", summary="Approvals of high-risk actions", query=ApprovalQuery, response=ApprovalList
)
async def list_approvals(request: web.Request) -> web.Response:
    return json_response(await request.app[APPROVALS].list(parse_query(request, ApprovalQuery)))


@router.route(
    "POST",
    "/v1/approvals/{id}",
    summary="Approve or reject a high-risk action (once)",
    request=ApprovalDecision,
    response=Approval,
    errors=(400, 404, 409),
)
async def decide_approval(request: web.Request) -> web.Response:
    body = await parse_body(request, ApprovalDecision)
    actor = principal_of(request).display_name
    return json_response(await request.app[APPROVALS].decide(request.match_info["id"], body, actor))


router.endpoints.extend(metrics_router.endpoints)  # GET /v1/metrics/incidents (acso_incident_response.metrics)
