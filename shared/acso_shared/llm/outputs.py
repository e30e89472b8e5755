"""What each agent's reasoning produces: the schemas model answers are validated against.

Every output has a `confidence` in [0, 1]; the reasoning layer caps it when the evidence the
conclusion rests on contained an injection attempt.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

AgentName = Literal[
    "supervisor", "threat_hunter", "incident_response", "service_orchestration", "financial_intelligence"
]


class Purpose(StrEnum):
    PLAN_WORKFLOW = "plan_workflow"
    SUMMARISE_WORKFLOW = "summarise_workflow"
    INVESTIGATE = "investigate"
    RESPONSE_PLAN = "response_plan"
    INCIDENT_SUMMARY = "incident_summary"
    CHANGE_REQUEST = "change_request"
    EXECUTIVE_NARRATIVE = "executive_narrative"


class ReasonedOutput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(ge=0.0, le=1.0)


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent: AgentName
    kind: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$", description="message kind, e.g. triage.request")
    rationale: str = Field(max_length=1000)


class WorkflowPlan(ReasonedOutput):
    steps: list[PlanStep] = Field(min_length=1, max_length=20)
    summary: str = Field(max_length=2000)


class WorkflowSummary(ReasonedOutput):
    summary: str = Field(max_length=4000)
    open_items: list[str] = Field(default_factory=list, max_length=20)


class Hypothesis(BaseModel):
    model_config = ConfigDict(extra="forbid")
    statement: str = Field(max_length=500)
    check_with_tool: str | None = None
    attack_technique: str | None = Field(default=None, pattern=r"^T\d{4}(\.\d{3})?$")


class InvestigationNarrative(ReasonedOutput):
    narrative: str = Field(max_length=8000)
    hypotheses: list[Hypothesis] = Field(default_factory=list, max_length=10)
    injection_suspected: bool = False


class ResponsePlan(ReasonedOutput):
    summary: str = Field(max_length=2000)
    steps: list[str] = Field(min_length=1, max_length=20)


class IncidentSummary(ReasonedOutput):
    summary: str = Field(max_length=4000)
    timeline: list[str] = Field(default_factory=list, max_length=50)


class ChangeRequestWriteup(ReasonedOutput):
    title: str = Field(max_length=160)
    description: str = Field(max_length=4000)
    justification: str = Field(max_length=2000)
    risk_assessment: str = Field(max_length=2000)
    implementation_steps: list[str] = Field(min_length=1, max_length=30)
    backout_plan: str = Field(max_length=2000)


class ExecutiveNarrative(ReasonedOutput):
    headline: str = Field(max_length=200)
    narrative: str = Field(max_length=4000)
    recommendations: list[str] = Field(default_factory=list, max_length=5)


PURPOSES: dict[tuple[AgentName, Purpose], type[ReasonedOutput]] = {
    ("supervisor", Purpose.PLAN_WORKFLOW): WorkflowPlan,
    ("supervisor", Purpose.SUMMARISE_WORKFLOW): WorkflowSummary,
    ("threat_hunter", Purpose.INVESTIGATE): InvestigationNarrative,
    ("incident_response", Purpose.RESPONSE_PLAN): ResponsePlan,
    ("incident_response", Purpose.INCIDENT_SUMMARY): IncidentSummary,
    ("service_orchestration", Purpose.CHANGE_REQUEST): ChangeRequestWriteup,
    ("financial_intelligence", Purpose.EXECUTIVE_NARRATIVE): ExecutiveNarrative,
}
