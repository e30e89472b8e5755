"""Wire schemas of the hunting engine: rule metadata, hits and per-rule error reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Level(StrEnum):
    """Sigma rule levels, lowest to highest."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class RuleKind(StrEnum):
    """A rule is either a single-event predicate or a correlation over a batch of events."""

    EVENT = "event"
    CORRELATION = "correlation"


class RuleErrorStage(StrEnum):
    """When a rule failed: while compiling it, or while evaluating it on an event."""

    COMPILE = "compile"
    EVALUATE = "evaluate"


class RuleMeta(BaseModel):
    """What the engine knows about a rule besides its logic."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    level: Level
    kind: RuleKind
    description: str = ""
    status: str | None = None
    tags: tuple[str, ...] = ()
    techniques: tuple[str, ...] = Field(default=(), description="ATT&CK technique ids, e.g. T1562.008")
    tactics: tuple[str, ...] = Field(default=(), description="ATT&CK tactic names, e.g. defense_evasion")
    falsepositives: tuple[str, ...] = ()


class Hit(BaseModel):
    """One rule firing: on a single event, or on a group of events for a correlation."""

    rule_id: str
    title: str
    level: Level
    kind: RuleKind
    tags: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    tactics: tuple[str, ...] = ()
    events: list[dict[str, Any]]
    event_ids: list[str] = Field(default_factory=list, description="CloudTrail eventID of each event, when present")
    group: dict[str, Any] | None = Field(default=None, description="Correlation group-by values")
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    also_matched: list[str] = Field(
        default_factory=list, description="Rules whose hits on the same event and detection were folded into this one"
    )


class RuleError(BaseModel):
    """A problem with one rule. A failing rule is reported here and never stops the others."""

    source: str = Field(description="Rule id, or the rule file name when the rule could not be parsed")
    stage: RuleErrorStage
    code: str
    message: str
    occurrences: int = 1
