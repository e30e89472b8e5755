"""Token usage and estimated cost, per call, per task, per workflow and per incident."""

from __future__ import annotations

import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from acso_shared.llm.conversation import StopReason, TokenUsage
from acso_shared.llm.providers.base import ProviderName


class ModelPrice(BaseModel):
    model_config = ConfigDict(frozen=True)
    input_per_1k_usd: Decimal
    output_per_1k_usd: Decimal


def _usd(input_per_1k: str, output_per_1k: str) -> ModelPrice:
    return ModelPrice(input_per_1k_usd=Decimal(input_per_1k), output_per_1k_usd=Decimal(output_per_1k))


# Bedrock on-demand list prices (USD per 1,000 tokens, us-east-1). Local OpenAI-compatible servers cost
# nothing per token; an unknown Bedrock model is recorded as unpriced rather than guessed.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "anthropic.claude-3-sonnet-20240229-v1:0": _usd("0.003", "0.015"),
    "anthropic.claude-3-haiku-20240307-v1:0": _usd("0.00025", "0.00125"),
    "anthropic.claude-3-opus-20240229-v1:0": _usd("0.015", "0.075"),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": _usd("0.003", "0.015"),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": _usd("0.003", "0.015"),
    "anthropic.claude-3-5-haiku-20241022-v1:0": _usd("0.0008", "0.004"),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": _usd("0.003", "0.015"),
    "amazon.nova-pro-v1:0": _usd("0.0008", "0.0032"),
    "amazon.nova-lite-v1:0": _usd("0.00006", "0.00024"),
    "amazon.nova-micro-v1:0": _usd("0.000035", "0.00014"),
}

# Cross-region inference profiles ("us.anthropic...", "eu.amazon...") bill like the base model.
_PROFILE_PREFIX = re.compile(r"^(us|eu|apac|us-gov|global)\.")


class PriceTable:
    """Looks up the price of a model; OpenAI-compatible (self-hosted) models are free per token."""

    def __init__(self, prices: dict[str, ModelPrice] | None = None) -> None:
        self._prices = dict(DEFAULT_PRICES if prices is None else prices)

    def price(self, provider: ProviderName, model_id: str) -> ModelPrice | None:
        if provider is ProviderName.OPENAI:
            return ModelPrice(input_per_1k_usd=Decimal(0), output_per_1k_usd=Decimal(0))
        return self._prices.get(_PROFILE_PREFIX.sub("", model_id))

    def cost(self, provider: ProviderName, model_id: str, usage: TokenUsage) -> Decimal | None:
        """Estimated cost of one call, or None when the model has no known price."""
        price = self.price(provider, model_id)
        if price is None:
            return None
        return (price.input_per_1k_usd * usage.input_tokens + price.output_per_1k_usd * usage.output_tokens) / 1000


class CallRecord(BaseModel):
    """One model call as the incident and the metrics see it."""

    model_config = ConfigDict(frozen=True)
    seq: int
    provider: ProviderName
    model_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None
    cached: bool = False
    latency_ms: int | None = None
    stop_reason: StopReason | None = None
    error_code: str | None = None


class UsageTotals(BaseModel):
    """Sums over calls. Cached calls are counted separately and add no tokens or cost."""

    model_config = ConfigDict(frozen=True)
    model_calls: int = 0
    cached_calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Field(default=Decimal(0))
    unpriced_calls: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    @classmethod
    def of(cls, calls: list[CallRecord]) -> UsageTotals:
        """Totals over a list of call records."""
        totals = cls()
        for call in calls:
            totals = totals + cls.from_call(call)
        return totals

    @classmethod
    def from_call(cls, call: CallRecord) -> UsageTotals:
        if call.cached:
            return cls(cached_calls=1)
        return cls(
            model_calls=1,
            failed_calls=1 if call.error_code else 0,
            input_tokens=call.input_tokens,
            output_tokens=call.output_tokens,
            cost_usd=call.cost_usd or Decimal(0),
            unpriced_calls=1 if call.cost_usd is None and not call.error_code else 0,
        )

    def __add__(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(
            model_calls=self.model_calls + other.model_calls,
            cached_calls=self.cached_calls + other.cached_calls,
            failed_calls=self.failed_calls + other.failed_calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            unpriced_calls=self.unpriced_calls + other.unpriced_calls,
        )


class UsageLedger:
    """Running totals per workflow and per incident within one process.

    The durable copy lives on the incident and workflow rows (the lead's db layer adds each outcome's
    `usage`); this ledger feeds metrics and lets tests check that the sums add up.
    """

    def __init__(self) -> None:
        self._by_workflow: dict[str, UsageTotals] = defaultdict(UsageTotals)
        self._by_incident: dict[str, UsageTotals] = defaultdict(UsageTotals)

    def add(self, usage: UsageTotals, *, workflow_id: str | None, incident_id: str | None) -> None:
        if workflow_id:
            self._by_workflow[workflow_id] = self._by_workflow[workflow_id] + usage
        if incident_id:
            self._by_incident[incident_id] = self._by_incident[incident_id] + usage

    def for_workflow(self, workflow_id: str) -> UsageTotals:
        return self._by_workflow.get(workflow_id, UsageTotals())

    def for_incident(self, incident_id: str) -> UsageTotals:
        return self._by_incident.get(incident_id, UsageTotals())


def usage_metric_data(
    totals: UsageTotals, *, agent: str, provider: ProviderName, model_id: str | None
) -> list[dict[str, Any]]:
    """CloudWatch `PutMetricData` `MetricData` entries for one task's usage (namespace chosen by the caller)."""
    dims = [
        {"Name": "Agent", "Value": agent},
        {"Name": "Provider", "Value": provider.value},
        {"Name": "Model", "Value": model_id or "none"},
    ]
    values: list[tuple[str, float, str]] = [
        ("LlmModelCalls", totals.model_calls, "Count"),
        ("LlmCachedCalls", totals.cached_calls, "Count"),
        ("LlmFailedCalls", totals.failed_calls, "Count"),
        ("LlmInputTokens", totals.input_tokens, "Count"),
        ("LlmOutputTokens", totals.output_tokens, "Count"),
        ("LlmEstimatedCostUsd", float(totals.cost_usd), "None"),
    ]
    return [{"MetricName": name, "Dimensions": dims, "Value": value, "Unit": unit} for name, value, unit in values]
