"""The API Gateway WebSocket API's back end: `$connect`, `$disconnect` and `$default`, and the
publisher that pushes the supervisor's live events to the gateway's connections.

In AWS, browsers hold their WebSocket to API Gateway, not to a supervisor task. API Gateway calls
`POST /v1/ws/connect|disconnect|message` through the VPC link (terraform/modules/api) with the
connection id and the authorizer's context (the `auth` Lambda's `sub`, `kind`, `groups`, `scopes`,
`client_id`, `username`) as `X-Connection-Id` and `X-Principal-*` headers. Each connection is
stored in the agent-state table with a TTL (API Gateway ends every connection after two hours),
so every supervisor instance can push its own events to every connection: each instance re-reads
the connections every `ws_refresh_interval_s` and learns of its own at once.

Authentication of the three routes: API Gateway signs nothing, and the network cannot tell it
apart (the VPC link's NLB also carries the REST API, whose callers could otherwise forge
`X-Principal-*` headers). So the integration sends a shared secret, `X-ACSO-Gateway-Secret`, which
Terraform generates, keeps in Secrets Manager and sets as a static header value; the service
compares it in constant time with `ACSO_WS_GATEWAY_SECRET` and answers 401 otherwise (also when
no secret is configured: fail closed). The permission matrix declares the routes with no role or
scope, so no bearer token reaches them and the REST authorizer denies them to everybody.

Each event goes only to connections whose rebuilt principal may read its kind: the `EventHub`
filters with `may_read_event`, one bounded subscriber per connection (a slow or dead connection
never holds up the others). `GoneException` from `post_to_connection` drops the connection.
Without `ws_management_endpoint` (the local default) the publisher is off and the in-process
`GET /v1/stream` WebSocket serves clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from typing import Final

from aiohttp import web
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field, ValidationError

from acso_shared.auth.models import Principal, PrincipalKind, Role
from acso_shared.auth.permissions import authorize
from acso_shared.aws.clients import error_code, translate_aws_error
from acso_shared.errors import Invalid, NotFound, Unauthorized
from acso_shared.logging import get_logger
from acso_shared.runtime import AgentRuntime
from acso_shared.web.api import ApiRouter, json_response
from acso_supervisor.settings import Settings
from acso_supervisor.stream import EventHub, Subscriber

log = get_logger("acso.supervisor.ws_gateway")

SECRET_HEADER: Final = "X-ACSO-Gateway-Secret"  # noqa: S105 (a header name)
CONNECTION_HEADER: Final = "X-Connection-Id"
STATE_PK: Final = "ws-connection"
# API Gateway connection ids are short base64-like strings (`L0SM9cOFvHcCIhw=`).
CONNECTION_ID_PATTERN: Final = r"^[A-Za-z0-9+/=_-]{1,128}$"
GONE: Final = "GoneException"

# --- models --------------------------------------------------------------------------------------


class ConnectionRecord(BaseModel):
    """One gateway connection and who holds it, as stored in the agent-state table."""

    connection_id: str = Field(pattern=CONNECTION_ID_PATTERN)
    subject: str = Field(min_length=1, max_length=256)
    kind: PrincipalKind = PrincipalKind.USER
    groups: list[str] = Field(default_factory=list, max_length=50)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    client_id: str | None = Field(default=None, max_length=256)
    username: str | None = Field(default=None, max_length=256)

    def principal(self) -> Principal:
        """The caller as the `GET /v1/stream` route would see it; unknown groups grant nothing."""
        known = {role.value for role in Role}
        return Principal(
            subject=self.subject,
            username=self.username,
            kind=self.kind,
            roles=frozenset(Role(g) for g in self.groups if g in known),
            scopes=frozenset(self.scopes),
            client_id=self.client_id,
        )


class ConnectionAck(BaseModel):
    """What the routes answer (API Gateway only looks at the status)."""

    connection_id: str


# --- service -------------------------------------------------------------------------------------


class WsGateway:
    """Connections of the API Gateway WebSocket API, and (with a management endpoint) the publisher."""

    def __init__(self, runtime: AgentRuntime, hub: EventHub, settings: Settings) -> None:
        self._runtime = runtime
        self._hub = hub
        self._endpoint = settings.ws_management_endpoint
        secret = settings.ws_gateway_secret.get_secret_value() if settings.ws_gateway_secret else ""
        self._secret = secret.encode("utf-8")
        self._ttl_s = settings.ws_connection_ttl_s
        self._refresh_s = settings.ws_refresh_interval_s
        self._pumps: dict[str, tuple[Subscriber, asyncio.Task[None]]] = {}
        # Connections found gone and dropped here: a refresh that read the store before the drop's
        # delete must not attach them again (one did, so a gone connection kept receiving).
        self._gone: set[str] = set()
        self._refresher: asyncio.Task[None] | None = None

    @property
    def publishing(self) -> bool:
        """Whether events are pushed to API Gateway (a management endpoint is configured)."""
        return bool(self._endpoint)

    def check_secret(self, presented: str | None) -> None:
        """Raise `Unauthorized` unless `presented` is the configured gateway secret."""
        if not self._secret or not presented:
            raise Unauthorized("gateway_secret_missing", f"the {SECRET_HEADER} header is required")
        if not hmac.compare_digest(presented.encode("utf-8"), self._secret):
            raise Unauthorized("gateway_secret_invalid", f"the {SECRET_HEADER} header is not the gateway's")

    async def connect(self, record: ConnectionRecord) -> None:
        """Store the connection (idempotent: API Gateway may retry) and start pushing to it."""
        authorize(record.principal(), "GET", "/v1/stream")
        value = record.model_dump(mode="json")
        await self._runtime.state.put(STATE_PK, record.connection_id, value, ttl_s=self._ttl_s)
        self._attach(record)
        log.info("ws_connected", connection_id=record.connection_id, subject=record.subject)

    async def disconnect(self, connection_id: str) -> None:
        """Forget the connection; forgetting an unknown one is not an error."""
        await self._runtime.state.delete(STATE_PK, connection_id)
        self._detach(connection_id)
        log.info("ws_disconnected", connection_id=connection_id)

    async def touch(self, connection_id: str) -> None:
        """A message on the connection: extend its record's TTL; `NotFound` for an unknown connection."""
        value = await self._runtime.state.get(STATE_PK, connection_id)
        if value is None:
            raise NotFound("connection_unknown", f"connection {connection_id} is not registered")
        await self._runtime.state.put(STATE_PK, connection_id, value, ttl_s=self._ttl_s)

    async def refresh(self) -> None:
        """Push to exactly the stored connections (those other instances registered included)."""
        stored = await self._runtime.state.query(STATE_PK)
        records: dict[str, ConnectionRecord] = {}
        for connection_id, value in stored.items():
            try:
                records[connection_id] = ConnectionRecord.model_validate(value)
            except ValidationError:
                log.warning("ws_connection_record_invalid", connection_id=connection_id)
        for connection_id in set(self._pumps) - set(records):
            self._detach(connection_id)
        for record in records.values():
            if record.connection_id not in self._gone:
                self._attach(record)
        # Once the store no longer holds a gone connection, no later read can bring it back.
        self._gone &= set(records)

    async def start(self, _: AgentRuntime) -> None:
        """Start the publisher when a management endpoint is configured."""
        if self.publishing:
            self._refresher = asyncio.create_task(self._refresh_forever(), name="ws-gateway-refresh")

    async def stop(self, _: AgentRuntime) -> None:
        """Stop the refresher and every connection's pump."""
        tasks = [task for _, task in self._pumps.values()]
        if self._refresher is not None:
            tasks.append(self._refresher)
        for connection_id in list(self._pumps):
            self._detach(connection_id)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _attach(self, record: ConnectionRecord) -> None:
        if not self.publishing or record.connection_id in self._pumps:
            return
        subscriber = self._hub.subscribe(record.principal())
        task = asyncio.create_task(self._pump(record.connection_id, subscriber), name=f"ws-{record.connection_id}")
        self._pumps[record.connection_id] = (subscriber, task)

    def _detach(self, connection_id: str) -> None:
        entry = self._pumps.pop(connection_id, None)
        if entry is None:
            return
        subscriber, task = entry
        self._hub.unsubscribe(subscriber)
        if task is not asyncio.current_task():
            task.cancel()

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as err:  # a DynamoDB hiccup must not end the publisher
                log.warning("ws_refresh_failed", error=type(err).__name__)
            await asyncio.sleep(self._refresh_s)

    async def _pump(self, connection_id: str, subscriber: Subscriber) -> None:
        while True:
            message = await subscriber.queue.get()
            try:
                client = await self._runtime.clients.client("apigatewaymanagementapi", endpoint_url=self._endpoint)
                await client.post_to_connection(ConnectionId=connection_id, Data=message.encode("utf-8"))
            except Exception as err:
                if isinstance(err, ClientError) and error_code(err) == GONE:
                    # The client went away without a $disconnect reaching us (or it is still on its way).
                    log.info("ws_connection_gone", connection_id=connection_id)
                    await self._drop(connection_id)
                    return
                # One lost event for one connection; the next may well go through.
                log.warning("ws_post_failed", connection_id=connection_id, error=translate_aws_error(err, "post").code)

    async def _drop(self, connection_id: str) -> None:
        self._gone.add(connection_id)
        self._detach(connection_id)
        try:
            await self._runtime.state.delete(STATE_PK, connection_id)
        except Exception as err:  # the TTL removes it eventually
            log.warning("ws_drop_failed", connection_id=connection_id, error=type(err).__name__)


