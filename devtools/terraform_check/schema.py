"""Provider schemas, derived from the prebuilt cdktf provider packages on PyPI.

Each `cdktf-cdktf-provider-<name>` wheel carries a jsii assembly (`_jsii/*.jsii.tgz`) that
describes every resource and data source of one pinned provider release: one `<Type>Config`
struct per resource whose properties link to the Terraform Registry anchor of each argument
(`.../docs/resources/s3_bucket#bucket S3Bucket#bucket`), mark optional ones, and name nested
blocks "`<name>` block.". That is enough to know every argument name, which ones are required,
and which are blocks, without a `terraform` binary or a provider download.

The packages are big, so they live in their own virtual environment (`.venv-tfschema`, created
on first use) and the extracted schema is cached as JSON under `.acso/cache/`, keyed on the
package version.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_DIR = REPO_ROOT / ".venv-tfschema"
CACHE_DIR = REPO_ROOT / ".acso" / "cache"


@dataclass(frozen=True)
class ProviderPackage:
    """A prebuilt cdktf provider package pinned to the provider release `versions.tf` allows."""

    provider: str
    package: str
    version: str
    provider_version: str

    @property
    def module_name(self) -> str:
        return self.package.replace("-", "_")


# cdktf-cdktf-provider-aws 21.22.1 is built from hashicorp/aws 6.25.0 (its README says so); the
# modules require aws ~> 6.25 so every argument they use exists in the release checked here.
PROVIDER_PACKAGES: tuple[ProviderPackage, ...] = (
    ProviderPackage("aws", "cdktf-cdktf-provider-aws", "21.22.1", "6.25.0"),
    ProviderPackage("random", "cdktf-cdktf-provider-random", "12.0.1", "3.7.2"),
)

# Bump when the extraction below changes, so stale caches are not read.
_EXTRACTOR_FORMAT = 2

_TYPE_LINK = re.compile(r"/docs/(resources|data-sources|ephemeral-resources)/\S+ ([a-z0-9_]+)\}")
_ARG_ANCHOR = re.compile(r"#([a-z0-9_]+) [A-Za-z0-9]+#")


@dataclass
class Block:
    """The arguments and nested blocks allowed inside one block."""

    attributes: dict[str, bool] = field(default_factory=dict)
    """Argument name -> required."""
    blocks: dict[str, tuple[bool, Block]] = field(default_factory=dict)
    """Nested block name -> (required, its schema)."""
    opaque: bool = False
    """The block's content is not described (cdktf types deeply recursive blocks, e.g. WAF statements, as `any`)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "opaque": self.opaque,
            "attributes": self.attributes,
            "blocks": {name: {"required": req, "block": b.to_json()} for name, (req, b) in self.blocks.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Block:
        return cls(
            opaque=bool(data.get("opaque", False)),
            attributes=dict(data["attributes"]),
            blocks={n: (bool(v["required"]), cls.from_json(v["block"])) for n, v in data["blocks"].items()},
        )


@dataclass
class ProviderSchema:
    """Every resource and data source type of the pinned providers."""

    resources: dict[str, Block]
    data_sources: dict[str, Block]
    versions: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "resources": {k: v.to_json() for k, v in self.resources.items()},
            "data_sources": {k: v.to_json() for k, v in self.data_sources.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProviderSchema:
        return cls(
            resources={k: Block.from_json(v) for k, v in data["resources"].items()},
            data_sources={k: Block.from_json(v) for k, v in data["data_sources"].items()},
            versions=dict(data["versions"]),
        )


def _struct_fqn(type_ref: Any) -> str | None:
    """The provider struct a property's jsii type points to, if any (skipping `cdktf.IResolvable`)."""
    if isinstance(type_ref, dict):
        fqn = type_ref.get("fqn")
        if isinstance(fqn, str) and fqn.startswith("@cdktf/provider-"):
            return fqn
        for value in type_ref.values():
            found = _struct_fqn(value)
            if found:
                return found
    elif isinstance(type_ref, list):
        for value in type_ref:
            found = _struct_fqn(value)
            if found:
                return found
    return None


def _doc_text(prop: dict[str, Any]) -> str:
    docs = prop.get("docs", {})
    return f"{docs.get('summary', '')} {docs.get('remarks', '')}"


def _block_from_struct(types: dict[str, Any], fqn: str, seen: frozenset[str] = frozenset()) -> Block:
    block = Block()
    if fqn in seen:  # a recursive schema stops where it repeats
        return Block(opaque=True)
    for prop in types[fqn].get("properties", []):
        text = _doc_text(prop)
        anchor = _ARG_ANCHOR.search(text)
        if not anchor:
            continue
        name = anchor.group(1)
        required = not prop.get("optional", False)
        nested = _struct_fqn(prop.get("type"))
        if prop.get("docs", {}).get("summary", "").endswith(" block."):
            inner = _block_from_struct(types, nested, seen | {fqn}) if nested else Block(opaque=True)
            block.blocks[name] = (required, inner)
        else:
            block.attributes[name] = required
    return block


def extract_schema(assembly: dict[str, Any]) -> tuple[dict[str, Block], dict[str, Block]]:
    """Resource and data source schemas from one jsii assembly (the parsed `.jsii` file)."""
    types: dict[str, Any] = assembly["types"]
    resources: dict[str, Block] = {}
    data_sources: dict[str, Block] = {}
    for spec in types.values():
        if spec.get("base") not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource"):
            continue
        link = _TYPE_LINK.search(spec.get("docs", {}).get("summary", ""))
        params = spec.get("initializer", {}).get("parameters", [])
        config = next((p for p in params if p.get("name") == "config"), None)
        if not link or config is None:
            continue
        config_fqn = _struct_fqn(config["type"])
        if config_fqn is None:
            continue
        kind, type_name = link.groups()
        target = data_sources if kind == "data-sources" else resources
        target[type_name] = _block_from_struct(types, config_fqn)
    return resources, data_sources


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise FileNotFoundError(f"no site-packages under {venv}")
    return found[0]


def ensure_venv(venv: Path = VENV_DIR, packages: tuple[ProviderPackage, ...] = PROVIDER_PACKAGES) -> Path:
    """Create `venv` and install the pinned provider packages into it unless they are there already.

    `--no-deps`: only the jsii assembly inside each wheel is read, never imported, so the cdktf
    runtime (and the Node.js it needs) is not required.
    """
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
    site = _site_packages(venv)
    missing = [p for p in packages if not list(site.glob(f"{p.module_name}-{p.version}.dist-info"))]
    if missing:
        pins = [f"{p.package}=={p.version}" for p in missing]
        subprocess.run(  # noqa: S603
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", *pins], check=True
        )
    return site


def _read_assembly(site: Path, package: ProviderPackage) -> dict[str, Any]:
    tarballs = sorted((site / package.module_name / "_jsii").glob("*.jsii.tgz"))
    if not tarballs:
        raise FileNotFoundError(f"no jsii assembly in {package.package}")
    with tarfile.open(tarballs[0]) as tar:
        member = tar.extractfile("package/.jsii")
        if member is None:
            raise FileNotFoundError(f"package/.jsii missing from {tarballs[0]}")
        assembly: dict[str, Any] = json.load(member)
        return assembly


def cache_path(packages: tuple[ProviderPackage, ...] = PROVIDER_PACKAGES, cache_dir: Path = CACHE_DIR) -> Path:
    """Where the extracted schema of exactly these package versions is cached."""
    key = "-".join(f"{p.provider}{p.version}" for p in packages)
    return cache_dir / f"tf-schema-v{_EXTRACTOR_FORMAT}-{key}.json"


def load_schema(
    packages: tuple[ProviderPackage, ...] = PROVIDER_PACKAGES, venv: Path = VENV_DIR, cache_dir: Path = CACHE_DIR
) -> ProviderSchema:
    """The provider schema, from the cache, or extracted (installing the packages if needed) and cached."""
    path = cache_path(packages, cache_dir)
    if path.exists():
        return ProviderSchema.from_json(json.loads(path.read_text()))
    site = ensure_venv(venv, packages)
    schema = ProviderSchema(resources={}, data_sources={}, versions={})
    for package in packages:
        resources, data_sources = extract_schema(_read_assembly(site, package))
        schema.resources.update(resources)
        schema.data_sources.update(data_sources)
        schema.versions[package.provider] = package.provider_version
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(schema.to_json()))
    tmp.replace(path)  # atomic: a concurrent test run never reads half a file
    return schema
