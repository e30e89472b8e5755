"""The reasoning layer: one bounded tool-use loop on top of an agent's deterministic result.

`ReasoningLayer.run(task)` never raises for model trouble and never blocks a workflow: when the
provider is `none`, unavailable, throttled, over budget, stopped by the guardrail or keeps answering
invalid JSON, the task's deterministic result stands and the outcome says why
(`reasoning == "deterministic"`, `degraded_reason`). Mutating tools only yield proposals, and
only for identifiers in the task's allow-set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, Field

from acso_shared.errors import AcsoError
from acso_shared.llm.budget import Budget, BudgetLimit, BudgetTracker
from acso_shared.llm.cache import ResponseCache, request_key
from acso_shared.llm.conversation import (
    ChatRequest,
    ChatResponse,
    ContentBlock,
    Message,
    StopReason,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
)
from acso_shared.llm.evidence import Evidence, wrap_evidence
from acso_shared.llm.injection import InjectionCategory, InjectionFinding, detect_injection
from acso_shared.llm.outputs import AgentName
from acso_shared.llm.prompts import PromptRef, system_prompt
from acso_shared.llm.providers.base import Provider, ProviderName
from acso_shared.llm.providers.none import NoneProvider
from acso_shared.llm.settings import LlmSettings
from acso_shared.llm.structured import output_instructions, repair_instructions, validate_output
from acso_shared.llm.tools import Proposal, ToolCallRecord, ToolCallStatus, ToolRegistry
from acso_shared.llm.usage import CallRecord, PriceTable, UsageLedger, UsageTotals

log = structlog.get_logger(__name__)

OutT = TypeVar("OutT", bound=BaseModel)

_ANSWER_STOPS = {StopReason.END_TURN, StopReason.STOP_SEQUENCE, StopReason.MAX_TOKENS}


@dataclass(frozen=True)
class ReasoningTask(Generic[OutT]):
    """One piece of reasoning an agent asks for.

    `instruction` is trusted text the agent's code writes from parsed, validated fields; anything
    an attacker could have written goes in `evidence`. `allowed_resources` are the identifiers from
    the parsed alert that mutating tools may target.
    """

    agent: AgentName
    purpose: str
    instruction: str
    output_model: type[OutT]
    deterministic: OutT
    evidence: Sequence[Evidence] = ()
    tools: ToolRegistry | None = None
    allowed_resources: frozenset[str] = frozenset()
    budget: Budget | None = None
    workflow_id: str | None = None
    incident_id: str | None = None
    prompt_version: int | None = None


class ReasoningOutcome(BaseModel, Generic[OutT]):
    """What the reasoning produced and what it cost; safe to store on the incident as is."""

    model_config = ConfigDict(frozen=True)
    reasoning: Literal["llm", "deterministic"]
    provider: ProviderName
    attempted_provider: ProviderName
    model_id: str | None
    degraded_reason: str | None = None
    output: OutT
    output_source: Literal["model", "deterministic"]
    usage: UsageTotals
    calls: list[CallRecord] = Field(default_factory=list)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    proposals: list[Proposal] = Field(default_factory=list)
    injection_findings: list[InjectionFinding] = Field(default_factory=list)
    confidence_cap: float | None = None
    guardrail_interventions: int = 0
    repair_attempted: bool = False
    prompts: list[PromptRef] = Field(default_factory=list)
    workflow_id: str | None = None
    incident_id: str | None = None


@dataclass
class _Run(Generic[OutT]):
    task: ReasoningTask[OutT]
    tracker: BudgetTracker
    prompts: list[PromptRef]
    calls: list[CallRecord] = field(default_factory=list)
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    proposals: list[Proposal] = field(default_factory=list)
    findings: list[InjectionFinding] = field(default_factory=list)
    interventions: int = 0
    repair_attempted: bool = False


class ReasoningLayer:
    """Runs reasoning tasks on one provider with shared cache, prices and usage ledger."""

    def __init__(
        self,
        settings: LlmSettings,
        provider: Provider,
        *,
        cache: ResponseCache | None = None,
        prices: PriceTable | None = None,
        ledger: UsageLedger | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.provider = provider
        self.cache = cache or ResponseCache(settings.cache_ttl_s, settings.cache_max_entries, clock)
        self.prices = prices or PriceTable()
        self.ledger = ledger or UsageLedger()
        self._clock = clock

    async def run(self, task: ReasoningTask[OutT]) -> ReasoningOutcome[OutT]:
        """Reason about `task`; always returns an outcome, deterministic when the model cannot help."""
        prompt = system_prompt(task.agent, task.purpose, task.prompt_version)
        ceiling = Budget.from_settings(self.settings.budget)
        budget = task.budget.within(ceiling) if task.budget else ceiling
        run = _Run(task=task, tracker=BudgetTracker(budget, self._clock), prompts=prompt.parts)
        for ev in task.evidence:
            run.findings.extend(detect_injection(ev.text, source=ev.source))

        if isinstance(self.provider, NoneProvider):
            return self._finish(run, None, degraded=self.provider.reason)
        try:
            async with asyncio.timeout(budget.wall_time_s):
                return await self._loop(run, prompt.text)
        except TimeoutError:
            return self._finish(run, None, degraded=f"budget_exhausted:{BudgetLimit.WALL_TIME}")

    async def _loop(self, run: _Run[OutT], system: str) -> ReasoningOutcome[OutT]:
        task = run.task
        registry = task.tools or ToolRegistry([])
        specs = registry.specs(task.allowed_resources)
        messages: list[Message] = [Message(role="user", content=self._opening(task))]
        while True:
            limit = run.tracker.exhausted_before_model_call()
            if limit is not None:
                return self._finish(run, None, degraded=f"budget_exhausted:{limit}")
            request = ChatRequest(
                system=system,
                messages=messages,
                tools=specs,
                max_tokens=min(self.settings.max_output_tokens, run.tracker.remaining_tokens()),
                temperature=self.settings.temperature,
            )
            try:
                response = await self._call(run, request)
            except AcsoError as err:
                log.warning("llm_degraded", code=err.code, agent=task.agent, workflow_id=task.workflow_id)
                return self._finish(run, None, degraded=err.code)

            if response.guardrail is not None and response.guardrail.prompt_attack_detected:
                run.findings.append(
                    InjectionFinding(
                        category=InjectionCategory.GUARDRAIL_PROMPT_ATTACK,
                        rule_id="bedrock_guardrail_prompt_attack",
                        source="guardrail",
                        excerpt=", ".join(response.guardrail.blocked_filters)[:160],
                    )
                )
            if response.stop_reason is StopReason.GUARDRAIL_INTERVENED:
                run.interventions += 1
                return self._finish(run, None, degraded="guardrail_intervened")

            messages.append(response.message)
            uses = response.message.tool_uses()
            if response.stop_reason is StopReason.TOOL_USE and uses:
                messages.append(Message(role="user", content=await self._run_tools(run, registry, uses)))
                continue
            if response.stop_reason not in _ANSWER_STOPS:
                return self._finish(run, None, degraded=f"stop_reason:{response.stop_reason}")

            output, errors = validate_output(response.message.text(), task.output_model)
            if output is not None:
                return self._finish(run, output, degraded=None)
            if run.repair_attempted:
                return self._finish(run, None, degraded="invalid_output")
            run.repair_attempted = True
            messages.append(Message(role="user", content=[TextBlock(text=repair_instructions(errors or "invalid"))]))

    def _opening(self, task: ReasoningTask[OutT]) -> list[ContentBlock]:
        blocks: list[ContentBlock] = [
            TextBlock(text=f"{task.instruction.strip()}\n\n{output_instructions(task.output_model)}")
        ]
        if task.allowed_resources:
            blocks.append(
                TextBlock(
                    text="Resource identifiers from the parsed alert: " + ", ".join(sorted(task.allowed_resources))
                )
            )
        blocks.extend(wrap_evidence(ev) for ev in task.evidence)
        return blocks

    async def _call(self, run: _Run[OutT], request: ChatRequest) -> ChatResponse:
        model_id = self.provider.model_id or ""
        key = request_key(self.provider.name, model_id, request)
        seq = len(run.calls) + 1
        cached = self.cache.get(key)
        if cached is not None:
            run.calls.append(
                CallRecord(
                    seq=seq,
                    provider=self.provider.name,
                    model_id=cached.model_id,
                    cached=True,
                    stop_reason=cached.stop_reason,
                )
            )
            return cached
        try:
            response = await self.provider.complete(request)
        except AcsoError as err:
            # A failed call still counts against the budget: retrying forever is what budgets prevent.
            run.tracker.charge_model_call(0)
            run.calls.append(CallRecord(seq=seq, provider=self.provider.name, model_id=model_id, error_code=err.code))
            raise
        run.tracker.charge_model_call(response.usage.total_tokens)
        run.calls.append(
            CallRecord(
                seq=seq,
                provider=self.provider.name,
                model_id=response.model_id,
                input_tokens=response.usage.input_tokens,
                output_tokens=response.usage.output_tokens,
                cost_usd=self.prices.cost(self.provider.name, response.model_id, response.usage),
                latency_ms=response.latency_ms,
                stop_reason=response.stop_reason,
            )
        )
        if response.stop_reason is not StopReason.GUARDRAIL_INTERVENED:
            self.cache.put(key, response)
        return response

    async def _run_tools(self, run: _Run[OutT], registry: ToolRegistry, uses: list[ToolUseBlock]) -> list[ContentBlock]:
        results: list[ContentBlock] = []
        for use in uses:
            if not run.tracker.try_charge_tool_call():
                # Converse needs a result for every toolUse, so the refusal is itself the result.
                run.tool_calls.append(
                    ToolCallRecord(
                        tool_use_id=use.tool_use_id,
                        name=use.name,
                        kind=None,
                        status=ToolCallStatus.BUDGET_EXHAUSTED,
                        error_code="budget_exhausted",
                    )
                )
                results.append(
                    ToolResultBlock(
                        tool_use_id=use.tool_use_id,
                        content={"error": {"code": "budget_exhausted", "message": "tool budget exhausted; answer now"}},
                        status="error",
                    )
                )
                continue
            execution = await registry.execute(use, run.task.allowed_resources)
            run.tool_calls.append(execution.record)
            if execution.proposal is not None:
                run.proposals.append(execution.proposal)
            for outside in execution.out_of_scope:
                run.findings.append(
                    InjectionFinding(
                        category=InjectionCategory.OUT_OF_SCOPE_IDENTIFIER,
                        rule_id="tool_identifier_not_in_alert",
                        source=f"tool:{outside.tool}",
                        excerpt=f"{outside.field}={outside.value}"[:160],
                    )
                )
            if execution.record.status is ToolCallStatus.OK:
                # Tool results carry log and intel text too, and Bedrock guardrails do not evaluate them.
                run.findings.extend(detect_injection(str(execution.result.content), source=f"tool:{use.name}"))
            results.append(execution.result)
        return results

    def _finish(self, run: _Run[OutT], output: OutT | None, *, degraded: str | None) -> ReasoningOutcome[OutT]:
        task = run.task
        cap = self.settings.injection_confidence_cap if run.findings else None
        usage = UsageTotals.of(run.calls)
        self.ledger.add(usage, workflow_id=task.workflow_id, incident_id=task.incident_id)
        from_model = output is not None
        confidence = getattr(output, "confidence", None)
        if output is not None and cap is not None and isinstance(confidence, float):
            output = output.model_copy(update={"confidence": min(confidence, cap)})
        return ReasoningOutcome[OutT](
            reasoning="llm" if from_model else "deterministic",
            provider=self.provider.name if from_model else ProviderName.NONE,
            attempted_provider=self.provider.name,
            model_id=self.provider.model_id if from_model else None,
            degraded_reason=degraded,
            output=output if output is not None else task.deterministic,
            output_source="model" if from_model else "deterministic",
            usage=usage,
            calls=run.calls,
            tool_calls=run.tool_calls,
            # Proposals from an abandoned run are not a plan anyone reviewed the reasoning of.
            proposals=run.proposals if from_model else [],
            injection_findings=_dedupe(run.findings),
            confidence_cap=cap,
            guardrail_interventions=run.interventions,
            repair_attempted=run.repair_attempted,
            prompts=run.prompts,
            workflow_id=task.workflow_id,
            incident_id=task.incident_id,
        )


def _dedupe(findings: list[InjectionFinding]) -> list[InjectionFinding]:
    seen: set[tuple[str, str, str]] = set()
    out: list[InjectionFinding] = []
    for f in findings:
        key = (f.category, f.rule_id, f.source)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out
