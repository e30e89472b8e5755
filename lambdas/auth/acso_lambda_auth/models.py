"""The authorizer's view of its three event shapes, parsed with Powertools' typed event classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerRequestEvent,
    APIGatewayAuthorizerTokenEvent,
    APIGatewayRouteArn,
    parse_api_gateway_arn,
)

from acso_shared.errors import Invalid

# The WebSocket API maps `$connect` onto the event stream route of the permission matrix.
STREAM_METHOD = "GET"
STREAM_PATH = "/v1/stream"


class EventKind(StrEnum):
    """Which of the three authorizer event shapes arrived."""

    TOKEN = "token"  # noqa: S105 (an event type, not a secret)
    REQUEST = "request"
    WEBSOCKET = "websocket"


@dataclass(frozen=True)
class AuthRequest:
    """What one authorizer invocation asks: may the bearer of `token` call `method path`?"""

    kind: EventKind
    authorization: str | None = field(repr=False)
    method_arn: str
    method: str
    path: str

    @property
    def route_arn(self) -> APIGatewayRouteArn:
        """The parsed `methodArn` (region, account, API id, stage); `Invalid` when malformed."""
        try:
            return parse_api_gateway_arn(self.method_arn, is_websocket_authorizer=self.kind is EventKind.WEBSOCKET)
        except (IndexError, ValueError, AttributeError) as err:
            raise Invalid("method_arn_invalid", "the event's methodArn is not an execute-api ARN") from err


def parse_event(event: dict[str, Any]) -> AuthRequest:
    """Read a REST TOKEN, REST REQUEST or WebSocket `$connect` authorizer event.

    WebSocket clients in browsers cannot set headers, so `$connect` also takes the token from the
    `token` query parameter; REST requests must use the `Authorization` header.
    """
    kind = event.get("type")
    method_arn = event.get("methodArn")
    if not isinstance(method_arn, str) or not method_arn:
        raise Invalid("event_invalid", "the authorizer event has no methodArn")
    if kind == "TOKEN":
        token_event = APIGatewayAuthorizerTokenEvent(event)
        arn = token_event.parsed_arn
        return AuthRequest(
            kind=EventKind.TOKEN,
            authorization=token_event.authorization_token,
            method_arn=method_arn,
            method=(arn.http_method or "").upper(),
            path="/" + arn.resource,
        )
    if kind == "REQUEST":
        request = APIGatewayAuthorizerRequestEvent(event)
        header = request.headers.get("Authorization")
        context = event.get("requestContext") or {}
        if context.get("routeKey") == "$connect" or context.get("eventType") == "CONNECT":
            query = request.query_string_parameters or {}
            return AuthRequest(
                kind=EventKind.WEBSOCKET,
                authorization=header or (f"Bearer {query['token']}" if query.get("token") else None),
                method_arn=method_arn,
                method=STREAM_METHOD,
                path=STREAM_PATH,
            )
        return AuthRequest(
            kind=EventKind.REQUEST,
            authorization=header,
            method_arn=method_arn,
            method=(request.http_method or "").upper(),
            path=request.path or "",
        )
    raise Invalid("event_invalid", f"unsupported authorizer event type {kind!r}")
