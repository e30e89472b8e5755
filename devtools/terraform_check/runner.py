"""Run the static checks over every configuration directory of `terraform/`."""

from __future__ import annotations

from pathlib import Path

from devtools.terraform_check.hcl import Config, load_config
from devtools.terraform_check.models import Finding
from devtools.terraform_check.references import check_module_calls, check_references
from devtools.terraform_check.schema import REPO_ROOT, ProviderSchema
from devtools.terraform_check.schema_check import check_schema

TERRAFORM_DIR = REPO_ROOT / "terraform"


def configuration_dirs(terraform_dir: Path = TERRAFORM_DIR) -> list[Path]:
    """Every directory holding `.tf` files (modules and environment root stacks)."""
    return sorted({tf.parent for tf in terraform_dir.rglob("*.tf") if ".terraform" not in tf.parts})


def load_all(terraform_dir: Path = TERRAFORM_DIR, root: Path = REPO_ROOT) -> tuple[dict[Path, Config], list[Finding]]:
    """Parse every configuration directory; parse failures come back as findings."""
    findings: list[Finding] = []
    configs = {d.resolve(): load_config(d.resolve(), findings, root) for d in configuration_dirs(terraform_dir)}
    return configs, findings


def static_findings(
    schema: ProviderSchema | None, terraform_dir: Path = TERRAFORM_DIR, root: Path = REPO_ROOT
) -> list[Finding]:
    """Parse, reference, module-call and (when `schema` is given) provider-schema findings."""
    configs, findings = load_all(terraform_dir, root)
    cache = dict(configs)
    for config in configs.values():
        findings += check_references(config, root, cache)
        findings += check_module_calls(config, root, cache)
        if schema is not None:
            findings += check_schema(config, schema, root)
    return findings
