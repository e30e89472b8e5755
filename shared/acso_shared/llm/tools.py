"""Typed tools for the agent loop.

A tool is a pydantic input model plus either a read-only handler (runs directly: intel match,
CloudTrail lookup, incident history, cost queries, knowledge-base retrieve) or a mutating action
name. Mutating tools never run anything: a call becomes a `Proposal` for the action policy and the
approvals of the main flow. Fields that name a resource are declared `ResourceId`; their values must
be members of the task's allow-set (identifiers from the parsed alert), the proposal carries the
allow-set's own string, and the JSON schema the model sees enumerates exactly those values.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acso_shared.errors import AcsoError
from acso_shared.llm.conversation import ToolResultBlock, ToolSpec, ToolUseBlock
from acso_shared.llm.errors import ToolRegistrationError

log = structlog.get_logger(__name__)

I = TypeVar("I", bound=BaseModel)  # noqa: E741 - the conventional name for an input type parameter


class ResourceRef:
    """Marker in `Annotated[str, ResourceRef()]`: this field names a resource the action touches."""

    def __repr__(self) -> str:
        return "ResourceRef()"


ResourceId = Annotated[str, ResourceRef()]


class ToolKind(StrEnum):
    READ_ONLY = "read_only"
    MUTATING = "mutating"


@dataclass(frozen=True)
class ReadOnlyTool(Generic[I]):
    """A tool that only reads; its handler runs when the model calls it."""

    name: str
    description: str
    input_model: type[I]
    handler: Callable[[I], Awaitable[BaseModel]]

    @property
    def kind(self) -> ToolKind:
        return ToolKind.READ_ONLY


@dataclass(frozen=True)
class MutatingTool(Generic[I]):
    """A tool that would change something; calling it only creates a `Proposal` for `action`."""

    name: str
    description: str
    input_model: type[I]
    action: str

    @property
    def kind(self) -> ToolKind:
        return ToolKind.MUTATING


AnyTool = ReadOnlyTool[Any] | MutatingTool[Any]


class Proposal(BaseModel):
    """A mutating action the model suggested; it runs only if the action policy and approvals allow it."""

    model_config = ConfigDict(frozen=True)
    proposal_id: str
    action: str
    tool: str
    resource_ids: dict[str, str | list[str]]
    parameters: dict[str, Any]
    source: Literal["llm"] = "llm"
    status: Literal["proposed"] = "proposed"


class ToolCallStatus(StrEnum):
    OK = "ok"
    PROPOSED = "proposed"
    REJECTED = "rejected"
    FAILED = "failed"
    BUDGET_EXHAUSTED = "budget_exhausted"


class ToolCallRecord(BaseModel):
    model_config = ConfigDict(frozen=True)
    tool_use_id: str
    name: str
    kind: ToolKind | None
    status: ToolCallStatus
    error_code: str | None = None


class OutOfScopeIdentifier(BaseModel):
    """A mutating call named a resource outside the allow-set: a sign the model followed injected text."""

    model_config = ConfigDict(frozen=True)
    tool: str
    field: str
    value: str


class ToolExecution(BaseModel):
    model_config = ConfigDict(frozen=True)
    result: ToolResultBlock
    record: ToolCallRecord
    proposal: Proposal | None = None
    out_of_scope: list[OutOfScopeIdentifier] = Field(default_factory=list)


def _is_resource(annotation: Any) -> bool:
    return any(isinstance(m, ResourceRef) for m in getattr(annotation, "__metadata__", ()))


def resource_fields(model: type[BaseModel]) -> dict[str, bool]:
    """Top-level `ResourceId` fields of `model`, mapped to True when the field is a list of identifiers."""
    found: dict[str, bool] = {}
    for name, field in model.model_fields.items():
        if any(isinstance(m, ResourceRef) for m in field.metadata):
            found[name] = False
            continue
        origin = typing.get_origin(field.annotation)
        if origin in (list, tuple, set, frozenset) and any(_is_resource(a) for a in typing.get_args(field.annotation)):
            found[name] = True
        elif origin in (typing.Union, types.UnionType):
            for arg in typing.get_args(field.annotation):
                if _is_resource(arg):
                    found[name] = False
    return found


def _schema_for(tool: AnyTool, allowed: frozenset[str]) -> dict[str, Any]:
    schema: dict[str, Any] = tool.input_model.model_json_schema()
    if isinstance(tool, MutatingTool):
        # The model can only pick identifiers from the alert; anything else is refused anyway.
        values = sorted(allowed)
        for name, is_list in resource_fields(tool.input_model).items():
            prop = schema["properties"][name]
            if is_list:
                prop["items"] = {"type": "string", "enum": values}
            else:
                prop.pop("anyOf", None)
                prop["type"] = "string"
                prop["enum"] = values
    return schema


def _error(use: ToolUseBlock, kind: ToolKind | None, status: ToolCallStatus, code: str, message: str) -> ToolExecution:
    return ToolExecution(
        result=ToolResultBlock(
            tool_use_id=use.tool_use_id, content={"error": {"code": code, "message": message}}, status="error"
        ),
        record=ToolCallRecord(tool_use_id=use.tool_use_id, name=use.name, kind=kind, status=status, error_code=code),
    )


class ToolRegistry:
    """The tools one agent offers the model."""

    def __init__(self, tools: Iterable[AnyTool]) -> None:
        self._tools: dict[str, AnyTool] = {}
        for tool in tools:
            ToolSpec.model_validate({"name": tool.name, "description": tool.description, "input_schema": {}})
            if tool.name in self._tools:
                raise ToolRegistrationError("llm_tool_duplicate", f"tool {tool.name} registered twice")
            if isinstance(tool, MutatingTool) and not resource_fields(tool.input_model):
                raise ToolRegistrationError(
                    "llm_tool_without_resource", f"mutating tool {tool.name} declares no ResourceId field"
                )
            self._tools[tool.name] = tool

    def __len__(self) -> int:
        return len(self._tools)

    def specs(self, allowed: frozenset[str]) -> list[ToolSpec]:
        """Tool specs for one task. Mutating tools are offered only when the alert named some resource."""
        return [
            ToolSpec(name=t.name, description=t.description, input_schema=_schema_for(t, allowed))
            for t in self._tools.values()
            if isinstance(t, ReadOnlyTool) or allowed
        ]

    async def execute(self, use: ToolUseBlock, allowed: frozenset[str]) -> ToolExecution:
        """Run a read-only tool, or turn a mutating call into a proposal; errors go back to the model."""
        tool = self._tools.get(use.name)
        if tool is None:
            return _error(use, None, ToolCallStatus.REJECTED, "tool_unknown", f"no tool named {use.name!r}")
        if use.input_error is not None:
            return _error(use, tool.kind, ToolCallStatus.REJECTED, "tool_input_invalid", use.input_error)
        try:
            args = tool.input_model.model_validate(use.input)
        except ValidationError as err:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors(include_input=False))
            return _error(use, tool.kind, ToolCallStatus.REJECTED, "tool_input_invalid", detail[:500])
        if isinstance(tool, MutatingTool):
            return self._propose(use, tool, args, allowed)
        try:
            output = await tool.handler(args)
        except AcsoError as err:
            return _error(use, tool.kind, ToolCallStatus.FAILED, err.code, err.message)
        except Exception:
            # A broken read-only tool must not end the investigation; details go to the log only.
            log.exception("llm_tool_failed", tool=tool.name)
            return _error(use, tool.kind, ToolCallStatus.FAILED, "tool_failed", "the tool failed")
        return ToolExecution(
            result=ToolResultBlock(tool_use_id=use.tool_use_id, content=output.model_dump(mode="json")),
            record=ToolCallRecord(tool_use_id=use.tool_use_id, name=use.name, kind=tool.kind, status=ToolCallStatus.OK),
        )

    def _propose(
        self, use: ToolUseBlock, tool: MutatingTool[Any], args: BaseModel, allowed: frozenset[str]
    ) -> ToolExecution:
        canonical = {value: value for value in allowed}
        ids: dict[str, str | list[str]] = {}
        outside: list[OutOfScopeIdentifier] = []
        for name, is_list in resource_fields(tool.input_model).items():
            value = getattr(args, name)
            if value is None:
                continue
            values = list(value) if is_list else [value]
            for v in values:
                if v not in canonical:
                    outside.append(OutOfScopeIdentifier(tool=tool.name, field=name, value=str(v)[:200]))
            ids[name] = [canonical[v] for v in values if v in canonical] if is_list else canonical.get(value, "")
        if outside:
            execution = _error(
                use,
                tool.kind,
                ToolCallStatus.REJECTED,
                "resource_not_in_scope",
                "only identifiers from the parsed alert may be targeted: "
                + ", ".join(sorted(f"{o.field}={o.value}" for o in outside)),
            )
            return execution.model_copy(update={"out_of_scope": outside})
        parameters = args.model_dump(mode="json", exclude=set(resource_fields(tool.input_model)))
        digest = hashlib.sha256(json.dumps([tool.action, ids, parameters], sort_keys=True).encode()).hexdigest()[:16]
        proposal = Proposal(
            proposal_id=f"prop-{digest}", action=tool.action, tool=tool.name, resource_ids=ids, parameters=parameters
        )
        return ToolExecution(
            result=ToolResultBlock(
                tool_use_id=use.tool_use_id,
                content={
                    "status": "proposed",
                    "proposal_id": proposal.proposal_id,
                    "note": "queued for the action policy and human approval; nothing has been executed",
                },
            ),
            record=ToolCallRecord(
                tool_use_id=use.tool_use_id, name=use.name, kind=tool.kind, status=ToolCallStatus.PROPOSED
            ),
            proposal=proposal,
        )
