"""The action contract: risk tier, current-state check, apply, revert and a dry-run description.

Executing a direct action is idempotent by construction: the executor reads the current AWS state
first and only applies when the resource is not yet in the desired state, so a task redelivered
after a crash finishes the work instead of repeating it. Delegated actions (`actions/delegated.py`)
are carried out by another agent instead.
"""

from __future__ import annotations

import contextlib
import copy
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from botocore import xform_name
from botocore.exceptions import ClientError

from acso_incident_response.settings import Settings
from acso_incident_response.targets import Target, TargetKind
from acso_shared.aws.clients import AwsClientFactory, error_code, translate_aws_error
from acso_shared.errors import Conflict

Risk = Literal["low", "medium", "high"]
State = dict[str, Any]


class ReadCache:
    """Descriptions read during one action execution, so the scope guard, the state before and the
    state checked before applying share one `DescribeInstances` (issue 19).

    Off until the executor turns it on (`share()`) for one execution; it lives on that execution's
    `ActionContext`, never across runs. While the action changes the resource (`changing()`),
    nothing is cached and what was read before is forgotten: the state read after the change,
    which verifies that it took effect, is always fresh.
    """

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._sharing = False

    def share(self) -> None:
        self._sharing = True

    async def get(self, key: str, load: Callable[[], Awaitable[Any]]) -> Any:
        if not self._sharing:
            return await load()
        if key not in self._values:
            self._values[key] = await load()
        return copy.deepcopy(self._values[key])

    @contextlib.asynccontextmanager
    async def changing(self) -> AsyncIterator[None]:
        sharing, self._sharing = self._sharing, False
        self._values.clear()
        try:
            yield
        finally:
            self._values.clear()
            self._sharing = sharing


@dataclass(frozen=True)
class ActionContext:
    """What an action needs to run: AWS clients, settings and its own identity (for tagging).

    One context serves one execution (planning.context per run); `reads` caches descriptions in it.
    """

    clients: AwsClientFactory
    settings: Settings
    action_id: str
    incident_id: str
    waf_ip_set_id: str | None = None
    reads: ReadCache = field(default_factory=ReadCache, compare=False, repr=False)


class ActionType(ABC):
    """One kind of action. Subclasses are stateless; state lives in the action row.

    What every action shares: its risk, its target kind, the state it records before it runs, its
    revert and its description. How the change is made is up to the two kinds below.
    """

    name: ClassVar[str]
    risk: ClassVar[Risk]
    target_kind: ClassVar[TargetKind]
    revertible: ClassVar[bool] = True
    #: The IAM actions the action's AWS calls need (the response catalogue and the IAM grants list them).
    iam_actions: ClassVar[tuple[str, ...]] = ()
    #: The calls the local emulator (moto) does not implement; the catalogue names them, and their
    #: requests are unit-specified against the botocore service model instead.
    not_emulated: ClassVar[tuple[str, ...]] = ()
    #: Why the emulator cannot exercise the action although it implements the calls (empty: it can).
    emulator_note: ClassVar[str] = ""

    @abstractmethod
    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        """The resource's present state, as far as this action cares."""

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        """Restore `before`. Actions whose effect must stay (evidence) keep this refusal."""
        raise Conflict("not_revertible", f"{self.name} cannot be reverted")

    @abstractmethod
    def describe(self, target: Target, params: dict[str, Any]) -> str:
        """What the action does, in one sentence (used for dry runs and the timeline)."""

    def planned_params(self, params: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """The step's parameters as the action row stores them: the playbook's, plus what this action
        takes from the operator's settings (the default adds nothing)."""
        return params

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        """What applying would change, read from `state` (what `current` returned): a dry run's detail.

        The default names no detail; actions that change settings list each one as {"from", "to"}.
        """
        return {}


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


class SettingsAction(DirectAction):
    """An action that sets named settings of a resource to wanted values; revert writes back what it found.

    Most remediations are this shape (a flag, a policy, an encryption key): `read` gives the settings
    as they are, `wanted` what they must be, `write` sets some of them. The executor re-reads after
    `apply` and fails the action when the settings still differ, which is the remediation's verification.
    """

    @abstractmethod
    async def read(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> dict[str, Any]:
        """The settings this action cares about, as they are now."""

    @abstractmethod
    def wanted(self, params: dict[str, Any]) -> dict[str, Any]:
        """The values the settings must have."""

    @abstractmethod
    async def write(self, ctx: ActionContext, target: Target, values: dict[str, Any], *, reverting: bool) -> None:
        """Set `values` (a subset of the settings); `reverting` when restoring the values found before."""

    async def current(self, ctx: ActionContext, target: Target, params: dict[str, Any]) -> State:
        return {"settings": await self.read(ctx, target, params), "wanted": self.wanted(params)}

    def done(self, state: State, params: dict[str, Any]) -> bool:
        return all(state["settings"].get(key) == value for key, value in state["wanted"].items())

    async def apply(self, ctx: ActionContext, target: Target, params: dict[str, Any], state: State) -> None:
        changes = {k: v for k, v in state["wanted"].items() if state["settings"].get(k) != v}
        await self.write(ctx, target, changes, reverting=False)

    async def revert(self, ctx: ActionContext, target: Target, before: State) -> None:
        found = before["settings"]
        restore = {k: found.get(k) for k, v in before["wanted"].items() if found.get(k) != v}
        if restore:
            await self.write(ctx, target, restore, reverting=True)

    def preview(self, state: State, params: dict[str, Any]) -> dict[str, Any]:
        found = state["settings"]
        return {k: {"from": found.get(k), "to": v} for k, v in state["wanted"].items() if found.get(k) != v}


async def call(ctx: ActionContext, service: str, operation: str, **kwargs: Any) -> dict[str, Any]:
    """One AWS call by its botocore operation name (`DescribeTasks`), with errors translated once here."""
    client = await ctx.clients.client(service)
    method = getattr(client, xform_name(operation))
    try:
        return dict(await method(**kwargs))
    except Exception as err:
        raise translate_aws_error(err, f"{service}:{operation}") from err
