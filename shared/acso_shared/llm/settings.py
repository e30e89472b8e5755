"""Settings of the reasoning layer.

This model reads nothing from the environment itself: the service settings nest it with the env prefix
`ACSO_LLM_`, so `ACSO_LLM_PROVIDER=bedrock` selects Bedrock and the default stays `none`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

ProviderSetting = Literal["bedrock", "openai", "none"]


class BudgetSettings(BaseModel):
    """Default per-task limits; a task may tighten them but the layer never exceeds them."""

    max_model_calls: int = Field(default=6, ge=1, le=50)
    max_tool_calls: int = Field(default=12, ge=0, le=200)
    max_tokens: int = Field(default=40_000, ge=256)
    wall_time_s: float = Field(default=60.0, gt=0)


class LlmSettings(BaseModel):
    """Which model the reasoning layer talks to, and how carefully."""

    provider: ProviderSetting = "none"

    bedrock_model_id: str = "anthropic.claude-3-sonnet-20240229-v1:0"
    bedrock_region: str | None = None
    bedrock_endpoint_url: str | None = None
    guardrail_id: str | None = None
    guardrail_version: str | None = None

    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key: SecretStr | None = None

    call_timeout_s: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    retry_base_delay_s: float = Field(default=0.5, ge=0)
    retry_max_delay_s: float = Field(default=8.0, ge=0)

    max_output_tokens: int = Field(default=2048, ge=16)
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)

    budget: BudgetSettings = Field(default_factory=BudgetSettings)
    cache_ttl_s: float = Field(default=300.0, ge=0)
    cache_max_entries: int = Field(default=512, ge=0)

    injection_confidence_cap: float = Field(default=0.3, ge=0.0, le=1.0)

    @property
    def guardrail_enabled(self) -> bool:
        """True when both the guardrail id and version are set (Converse needs both)."""
        return bool(self.guardrail_id and self.guardrail_version)
