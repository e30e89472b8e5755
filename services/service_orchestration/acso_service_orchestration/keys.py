"""Typed app keys of the service-orchestration service."""

from aiohttp import web

from acso_service_orchestration.operations.change_sync import ChangeRequestSync
from acso_service_orchestration.operations.service import OperationsService
from acso_service_orchestration.tickets.inbound import InboundService
from acso_service_orchestration.tickets.store import TicketStore
from acso_service_orchestration.tickets.sync import TicketSyncService

TICKET_STORE = web.AppKey("ticket_store", TicketStore)
SYNC = web.AppKey("ticket_sync", TicketSyncService)
INBOUND = web.AppKey("inbound", InboundService)
OPERATIONS = web.AppKey("operations", OperationsService)
CHANGE_SYNC = web.AppKey("change_sync", ChangeRequestSync)
