"""Every resource and data source matches the pinned provider schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devtools.terraform_check.hcl import BLOCK_MARK, Config, body_items, is_block_list, unquote
from devtools.terraform_check.models import Check, Finding
from devtools.terraform_check.schema import Block, ProviderSchema

# Meta-arguments Terraform itself accepts on every resource / data source.
RESOURCE_META = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"})

# Terraform's built-in provider ("terraform") has no cdktf package; its one resource is small and
# documented at developer.hashicorp.com/terraform/language/resources/terraform-data.
BUILTIN_RESOURCES: dict[str, Block] = {
    "terraform_data": Block(attributes={"input": False, "triggers_replace": False}),
}


def _check_body(
    body: dict[str, Any], schema: Block, rel: str, address: str, path: str, findings: list[Finding]
) -> None:
    if schema.opaque:
        return
    seen_attributes: set[str] = set()
    seen_blocks: set[str] = set()
    for key, value in body_items(body):
        where = f"{path}{key}"
        if key == "dynamic" and isinstance(value, list):
            for dyn in value:
                for label, dyn_body in body_items(dyn):
                    name = unquote(label)
                    seen_blocks.add(name)
                    if name not in schema.blocks:
                        findings.append(Finding(Check.SCHEMA, rel, address, f"{path}{name}: no such nested block"))
                        continue
                    for content in dyn_body.get("content", []):
                        _check_body(content, schema.blocks[name][1], rel, address, f"{path}{name}.", findings)
            continue
        if is_block_list(value):
            if key not in schema.blocks:
                kind = "an argument, not a block" if key in schema.attributes else "no such nested block"
                findings.append(Finding(Check.SCHEMA, rel, address, f"{where}: {kind}"))
                continue
            seen_blocks.add(key)
            for item in value:
                _check_body(item, schema.blocks[key][1], rel, address, f"{where}.", findings)
            continue
        if key not in schema.attributes:
            kind = "a block, not an argument" if key in schema.blocks else "no such argument"
            findings.append(Finding(Check.SCHEMA, rel, address, f"{where}: {kind}"))
            continue
        seen_attributes.add(key)
    for name, required in schema.attributes.items():
        if required and name not in seen_attributes:
            findings.append(Finding(Check.SCHEMA, rel, address, f"{path}{name}: required argument missing"))
    for name, (required, _) in schema.blocks.items():
        if required and name not in seen_blocks:
            findings.append(Finding(Check.SCHEMA, rel, address, f"{path}{name}: required block missing"))


def check_schema(config: Config, schema: ProviderSchema, root: Path) -> list[Finding]:
    """Types exist; arguments and nested blocks exist and are used as such; required ones are set."""
    findings: list[Finding] = []
    rel_dir = config.path.relative_to(root) if config.path.is_relative_to(root) else config.path
    kinds: tuple[tuple[str, dict[tuple[str, str], dict[str, Any]], dict[str, Block]], ...] = (
        ("", config.resources, {**BUILTIN_RESOURCES, **schema.resources}),
        ("data.", config.data, schema.data_sources),
    )
    for prefix, blocks, types in kinds:
        for (type_name, name), body in sorted(blocks.items()):
            address = f"{prefix}{type_name}.{name}"
            rel = str(rel_dir / config.origin.get(address, "?"))
            block_schema = types.get(type_name)
            if block_schema is None:
                kind = "data source" if prefix else "resource"
                findings.append(Finding(Check.SCHEMA, rel, address, f"unknown {kind} type {type_name!r}"))
                continue
            trimmed = {k: v for k, v in body.items() if k not in RESOURCE_META or k == BLOCK_MARK}
            _check_body(trimmed, block_schema, rel, address, "", findings)
    return findings
