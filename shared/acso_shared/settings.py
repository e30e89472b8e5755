"""Settings: one class per deployable, read from the environment in exactly one place.

Services subclass `ServiceSettings`; nothing else in the code base reads `os.environ`.
Standard AWS variables (`AWS_REGION`, `AWS_ENDPOINT_URL`, credentials) keep their usual names;
everything of ours is `ACSO_`-prefixed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from acso_shared.llm.settings import LlmSettings
from acso_shared.resources import Agent, ResourceManifest, build_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]


class AcsoSettings(BaseSettings):
    """What every ACSO deployable shares: environment, AWS endpoint and region, logging."""

    model_config = SettingsConfigDict(env_prefix="ACSO_", extra="ignore", frozen=True)

    env: str = Field(default="local", pattern=r"^[a-z][a-z0-9-]{1,15}$")
    aws_region: str = Field(default="us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")
    # Per-service endpoints, e.g. {"config": "http://..."}: for an AWS API the main emulator lacks
    # (moto has no Config compliance queries) or a VPC interface endpoint. Wins over the above.
    aws_service_endpoints: dict[str, str] = Field(default_factory=dict)
    aws_account_id: str = Field(default="123456789012", pattern=r"^\d{12}$")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    @property
    def is_local(self) -> bool:
        return self.env == "local" or self.env.startswith("test")

    @property
    def manifest(self) -> ResourceManifest:
        return build_manifest(self.env, self.aws_account_id, self.aws_region)


class ServiceSettings(AcsoSettings):
    """Settings of an agent service (aiohttp app + task-queue consumer)."""

    service_host: str = "127.0.0.1"
    service_port: int = Field(default=0, ge=0, le=65535)
    database_url: SecretStr = SecretStr("postgresql://postgres@127.0.0.1:5432/acso")
    database_pool_min: int = Field(default=1, ge=0)
    database_pool_max: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    heartbeat_interval_s: float = Field(default=10.0, gt=0)
    # AWS call counts as the CloudWatch metric AwsCalls (acso_shared.aws.metrics): by default on
    # outside local/test environments, put every `aws_call_metrics_interval_s` in batches.
    aws_call_metrics_enabled: bool | None = None
    aws_call_metrics_interval_s: float = Field(default=60.0, ge=5)
    consumer_concurrency: int = Field(default=10, ge=1, le=100)
    consumer_wait_time_s: int = Field(default=20, ge=0, le=20)
    visibility_timeout_s: int = Field(default=60, ge=5)
    retry_backoff_base_s: float = Field(
        default=2.0, ge=0, description="A failed message is retried after base * 2^(receives-1) seconds"
    )
    shutdown_grace_s: float = Field(default=20.0, gt=0)
    idempotency_ttl_s: int = Field(default=7 * 24 * 3600, ge=60)
    tracing_enabled: bool = False
    xray_daemon_address: str = "127.0.0.1:2000"
    # Authentication (Cognito). Issuer and JWKS URL are configurable because the local emulator's
    # tokens name real AWS as issuer while the keys are served by the emulator.
    cognito_user_pool_id: str = ""
    cognito_app_client_id: str = ""
    cognito_machine_client_id: str = ""
    jwt_issuer: str = ""
    jwks_url: str = ""
    cors_allow_origins: tuple[str, ...] = ()
    # Token buckets (acso_shared.auth.ratelimit): a burst of `*_burst` requests, refilled per second.
    rate_limit_principal_burst: int = Field(default=120, ge=1)
    rate_limit_principal_per_s: float = Field(default=20.0, gt=0)
    rate_limit_source_burst: int = Field(default=240, ge=1)
    rate_limit_source_per_s: float = Field(default=40.0, gt=0)
    # How many proxies (ALB, API Gateway) append to X-Forwarded-For in front of the service; 0
    # trusts no header, since any client can write one.
    trusted_proxy_hops: int = Field(default=0, ge=0, le=5)

    # The reasoning layer (ARCHITECTURE.md section 6). `none` runs the deterministic core only.
    llm_provider: Literal["bedrock", "openai", "none"] = "none"
    bedrock_model_id: str = "anthropic.claude-3-sonnet-20240229-v1:0"
    bedrock_guardrail_id: str | None = None
    bedrock_guardrail_version: str | None = None
    bedrock_endpoint_url: str | None = None
    knowledge_base_id: str | None = None
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: SecretStr | None = None
    llm_call_timeout_s: float = Field(default=30.0, gt=0)
    # AWS Config compliance shown on incidents and operation previews (context, never a gate).
    config_compliance_enabled: bool = True
    config_compliance_cache_s: float = Field(default=60.0, ge=0)
    config_compliance_unknown_cache_s: float = Field(
        default=30.0, ge=0, description="How long an unknown verdict (Config failing) is reused"
    )

    @property
    def publishes_aws_call_metrics(self) -> bool:
        if self.aws_call_metrics_enabled is None:
            return not self.is_local
        return self.aws_call_metrics_enabled

    @property
    def llm(self) -> LlmSettings:
        """The reasoning layer's settings, from the flat `ACSO_LLM_*`/`ACSO_BEDROCK_*` variables."""
        return LlmSettings(
            provider=self.llm_provider,
            bedrock_model_id=self.bedrock_model_id,
            bedrock_region=self.aws_region,
            bedrock_endpoint_url=self.bedrock_endpoint_url,
            guardrail_id=self.bedrock_guardrail_id,
            guardrail_version=self.bedrock_guardrail_version,
            openai_base_url=self.openai_base_url,
            openai_model=self.openai_model,
            openai_api_key=self.openai_api_key,
            call_timeout_s=self.llm_call_timeout_s,
        )

    @field_validator("cors_allow_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip() for o in value.split(",") if o.strip())
        return value

    def port_for(self, agent: Agent) -> int:
        return self.service_port or agent.default_port
