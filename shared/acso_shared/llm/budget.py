"""Per-task budgets: model calls, tool calls, tokens and wall time."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from acso_shared.llm.settings import BudgetSettings


class BudgetLimit(StrEnum):
    MODEL_CALLS = "max_model_calls"
    TOOL_CALLS = "max_tool_calls"
    TOKENS = "max_tokens"
    WALL_TIME = "wall_time_s"


class Budget(BaseModel):
    model_config = ConfigDict(frozen=True)
    max_model_calls: int = Field(ge=1)
    max_tool_calls: int = Field(ge=0)
    max_tokens: int = Field(ge=1)
    wall_time_s: float = Field(gt=0)

    @classmethod
    def from_settings(cls, settings: BudgetSettings) -> Budget:
        """The deployment-wide default budget."""
        return cls.model_validate(settings.model_dump())

    def within(self, ceiling: Budget) -> Budget:
        """This budget, clamped so no limit exceeds `ceiling` (a task may tighten, never loosen)."""
        return Budget(
            max_model_calls=min(self.max_model_calls, ceiling.max_model_calls),
            max_tool_calls=min(self.max_tool_calls, ceiling.max_tool_calls),
            max_tokens=min(self.max_tokens, ceiling.max_tokens),
            wall_time_s=min(self.wall_time_s, ceiling.wall_time_s),
        )


class BudgetTracker:
    """Counts what one task has spent. Cached responses cost no model call and no tokens."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._clock = clock
        self._started = clock()
        self.model_calls = 0
        self.tool_calls = 0
        self.tokens = 0

    def remaining_time_s(self) -> float:
        return self.budget.wall_time_s - (self._clock() - self._started)

    def remaining_tokens(self) -> int:
        return max(0, self.budget.max_tokens - self.tokens)

    def exhausted_before_model_call(self) -> BudgetLimit | None:
        """The limit that forbids another model call, if any."""
        if self.model_calls >= self.budget.max_model_calls:
            return BudgetLimit.MODEL_CALLS
        if self.remaining_tokens() <= 0:
            return BudgetLimit.TOKENS
        if self.remaining_time_s() <= 0:
            return BudgetLimit.WALL_TIME
        return None

    def charge_model_call(self, tokens: int) -> None:
        self.model_calls += 1
        self.tokens += tokens

    def try_charge_tool_call(self) -> bool:
        """Count one tool call if the budget allows it."""
        if self.tool_calls >= self.budget.max_tool_calls:
            return False
        self.tool_calls += 1
        return True
