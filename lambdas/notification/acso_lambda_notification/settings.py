"""Settings of the notification Lambda: the only place it reads its environment."""

from __future__ import annotations

from pydantic import Field

from acso_shared.settings import AcsoSettings


class NotificationSettings(AcsoSettings):
    """Channel configuration and secrets live in one Secrets Manager secret (see `models.ChannelConfig`)."""

    # `ACSO_CHAT_SECRET_ARN`, the name Terraform sets; a secret name works as well as an ARN.
    chat_secret_arn: str = Field(
        default="", description="The channel secret; defaults to the manifest's `acso-{env}/integrations/slack`"
    )
    secret_cache_s: float = Field(default=300.0, ge=0, description="How long a warm function reuses the secret")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Delivery attempts per channel and message")
    backoff_base_s: float = Field(default=0.5, ge=0)
    max_retry_after_s: float = Field(default=10.0, ge=0, description="Cap on a channel's Retry-After")
    http_timeout_s: float = Field(default=5.0, gt=0, le=30)
    console_url: str = Field(default="", description="Base URL of the ACSO console, for links to incidents")
    delivery_record_ttl_s: int = Field(default=7 * 24 * 3600, ge=3600)

    @property
    def secret_id(self) -> str:
        """The secret holding the channels."""
        return self.chat_secret_arn or self.manifest.secrets["slack"]

    @property
    def idempotency_table(self) -> str:
        """The DynamoDB table where delivered (message, channel) pairs are recorded."""
        return self.manifest.table("idempotency").name
