"""The LLM reasoning layer (ARCHITECTURE.md section 6).

Build a provider with `select_provider(settings, ...)`, wrap it in a `ReasoningLayer`, and call
`await layer.run(ReasoningTask(...))`. With `provider="none"` (the local default) every outcome is
the deterministic result, marked `reasoning="deterministic"`.
"""

from acso_shared.llm.budget import Budget, BudgetLimit
from acso_shared.llm.cache import ResponseCache
from acso_shared.llm.evidence import Evidence
from acso_shared.llm.injection import InjectionCategory, InjectionFinding, detect_injection
from acso_shared.llm.outputs import PURPOSES, AgentName, Purpose
from acso_shared.llm.providers.base import Provider, ProviderName
from acso_shared.llm.providers.bedrock import BedrockConverseProvider
from acso_shared.llm.providers.none import NoneProvider
from acso_shared.llm.providers.openai_compat import OpenAICompatibleProvider
from acso_shared.llm.providers.select import select_provider
from acso_shared.llm.reasoning import ReasoningLayer, ReasoningOutcome, ReasoningTask
from acso_shared.llm.settings import BudgetSettings, LlmSettings
from acso_shared.llm.tools import MutatingTool, Proposal, ReadOnlyTool, ResourceId, ToolRegistry
from acso_shared.llm.usage import PriceTable, UsageLedger, UsageTotals, usage_metric_data

__all__ = [
    "PURPOSES",
    "AgentName",
    "BedrockConverseProvider",
    "Budget",
    "BudgetLimit",
    "BudgetSettings",
    "Evidence",
    "InjectionCategory",
    "InjectionFinding",
    "LlmSettings",
    "MutatingTool",
    "NoneProvider",
    "OpenAICompatibleProvider",
    "PriceTable",
    "Proposal",
    "Provider",
    "ProviderName",
    "Purpose",
    "ReadOnlyTool",
    "ReasoningLayer",
    "ReasoningOutcome",
    "ReasoningTask",
    "ResourceId",
    "ResponseCache",
    "ToolRegistry",
    "UsageLedger",
    "UsageTotals",
    "detect_injection",
    "select_provider",
    "usage_metric_data",
]
