"""Settings of the auth Lambda: the only place it reads its environment."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from acso_shared.settings import AcsoSettings


class AuthSettings(AcsoSettings):
    """`ACSO_COGNITO_USER_POOL_ID` and `ACSO_COGNITO_APP_CLIENT_ID` (comma-separated) are required.

    Issuer and JWKS URL default to the pool's real AWS addresses; both are settable because the
    local emulator serves the keys itself while its tokens name real AWS as the issuer.
    """

    cognito_user_pool_id: str = Field(min_length=1)
    cognito_app_client_id: Annotated[tuple[str, ...], NoDecode] = Field(min_length=1)
    jwt_issuer: str = ""
    jwks_url: str = ""
    jwks_timeout_s: float = Field(default=3.0, gt=0, le=10)
    jwt_leeway_s: float = Field(default=60.0, ge=0, le=300)

    @field_validator("cognito_app_client_id", mode="before")
    @classmethod
    def _split_clients(cls, value: object) -> object:
        # Terraform joins the client ids with commas (one environment variable).
        if isinstance(value, str):
            return tuple(c.strip() for c in value.split(",") if c.strip())
        return value

    @property
    def issuer(self) -> str:
        """The `iss` every accepted token must carry."""
        return self.jwt_issuer or f"https://cognito-idp.{self.aws_region}.amazonaws.com/{self.cognito_user_pool_id}"

    @property
    def jwks(self) -> str:
        """Where the pool's signing keys are published."""
        return self.jwks_url or f"{self.issuer}/.well-known/jwks.json"
