"""Specs: every module has a README whose inputs/outputs tables match its variables and outputs."""

from __future__ import annotations

import pytest

from devtools.terraform_check.__main__ import readme_findings
from devtools.terraform_check.hcl import load_config
from devtools.terraform_check.readme import render_docs
from devtools.terraform_check.runner import TERRAFORM_DIR

pytestmark = pytest.mark.terraform


def test_every_module_readme_is_up_to_date() -> None:
    assert readme_findings(write=False) == []


def test_the_generated_tables_list_every_variable_and_output() -> None:
    config = load_config(TERRAFORM_DIR / "modules" / "messaging")
    docs = render_docs(config)
    assert all(f"| `{name}` |" in docs for name in [*config.variables, *config.outputs])


def test_every_variable_and_output_has_a_description_and_every_variable_a_type() -> None:
    for module in sorted((TERRAFORM_DIR / "modules").iterdir()):
        config = load_config(module)
        for name, var in config.variables.items():
            assert var.body.get("description"), f"{module.name}: var.{name}"
            assert var.body.get("type"), f"{module.name}: var.{name}"
        for name, body in config.outputs.items():
            assert body.get("description"), f"{module.name}: output.{name}"
