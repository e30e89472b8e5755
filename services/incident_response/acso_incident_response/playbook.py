"""Declarative playbooks: YAML files selected by finding type and ATT&CK technique.

A playbook matches when one of its `finding_types` glob patterns matches the alert's type, or
(weaker) when it shares an ATT&CK technique with the triage. The best match wins: a type match
beats a technique match, a longer (more specific) pattern beats a shorter one, then `priority`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from acso_incident_response.actions.catalog import ACTIONS
from acso_incident_response.targets import TargetKind
from acso_shared.errors import Invalid

_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"


class PlaybookStep(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)
    action: str
    target: TargetKind
    after: tuple[str, ...] = ()
    dry_run: bool = False
    params: dict[str, Any] = Field(default_factory=dict)


class PlaybookMatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    finding_types: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()


class Playbook(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID)
    name: str
    description: str = ""
    priority: int = 0
    match: PlaybookMatch
    steps: tuple[PlaybookStep, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Playbook:
        seen: set[str] = set()
        for step in self.steps:
            action = ACTIONS.get(step.action)
            if action is None:
                raise ValueError(f"step {step.id}: unknown action {step.action!r}")
            if action.target_kind is not step.target:
                raise ValueError(f"step {step.id}: {step.action} acts on {action.target_kind}, not {step.target}")
            missing = [s for s in step.after if s not in seen]
            if missing:
                raise ValueError(f"step {step.id}: `after` names steps not listed before it: {missing}")
            if step.id in seen:
                raise ValueError(f"duplicate step id {step.id}")
            seen.add(step.id)
        return self

    def score(self, finding_type: str, techniques: list[str]) -> tuple[int, int, int] | None:
        """How well this playbook fits; None when it does not apply."""
        type_hits = [p for p in self.match.finding_types if fnmatch.fnmatchcase(finding_type, p)]
        if type_hits:
            return (2, max(len(p.replace("*", "")) for p in type_hits), self.priority)
        if set(techniques) & set(self.match.techniques):
            return (1, 0, self.priority)
        return None


def parse_playbook(text: str, origin: str) -> Playbook:
    """One playbook from YAML text; `Invalid` names the file and the problem."""
    try:
        data = yaml.safe_load(text)
        return Playbook.model_validate(data)
    except (yaml.YAMLError, ValidationError) as err:
        raise Invalid("playbook_invalid", f"{origin}: {err}") from err


def load_playbooks(directory: Path | None = None) -> list[Playbook]:
    """The shipped playbooks, or those of `directory`; ids must be unique."""
    if directory is None:
        files = [(f.name, f.read_text()) for f in resources.files("acso_incident_response.playbooks").iterdir()]
    else:
        files = [(p.name, p.read_text()) for p in directory.iterdir()]
    books = [parse_playbook(text, name) for name, text in sorted(files) if name.endswith((".yaml", ".yml"))]
    ids = [b.id for b in books]
    if len(ids) != len(set(ids)):
        raise Invalid("playbook_invalid", f"duplicate playbook ids in {ids}")
    return books


def select_playbook(
    books: list[Playbook],
    finding_type: str,
    techniques: list[str],
    available: Collection[TargetKind] | None = None,
) -> Playbook | None:
    """The best-fitting playbook for a finding, or None.

    With `available` (the target kinds the alert names), a playbook none of whose steps could act
    on anything in the alert is passed over: a technique shared with an access-key playbook does
    not make it the response to an alert about an instance.
    """
    scored = [
        (score, book)
        for book in books
        if (score := book.score(finding_type, techniques)) is not None
        and (available is None or any(step.target in available for step in book.steps))
    ]
    if not scored:
        return None
    return max(scored, key=lambda item: item[0])[1]
