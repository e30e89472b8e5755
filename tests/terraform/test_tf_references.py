"""Specs: every .tf file parses, every reference resolves, module calls match module variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from devtools.terraform_check.hcl import load_config
from devtools.terraform_check.models import Check, Finding
from devtools.terraform_check.references import check_module_calls, check_references
from devtools.terraform_check.runner import TERRAFORM_DIR, configuration_dirs, load_all, static_findings
from tests.terraform.conftest import write_module

pytestmark = pytest.mark.terraform

CHILD = {
    "variables.tf": (
        'variable "name" {\n  type = string\n}\n\nvariable "size" {\n  type    = number\n  default = 1\n}\n'
    ),
    "main.tf": 'resource "aws_sqs_queue" "this" {\n  name = var.name\n}\n',
    "outputs.tf": 'output "arn" {\n  value = aws_sqs_queue.this.arn\n}\n',
}


def _findings(root: Path, directory: Path) -> list[Finding]:
    config = load_config(directory, root=root)
    return check_references(config, root) + check_module_calls(config, root)


def test_the_real_tree_has_modules_and_both_environments() -> None:
    dirs = {str(d.relative_to(TERRAFORM_DIR)) for d in configuration_dirs()}
    assert {"modules/network", "modules/compute", "environments/dev", "environments/prod"} <= dirs


def test_every_tf_file_of_the_real_tree_parses() -> None:
    _, findings = load_all()
    assert findings == []


def test_every_reference_and_module_call_of_the_real_tree_resolves() -> None:
    assert static_findings(schema=None) == []


def test_a_file_that_does_not_parse_is_a_parse_finding(tmp_path: Path) -> None:
    findings: list[Finding] = []
    load_config(
        write_module(tmp_path / "m", {"main.tf": 'resource "aws_sqs_queue" "q" {\n  name = \n'}), findings, tmp_path
    )
    assert [f.check for f in findings] == [Check.PARSE]


def test_an_undeclared_variable_is_reported(tmp_path: Path) -> None:
    module = write_module(tmp_path / "m", {"main.tf": 'resource "aws_sqs_queue" "q" {\n  name = var.missing\n}\n'})
    assert [f.message for f in _findings(tmp_path, module)] == ["undeclared variable var.missing"]


def test_an_undeclared_local_is_reported(tmp_path: Path) -> None:
    main = 'locals {\n  a = "x"\n}\n\nresource "aws_sqs_queue" "q" {\n  name = "${local.a}-${local.b}"\n}\n'
    module = write_module(tmp_path / "m", {"main.tf": main})
    assert [f.message for f in _findings(tmp_path, module)] == ["undeclared local local.b"]


def test_a_reference_to_an_undeclared_resource_or_data_source_is_reported(tmp_path: Path) -> None:
    main = (
        'data "aws_region" "current" {}\n\n'
        'resource "aws_sqs_queue" "q" {\n'
        "  name   = data.aws_region.other.region\n"
        "  policy = aws_iam_policy.nope.arn\n"
        "}\n"
    )
    module = write_module(tmp_path / "m", {"main.tf": main})
    messages = sorted(f.message for f in _findings(tmp_path, module))
    assert messages == ["undeclared data source data.aws_region.other", "undeclared resource aws_iam_policy.nope"]


def test_literal_text_that_looks_like_a_reference_is_not_one(tmp_path: Path) -> None:
    main = 'resource "aws_sqs_queue" "q" {\n  name = "var.not_a_reference aws_iam_role.neither"\n}\n'
    module = write_module(tmp_path / "m", {"main.tf": main})
    assert _findings(tmp_path, module) == []


def test_an_output_the_called_module_does_not_declare_is_reported(tmp_path: Path) -> None:
    write_module(tmp_path / "child", CHILD)
    root_main = 'module "c" {\n  source = "../child"\n  name   = "q"\n}\n\noutput "x" {\n  value = module.c.url\n}\n'
    stack = write_module(tmp_path / "stack", {"main.tf": root_main})
    assert [f.message for f in _findings(tmp_path, stack)] == ["module.c has no output 'url'"]


def test_a_module_call_must_pass_required_and_only_declared_variables(tmp_path: Path) -> None:
    write_module(tmp_path / "child", CHILD)
    stack = write_module(tmp_path / "stack", {"main.tf": 'module "c" {\n  source = "../child"\n  colour = "red"\n}\n'})
    messages = sorted(f.message for f in _findings(tmp_path, stack))
    assert messages == ["misses required variable 'name'", "passes undeclared variable 'colour'"]


def test_meta_arguments_of_a_module_call_are_not_variables(tmp_path: Path) -> None:
    write_module(tmp_path / "child", CHILD)
    main = 'module "c" {\n  source     = "../child"\n  name       = "q"\n  depends_on = []\n}\n'
    stack = write_module(tmp_path / "stack", {"main.tf": main})
    assert _findings(tmp_path, stack) == []
