"""The action contract: risk tier, current-state check, apply, revert and a dry-run description.

Executing a direct action is idempotent by construction: the executor reads the current AWS state
first and only applies when the resource is not yet in the desired state, so a task redelivered
after a crash finishes the work instead of repeating it. Delegated actions (`actions/delegated.py`)
are carried out by another agent instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from botocore.exceptions import ClientError

from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import AwsClientFactory, error_code
from acso_shared.errors import Conflict

Risk = Literal["low", "medium", "high"]
State = dict[str, Any]


@dataclass(frozen=True)
class ActionContext:
    """What an action needs to run: AWS clients, settings and its own identity (for tagging)."""

    clients: AwsClientFactory
    settings: Settings
    action_id: str
    incident_id: str
    waf_ip_set_id: str | None = None


class ActionType(ABC):
    """One kind of action. Subclasses are stateless; state lives in the action row.

    What every action shares: its risk, its target kind, the state it records before it runs, its
    revert and its description. How the change is made is up to the two kinds below.
    """

    name: ClassVar[str]
    risk: ClassVar[Risk]
    target_kind: ClassVar[TargetKind]
    revertible: ClassVar[bool] = True

    @abstractmethod
    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        """The resource's present state, as far as this action cares."""

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        """Restore `before`. Actions whose effect must stay (evidence) keep this refusal."""
        raise Conflict("not_revertible", f"{self.name} cannot be reverted")

    @abstractmethod
    def describe(self, target: Target, params: dict[str, Any]) -> str:
        """What the action does, in one sentence (used for dry runs and the timeline)."""


class DirectAction(ActionType):
    """An action incident response carries out itself, through the AWS APIs."""

    @abstractmethod
    def done(self, state: State, params: dict[str, Any]) -> bool:
        """Whether `state` already is what the action wants."""

    @abstractmethod
    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        """Change the resource; only called when `done(state)` is false."""


def aws_code(err: BaseException) -> str:
    """The AWS error code of an SDK error, or "" for anything else (never the message text)."""
    return error_code(err) if isinstance(err, ClientError) else ""
