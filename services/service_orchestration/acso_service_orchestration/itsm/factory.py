"""Builds a ready adapter from an IntegrationConfig: URL checked, secret read, auth wired."""

from __future__ import annotations

import aiohttp

from acso_service_orchestration.itsm.base import TicketAdapter
from acso_service_orchestration.itsm.credentials import (
    BasicAuth,
    JiraCredentials,
    OAuthClientCredentials,
    SecretReader,
    ServiceNowCredentials,
    WebhookCredentials,
    parse_secret,
)
from acso_service_orchestration.itsm.http import ItsmHttp, RequestAuth, RetryPolicy
from acso_service_orchestration.itsm.jira import JiraAdapter
from acso_service_orchestration.itsm.models import IntegrationConfig, ItsmSystem, ServiceNowAuthMode
from acso_service_orchestration.itsm.servicenow import ServiceNowAdapter
from acso_service_orchestration.itsm.urlpolicy import UrlPolicy, validate_url
from acso_service_orchestration.itsm.webhook import WebhookAdapter
from acso_shared.auth.webhooks import WebhookVerifier
from acso_shared.errors import Invalid


async def build_adapter(
    config: IntegrationConfig,
    secrets: SecretReader,
    session: aiohttp.ClientSession,
    verifier: WebhookVerifier,
    *,
    retry: RetryPolicy | None = None,
) -> TicketAdapter:
    """The adapter for one integration. Raises Invalid for a disallowed URL or a malformed secret."""
    base_url = validate_url(config.base_url, UrlPolicy.for_config(config))
    raw = await secrets.read(config.credentials_secret_id)
    secret_id = config.credentials_secret_id
    if config.system is ItsmSystem.SERVICENOW:
        sn = parse_secret(ServiceNowCredentials, secret_id, raw)
        auth: RequestAuth
        if sn.auth is ServiceNowAuthMode.OAUTH:
            if not sn.client_id or sn.client_secret is None:
                raise Invalid("itsm_secret_invalid", f"secret {secret_id}: oauth needs client_id and client_secret")
            auth = OAuthClientCredentials(sn.client_id, sn.client_secret)
        else:
            if not sn.username or sn.password is None:
                raise Invalid("itsm_secret_invalid", f"secret {secret_id}: basic auth needs username and password")
            auth = BasicAuth(sn.username, sn.password)
        http = ItsmHttp(config.system, base_url, session, auth=auth, policy=retry)
        return ServiceNowAdapter(http, config, sn.inbound_secret, verifier)
    if config.system is ItsmSystem.JIRA:
        jira = parse_secret(JiraCredentials, secret_id, raw)
        http = ItsmHttp(config.system, base_url, session, auth=BasicAuth(jira.email, jira.api_token), policy=retry)
        return JiraAdapter(http, config, jira.webhook_secret, verifier)
    hook = parse_secret(WebhookCredentials, secret_id, raw)
    http = ItsmHttp(config.system, base_url, session, policy=retry)
    return WebhookAdapter(http, hook.signing_secret, verifier, hook.inbound_secret)
