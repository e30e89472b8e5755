"""Versioned prompt files: `<agent>.<purpose>.v<N>.md`, plus `common.<name>.v<N>.md` shared by all.

A prompt is never edited in place once released: a change is a new version file, and every outcome
records the ids and versions it used, so an incident's narrative can be traced to the exact text.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict

from acso_shared.llm.errors import PromptNotFound

_NAME = re.compile(r"^(?P<id>[a-z_]+\.[a-z_]+)\.v(?P<version>[1-9][0-9]*)\.md$")
COMMON_RULES = "common.security_rules"


class PromptRef(BaseModel):
    model_config = ConfigDict(frozen=True)
    prompt_id: str
    version: int
    sha256: str


class SystemPrompt(BaseModel):
    """The composed system prompt and the files it came from."""

    model_config = ConfigDict(frozen=True)
    text: str
    parts: list[PromptRef]


@cache
def _catalogue() -> dict[str, dict[int, str]]:
    found: dict[str, dict[int, str]] = {}
    for entry in resources.files(__name__).iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.setdefault(match["id"], {})[int(match["version"])] = entry.read_text(encoding="utf-8")
    return found


def available_prompts() -> dict[str, list[int]]:
    """Every prompt id with its versions, oldest first."""
    return {pid: sorted(versions) for pid, versions in _catalogue().items()}


def load_prompt(prompt_id: str, version: int | None = None) -> tuple[PromptRef, str]:
    """One prompt file by id (`agent.purpose`), the latest version unless one is pinned."""
    versions = _catalogue().get(prompt_id)
    if not versions:
        raise PromptNotFound("llm_prompt_not_found", f"no prompt {prompt_id}")
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise PromptNotFound("llm_prompt_not_found", f"no version {chosen} of prompt {prompt_id}")
    text = versions[chosen]
    ref = PromptRef(prompt_id=prompt_id, version=chosen, sha256=hashlib.sha256(text.encode()).hexdigest())
    return ref, text


def system_prompt(agent: str, purpose: str, version: int | None = None) -> SystemPrompt:
    """The agent's prompt for `purpose` followed by the common security rules."""
    ref, text = load_prompt(f"{agent}.{purpose}", version)
    common_ref, common = load_prompt(COMMON_RULES)
    return SystemPrompt(text=f"{text.strip()}\n\n{common.strip()}\n", parts=[ref, common_ref])