# --- routes --------------------------------------------------------------------------------------

WS_GATEWAY = web.AppKey("ws_gateway", WsGateway)
ws_router = ApiRouter("websocket gateway")


def _header_list(request: web.Request, name: str, separator: str | None) -> list[str]:
    return [v.strip() for v in request.headers.get(name, "").split(separator) if v.strip()]


def _connection_id(request: web.Request) -> str:
    gateway = request.app[WS_GATEWAY]
    gateway.check_secret(request.headers.get(SECRET_HEADER))
    connection_id = request.headers.get(CONNECTION_HEADER, "")
    try:
        return ConnectionRecord(connection_id=connection_id, subject="-").connection_id
    except ValidationError as err:
        raise Invalid("connection_id_invalid", f"{CONNECTION_HEADER} must be an API Gateway connection id") from err


@ws_router.route(
    "POST",
    "/v1/ws/connect",
    summary="API Gateway `$connect`: register a connection",
    response=ConnectionAck,
    errors=(400, 401, 403),
)
async def ws_connect(request: web.Request) -> web.Response:
    connection_id = _connection_id(request)
    headers = request.headers
    try:
        # API Gateway drops a header whose context value is empty: absent means empty here.
        record = ConnectionRecord.model_validate(
            {
                "connection_id": connection_id,
                "subject": headers.get("X-Principal-Id", ""),
                "kind": headers.get("X-Principal-Kind") or PrincipalKind.USER.value,
                "groups": _header_list(request, "X-Principal-Groups", ","),
                "scopes": _header_list(request, "X-Principal-Scopes", None),
                "client_id": headers.get("X-Principal-Client-Id") or None,
                "username": headers.get("X-Principal-Username") or None,
            }
        )
    except ValidationError as err:
        raise Invalid("principal_invalid", "the authorizer context headers do not describe a principal") from err
    await request.app[WS_GATEWAY].connect(record)
    return json_response(ConnectionAck(connection_id=connection_id))


@ws_router.route(
    "POST",
    "/v1/ws/disconnect",
    summary="API Gateway `$disconnect`: forget a connection",
    response=ConnectionAck,
    errors=(400, 401),
)
async def ws_disconnect(request: web.Request) -> web.Response:
    connection_id = _connection_id(request)
    await request.app[WS_GATEWAY].disconnect(connection_id)
    return json_response(ConnectionAck(connection_id=connection_id))


@ws_router.route(
    "POST",
    "/v1/ws/message",
    summary="API Gateway `$default`: a client message (keeps the connection registered)",
    response=ConnectionAck,
    errors=(400, 401, 404),
)
async def ws_message(request: web.Request) -> web.Response:
    connection_id = _connection_id(request)
    await request.app[WS_GATEWAY].touch(connection_id)
    return json_response(ConnectionAck(connection_id=connection_id))


def attach_ws_gateway(app: web.Application, runtime: AgentRuntime, hub: EventHub, settings: Settings) -> WsGateway:
    """Create the gateway for `app` and tie its publisher to the runtime's start and stop."""
    gateway = WsGateway(runtime, hub, settings)
    runtime.on_start(gateway.start)
    runtime.on_stop(gateway.stop)
    app[WS_GATEWAY] = gateway
    return gateway
