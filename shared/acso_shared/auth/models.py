"""Wire and identity models shared by every auth primitive."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Role(StrEnum):
    """Human roles; each is a Cognito group of the same name (ARCHITECTURE.md section 5)."""

    ANALYST = "analyst"
    RESPONDER = "responder"
    IT_OPERATOR = "it_operator"
    EXECUTIVE = "executive"
    ADMIN = "admin"


class Scope(StrEnum):
    """OAuth scopes of the `acso` resource server, granted to machine (client-credentials) clients."""

    ALERTS_WRITE = "acso/alerts.write"
    WEBHOOKS_WRITE = "acso/webhooks.write"
    READ = "acso/read"


class PrincipalKind(StrEnum):
    USER = "user"
    MACHINE = "machine"


class AuthMethod(StrEnum):
    """How the caller proved who it is; routes declare which method they accept."""

    BEARER = "bearer"
    WEBHOOK_HMAC = "webhook_hmac"


class TokenUse(StrEnum):
    """Cognito's `token_use` claim."""

    ACCESS = "access"
    ID = "id"


class Principal(BaseModel):
    """The authenticated caller of one request or WebSocket connection.

    `roles` holds only groups that name a known `Role`; other Cognito groups are ignored so a
    group created by mistake never grants anything.
    """

    model_config = ConfigDict(frozen=True)

    subject: str = Field(min_length=1, description="Cognito `sub`, or `webhook:<integration>` for signed webhooks")
    username: str | None = None
    kind: PrincipalKind
    auth_method: AuthMethod = AuthMethod.BEARER
    roles: frozenset[Role] = frozenset()
    scopes: frozenset[str] = frozenset()
    client_id: str | None = None
    token_use: TokenUse | None = None
    token_id: str | None = Field(default=None, description="`jti` of the token, for audit correlation")
    expires_at: int | None = Field(default=None, description="`exp` of the token, seconds since the epoch")

    @property
    def display_name(self) -> str:
        """The name the audit log records as the actor."""
        return self.username or self.client_id or self.subject
