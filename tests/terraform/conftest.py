"""Fixtures of the Terraform checks: the real tree, its parsed configs, and scratch copies to break."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from acso_shared.resources import Agent
from devtools.terraform_check.hcl import Config
from devtools.terraform_check.runner import load_all
from devtools.terraform_check.schema import REPO_ROOT, ProviderSchema, load_schema


@pytest.fixture(scope="session")
def provider_schema() -> ProviderSchema:
    """The pinned AWS/random provider schema (creates .venv-tfschema and the cache on a cold machine)."""
    return load_schema()


@pytest.fixture(scope="session")
def real_configs() -> dict[Path, Config]:
    """Every configuration directory of the real tree, parsed once (specs must not change them)."""
    configs, _ = load_all()
    return configs


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A scratch repository root with a copy of terraform/ and one empty package per agent service."""
    shutil.copytree(REPO_ROOT / "terraform", tmp_path / "terraform", ignore=shutil.ignore_patterns(".terraform*"))
    for agent in Agent:
        (tmp_path / "services" / agent.value / f"acso_{agent.value}").mkdir(parents=True)
    return tmp_path


@pytest.fixture
def edit() -> Callable[[Path, str, str], None]:
    """Replace one exact snippet in a file, failing loudly if the snippet is not there."""

    def _edit(path: Path, old: str, new: str) -> None:
        text = path.read_text()
        assert old in text, f"{old!r} not in {path}"
        path.write_text(text.replace(old, new, 1))

    return _edit


def write_module(directory: Path, files: dict[str, str]) -> Path:
    """Write a small configuration directory for a checker test."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory
