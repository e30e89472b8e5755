"""Typed application state keys shared by the web helpers."""

from __future__ import annotations

from aiohttp import web

from acso_shared.auth.tokens import TokenVerifier
from acso_shared.runtime import AgentRuntime
from acso_shared.web.api import Endpoint

AGENT_NAME = web.AppKey("acso_agent_name", str)
SERVICE_VERSION = web.AppKey("acso_service_version", str)
ENDPOINTS = web.AppKey("acso_endpoints", list[Endpoint])
RUNTIME = web.AppKey("acso_runtime", AgentRuntime)
TOKEN_VERIFIER = web.AppKey("acso_token_verifier", TokenVerifier)
