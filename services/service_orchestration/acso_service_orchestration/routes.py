"""HTTP routes of the service-orchestration service (transport only)."""

from __future__ import annotations

from aiohttp import web

from acso_service_orchestration.keys import INBOUND, OPERATIONS, TICKET_STORE
from acso_service_orchestration.operations.models import (
    Operation,
    OperationCreate,
    OperationList,
    OperationPlan,
    OperationReject,
    OperationsQuery,
)
from acso_service_orchestration.operations.service import Requester
from acso_service_orchestration.tickets.models import (
    InboundAck,
    SyncState,
    TicketInfo,
    TicketLink,
    TicketList,
    TicketsQuery,
)
from acso_shared.web.api import ApiRouter, json_response, parse_body, parse_query
from acso_shared.web.auth import principal_of

router = ApiRouter("orchestration")


def _requester(request: web.Request) -> Requester:
    principal = principal_of(request)
    return Requester(subject=principal.subject, name=principal.display_name, via="api")


@router.route(
    "GET",
    "/v1/tickets",
    summary="An incident's ITSM tickets and the state of their sync",
    query=TicketsQuery,
    response=TicketList,
)
async def list_tickets(request: web.Request) -> web.Response:
    query = parse_query(request, TicketsQuery)
    links = []
    for row in await request.app[TICKET_STORE].overview(query.incident_id):
        ticket = TicketInfo.model_validate(row) if row["external_id"] is not None else None
        links.append(TicketLink(system=row["system"], ticket=ticket, sync=SyncState.model_validate(row)))
    return json_response(TicketList(incident_id=query.incident_id, tickets=links))


@router.route(
    "POST",
    "/v1/webhooks/itsm/{system}",
    summary="A ticket-side change from an ITSM (signed webhook)",
    response=InboundAck,
    status=202,
    errors=(400, 401, 404, 503),
)
async def itsm_webhook(request: web.Request) -> web.Response:
    body = await request.read()
    ack = await request.app[INBOUND].receive(request.match_info["system"], request.headers, body)
    return json_response(ack, status=202)


@router.route(
    "POST",
    "/v1/operations",
    summary="Request an operation (change request); `dry_run` returns the preview only",
    request=OperationCreate,
    response=Operation,
    status=201,
    errors=(400, 422),
)
async def create_operation(request: web.Request) -> web.Response:
    body = await parse_body(request, OperationCreate)
    service = request.app[OPERATIONS]
    if body.dry_run:
        plan: OperationPlan = await service.plan(body)
        return json_response(plan)
    return json_response(await service.create(body, _requester(request)), status=201)


@router.route(
    "GET", "/v1/operations", summary="Change records, newest first", query=OperationsQuery, response=OperationList
)
async def list_operations(request: web.Request) -> web.Response:
    query = parse_query(request, OperationsQuery)
    return json_response(OperationList(operations=await request.app[OPERATIONS].list(query)))


@router.route("GET", "/v1/operations/{id}", summary="One change record with per-instance results", response=Operation)
async def get_operation(request: web.Request) -> web.Response:
    return json_response(await request.app[OPERATIONS].get(request.match_info["id"]))


@router.route(
    "POST",
    "/v1/operations/{id}/approve",
    summary="Approve a pending operation (not by its requester)",
    response=Operation,
    errors=(403, 404, 409),
)
async def approve_operation(request: web.Request) -> web.Response:
    operation = await request.app[OPERATIONS].approve(request.match_info["id"], _requester(request))
    return json_response(operation)


@router.route(
    "POST",
    "/v1/operations/{id}/reject",
    summary="Reject a pending operation (it never runs); the body and its comment are optional",
    request=OperationReject,
    response=Operation,
    errors=(400, 404, 409),
)
async def reject_operation(request: web.Request) -> web.Response:
    # The body is optional, but when one is sent it is parsed as strictly as any other.
    body = await parse_body(request, OperationReject) if request.body_exists else OperationReject()
    operation = await request.app[OPERATIONS].reject(request.match_info["id"], _requester(request), body.comment)
    return json_response(operation)
