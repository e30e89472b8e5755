"""Specs: resources and data sources match the pinned AWS provider schema (from the cdktf jsii assembly)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from devtools.terraform_check.hcl import load_config
from devtools.terraform_check.models import Check
from devtools.terraform_check.runner import TERRAFORM_DIR, load_all
from devtools.terraform_check.schema import PROVIDER_PACKAGES, ProviderSchema, extract_schema
from devtools.terraform_check.schema_check import check_schema
from tests.terraform.conftest import write_module

pytestmark = pytest.mark.terraform


def _messages(tmp_path: Path, schema: ProviderSchema, main: str) -> list[str]:
    config = load_config(write_module(tmp_path / "m", {"main.tf": main}), root=tmp_path)
    findings = check_schema(config, schema, tmp_path)
    assert all(f.check is Check.SCHEMA for f in findings)
    return sorted(f.message for f in findings)


def _prop(name: str, anchor: str, *, optional: bool, block: bool = False, fqn: str | None = None) -> dict[str, Any]:
    registry = "https://registry.terraform.io/providers/hashicorp/aws/6.25.0/docs/resources"
    link = f"{{@link {registry}/thing#{anchor} T#{anchor}}}"
    docs = (
        {"summary": f"{anchor} block.", "remarks": f"Docs at Terraform Registry: {link}"}
        if block
        else {"summary": f"Docs at Terraform Registry: {link}."}
    )
    type_: dict[str, Any] = {"fqn": fqn} if fqn else {"primitive": "any" if block else "string"}
    return {"name": name, "docs": docs, "optional": optional, "type": type_}


def test_extraction_reads_types_arguments_requiredness_and_blocks() -> None:
    # Given a minimal jsii assembly shaped like the cdktf provider's
    ns = "@cdktf/provider-aws.thing"
    assembly = {
        "types": {
            f"{ns}.Thing": {
                "base": "cdktf.TerraformResource",
                "docs": {
                    "summary": "Represents a {@link https://registry.terraform.io/.../docs/resources/thing aws_thing}."
                },
                "initializer": {
                    "parameters": [{"name": "scope"}, {"name": "config", "type": {"fqn": f"{ns}.ThingConfig"}}]
                },
            },
            f"{ns}.ThingConfig": {
                "properties": [
                    _prop("name", "name", optional=False),
                    _prop("fooBar", "foo_bar", optional=True),
                    _prop("rule", "rule", optional=True, block=True, fqn=f"{ns}.ThingRule"),
                    _prop("statement", "statement", optional=True, block=True),
                ]
            },
            f"{ns}.ThingRule": {"properties": [_prop("id", "id", optional=False)]},
        }
    }
    # When it is extracted
    resources, data_sources = extract_schema(assembly)
    # Then the Terraform names, requiredness and nesting come out
    thing = resources["aws_thing"]
    assert data_sources == {}
    assert thing.attributes == {"name": True, "foo_bar": False}
    assert thing.blocks["rule"][1].attributes == {"id": True}
    assert thing.blocks["statement"][1].opaque  # typed `any`: content not described


def test_the_pinned_package_is_built_from_the_provider_release_versions_tf_allows() -> None:
    aws = next(p for p in PROVIDER_PACKAGES if p.provider == "aws")
    major, minor, _ = (int(x) for x in aws.provider_version.split("."))
    for versions in TERRAFORM_DIR.rglob("versions.tf"):
        constraint = re.search(r'aws = \{[^}]*version\s*=\s*"~> (\d+)\.(\d+)"', versions.read_text(), re.S)
        assert constraint, f"{versions} pins aws with ~> MAJOR.MINOR"
        assert (int(constraint.group(1)), int(constraint.group(2))) == (major, minor), versions


def test_the_schema_knows_real_provider_facts(provider_schema: ProviderSchema) -> None:
    ecs_service = provider_schema.resources["aws_ecs_service"]
    assert ecs_service.attributes["name"] is True
    assert "capacity_provider_strategy" in ecs_service.blocks
    assert provider_schema.resources["aws_s3_bucket"].attributes["bucket"] is False
    assert "aws_iam_policy_document" in provider_schema.data_sources


def test_every_resource_of_the_real_tree_matches_the_provider_schema(provider_schema: ProviderSchema) -> None:
    configs, _ = load_all()
    findings = [f for c in configs.values() for f in check_schema(c, provider_schema, TERRAFORM_DIR.parent)]
    assert findings == []


def test_an_unknown_resource_type_is_reported(tmp_path: Path, provider_schema: ProviderSchema) -> None:
    main = 'resource "aws_sqs_queueue" "q" {\n  name = "x"\n}\n'
    assert _messages(tmp_path, provider_schema, main) == ["unknown resource type 'aws_sqs_queueue'"]


def test_a_misspelled_argument_is_reported(tmp_path: Path, provider_schema: ProviderSchema) -> None:
    main = 'resource "aws_sqs_queue" "q" {\n  name = "x"\n  visiblity_timeout_seconds = 5\n}\n'
    assert _messages(tmp_path, provider_schema, main) == ["visiblity_timeout_seconds: no such argument"]


def test_a_missing_required_argument_is_reported(tmp_path: Path, provider_schema: ProviderSchema) -> None:
    main = 'resource "aws_ecs_service" "s" {\n  desired_count = 1\n}\n'
    assert _messages(tmp_path, provider_schema, main) == ["name: required argument missing"]


def test_an_argument_written_as_a_block_is_reported(tmp_path: Path, provider_schema: ProviderSchema) -> None:
    main = 'resource "aws_sqs_queue" "q" {\n  name = "x"\n  tags {\n    a = "b"\n  }\n}\n'
    assert _messages(tmp_path, provider_schema, main) == ["tags: an argument, not a block"]


def test_nested_blocks_and_dynamic_content_are_checked(tmp_path: Path, provider_schema: ProviderSchema) -> None:
    main = (
        'resource "aws_ecs_service" "s" {\n'
        '  name = "x"\n'
        '  dynamic "capacity_provider_strategy" {\n'
        "    for_each = var.strategies\n"
        "    content {\n"
        "      capacity_provder = capacity_provider_strategy.key\n"
        "    }\n"
        "  }\n"
        "  network_configuration {\n"
        "    subnets = []\n"
        "    bogus   = 1\n"
        "  }\n"
        "}\n"
    )
    assert _messages(tmp_path, provider_schema, main) == [
        "capacity_provider_strategy.capacity_provder: no such argument",
        "capacity_provider_strategy.capacity_provider: required argument missing",
        "network_configuration.bogus: no such argument",
    ]


def test_meta_arguments_are_not_provider_arguments(tmp_path: Path, provider_schema: ProviderSchema) -> None:
    main = (
        'resource "aws_sqs_queue" "q" {\n  count = 2\n  name  = "x"\n'
        "  lifecycle {\n    prevent_destroy = true\n  }\n  depends_on = []\n}\n"
    )
    assert _messages(tmp_path, provider_schema, main) == []
