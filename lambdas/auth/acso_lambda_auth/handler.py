"""Lambda entry point (`handler.handler` in the package): a thin adapter over `service.Authorizer`."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from acso_lambda_auth.models import parse_event
from acso_lambda_auth.service import Authorizer, JwksClient, deny_response
from acso_lambda_auth.settings import AuthSettings
from acso_shared.auth.tokens import SyncTokenVerifier, TokenPolicy
from acso_shared.errors import AcsoError

logger = Logger(service="acso-auth")
tracer = Tracer(service="acso-auth")


def build_authorizer(settings: AuthSettings) -> Authorizer:
    """The authorizer for `settings`; its JWKS cache lives as long as the object."""
    policy = TokenPolicy(
        issuer=settings.issuer, client_ids=frozenset(settings.cognito_app_client_id), leeway_s=settings.jwt_leeway_s
    )
    return Authorizer(SyncTokenVerifier(policy, JwksClient(settings.jwks, settings.jwks_timeout_s)))


@cache
def authorizer() -> Authorizer:
    """Built on first use and kept for the warm execution environment (the JWKS cache with it)."""
    return build_authorizer(AuthSettings())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """API Gateway authorizer: an IAM policy for REST TOKEN/REQUEST and WebSocket `$connect` events."""
    try:
        request = parse_event(event)
    except AcsoError as err:
        logger.warning("authorization denied", extra={"reason": err.code})
        return deny_response(None)
    decision = authorizer().decide(request)
    log = logger.info if decision.allowed else logger.warning
    log(
        "authorization allowed" if decision.allowed else "authorization denied",
        extra={
            "reason": decision.reason,
            "route": f"{request.method} {request.path}",
            "event_kind": request.kind.value,
            "sub": decision.principal.subject if decision.principal else None,
        },
    )
    return decision.response
