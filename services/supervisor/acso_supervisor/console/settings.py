"""The console's settings (`ACSO_CONSOLE_*`): how users log in and where the five APIs are.

Locally the launcher puts the agents on consecutive ports from the supervisor's, and the console's
API proxy finds them there on `upstream_host`. In AWS the agents sit behind the internal ALB, one
listener per agent port (`terraform/modules/api`): set `ACSO_CONSOLE_UPSTREAM_HOST` to the ALB's
DNS name, and `ACSO_CONSOLE_LOGIN=hosted_ui` with the Hosted UI domain and the callback URL.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from acso_shared.resources import AGENT_PORTS, Agent


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ACSO_CONSOLE_", extra="ignore")

    enabled: bool = True
    login: Literal["password", "hosted_ui"] = Field(
        default="password",
        description="password: a form that calls Cognito InitiateAuth (USER_PASSWORD_AUTH) through "
        "the supervisor, for the local demo users; hosted_ui: the Cognito Hosted UI, code flow with PKCE",
    )
    hosted_ui_domain: str = Field(
        default="", description="e.g. https://acso-dev-123456789012.auth.eu-west-1.amazoncognito.com"
    )
    redirect_uri: str = Field(default="", description="the console's URL, one of the app client's callback URLs")
    upstream_scheme: Literal["http", "https"] = "http"
    upstream_host: str = "127.0.0.1"
    upstream_ports: dict[str, int] = Field(
        default_factory=dict, description="per agent (kebab-case name), a port other than the usual layout"
    )
    upstream_timeout_s: float = Field(default=30.0, gt=0)
    stream_url: str = Field(default="", description="the event stream's WebSocket URL; empty: this origin's /v1/stream")


def upstream_ports(supervisor_port: int) -> dict[Agent, int]:
    """Each agent's port, laid out from the supervisor's as the launcher and the ALB listeners do."""
    offset = supervisor_port - AGENT_PORTS[Agent.SUPERVISOR]
    return {agent: port + offset for agent, port in AGENT_PORTS.items()}
