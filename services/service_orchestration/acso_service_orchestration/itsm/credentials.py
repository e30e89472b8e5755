"""ITSM credentials: read from Secrets Manager, turned into request authentication.

Secret formats (SecretString, JSON):
- ServiceNow: `{"auth": "basic", "username", "password", "inbound_secret"}` or
  `{"auth": "oauth", "client_id", "client_secret", "inbound_secret"}` (OAuth client-credentials
  grant against the instance's `/oauth_token.do`).
- Jira Cloud: `{"email", "api_token", "webhook_secret"}`; `webhook_secret` is the secret set on
  the Jira admin webhook (it signs `X-Hub-Signature`).
- Generic webhook: `{"signing_secret", "inbound_secret"?}`.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from acso_service_orchestration.itsm.http import ItsmHttp
from acso_service_orchestration.itsm.models import ServiceNowAuthMode
from acso_shared.aws.clients import error_code, translate_aws_error
from acso_shared.errors import Invalid, NotFound, Upstream


class SecretsManagerClient(Protocol):
    """The slice of an aiobotocore `secretsmanager` client this module calls."""

    async def get_secret_value(self, *, SecretId: str) -> dict[str, Any]: ...


class SecretReader(Protocol):
    """Anything that returns a secret's string by id."""

    async def read(self, secret_id: str) -> str:
        """The SecretString of `secret_id`."""
        ...

    def forget(self, secret_id: str) -> None:
        """Drop any cached value of `secret_id`, so the next read goes to the source."""
        ...


class SecretsManagerReader:
    """Reads SecretStrings through a Secrets Manager client, caching them for `ttl_s`.

    The cache bounds Secrets Manager calls (and cost) while letting a rotated secret take
    effect within the TTL.
    """

    def __init__(self, client: SecretsManagerClient, ttl_s: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self._client = client
        self._ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    async def read(self, secret_id: str) -> str:
        """The SecretString of `secret_id`; NotFound if absent, Upstream on other AWS errors."""
        cached = self._cache.get(secret_id)
        if cached is not None and self._clock() - cached[0] < self._ttl_s:
            return cached[1]
        try:
            response = await self._client.get_secret_value(SecretId=secret_id)
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":
                raise NotFound("itsm_secret_not_found", f"secret {secret_id} does not exist") from err
            raise translate_aws_error(err, "secretsmanager:GetSecretValue") from err
        except BotoCoreError as err:
            raise translate_aws_error(err, "secretsmanager:GetSecretValue") from err
        value = response.get("SecretString")
        if not isinstance(value, str):
            raise Invalid("itsm_secret_invalid", f"secret {secret_id} has no SecretString")
        self._cache[secret_id] = (self._clock(), value)
        return value

    def forget(self, secret_id: str) -> None:
        """Drop a cached secret, e.g. after the ITSM rejected its credentials."""
        self._cache.pop(secret_id, None)


class _Secret(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


SecretT = TypeVar("SecretT", bound=_Secret)


class ServiceNowCredentials(_Secret):
    auth: ServiceNowAuthMode = ServiceNowAuthMode.BASIC
    username: str | None = None
    password: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    inbound_secret: SecretStr = Field(description="Signs the ServiceNow outbound REST message (ACSO scheme)")


class JiraCredentials(_Secret):
    email: str = Field(min_length=3)
    api_token: SecretStr
    webhook_secret: SecretStr


class WebhookCredentials(_Secret):
    signing_secret: SecretStr
    inbound_secret: SecretStr | None = None


def parse_secret(model: type[SecretT], secret_id: str, value: str) -> SecretT:
    """Validate a SecretString as `model`; errors never echo the secret itself."""
    try:
        return model.model_validate(json.loads(value))
    except (ValueError, ValidationError) as err:
        fields = sorted({str(e["loc"][0]) for e in err.errors()}) if isinstance(err, ValidationError) else ["json"]
        raise Invalid("itsm_secret_invalid", f"secret {secret_id} is malformed (fields: {fields})") from None


class BasicAuth:
    """HTTP Basic: ServiceNow user/password, Jira Cloud email/API token."""

    def __init__(self, username: str, password: SecretStr):
        token = base64.b64encode(f"{username}:{password.get_secret_value()}".encode()).decode()
        self._header = {"Authorization": f"Basic {token}"}

    async def headers(self, http: ItsmHttp) -> dict[str, str]:
        """The static Basic header."""
        return self._header

    def invalidate(self) -> bool:
        """Nothing cached to forget: a rejected password stays rejected."""
        return False


class OAuthClientCredentials:
    """OAuth 2.0 client-credentials grant (ServiceNow `/oauth_token.do`), token cached until expiry."""

    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr,
        token_path: str = "/oauth_token.do",  # noqa: S107 - a URL path, not a password
        clock: Callable[[], float] = time.monotonic,
    ):
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_path = token_path
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0

    async def headers(self, http: ItsmHttp) -> dict[str, str]:
        """A Bearer header, fetching a token when none is cached or it is about to expire."""
        # Refresh a minute early so a token never expires between this check and the request.
        if self._token is None or self._clock() >= self._expires_at - 60:
            result = await http.request(
                "POST",
                self._token_path,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret.get_secret_value(),
                },
                authenticated=False,
            )
            body = result.json_object()
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise Upstream("itsm_bad_response", "token endpoint returned no access_token")
            self._token = token
            self._expires_at = self._clock() + float(body.get("expires_in", 300))
        return {"Authorization": f"Bearer {self._token}"}

    def invalidate(self) -> bool:
        """Forget the cached token; a retry fetches a new one."""
        had_token = self._token is not None
        self._token = None
        return had_token
