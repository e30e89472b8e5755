"""Every reference resolves, and every module call matches the called module's variables."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devtools.terraform_check.hcl import Config, ModuleCall, load_config, local_module_path, unquote
from devtools.terraform_check.models import Check, Finding

# Resource types of the providers the configuration uses, plus Terraform's built-in one.
_RESOURCE_TYPE = r"(?:aws|random)_[a-z0-9_]+|terraform_data"
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
# `(?<![\w.])` keeps `data.aws_x.y` from also counting as resource `aws_x.y`, and attribute
# paths (`each.value.var`) from counting as references.
_PATTERNS: dict[str, re.Pattern[str]] = {
    "var": re.compile(rf"(?<![\w.])var\.({_NAME})"),
    "local": re.compile(rf"(?<![\w.])local\.({_NAME})"),
    "module": re.compile(rf"(?<![\w.])module\.({_NAME})(?:\[[^\]]*\])?\.({_NAME})"),
    "data": re.compile(rf"(?<![\w.])data\.({_RESOURCE_TYPE})\.({_NAME})"),
    "resource": re.compile(rf"(?<![\w.])({_RESOURCE_TYPE})\.({_NAME})"),
}
META_ARGUMENTS = frozenset({"source", "version", "providers", "depends_on", "count", "for_each"})


def _interpolations(text: str) -> Iterator[str]:
    """The `${...}` segments of a template string (brace-balanced)."""
    i = 0
    while (start := text.find("${", i)) != -1:
        depth, j = 0, start + 1
        while j < len(text):
            if text[j] == "{":
                depth += 1
            elif text[j] == "}":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        yield text[start + 2 : j]
        i = j + 1


def expressions(value: Any) -> Iterator[str]:
    """Every expression text inside a parsed value: quoted strings yield only their interpolations."""
    if isinstance(value, str):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            yield from _interpolations(value)
        else:
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.startswith("${"):
                yield key
            yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)


def _address_of(file_content: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(address, body) of every top-level block of a parsed file, for locating findings."""
    for kind, blocks in file_content.items():
        if not isinstance(blocks, list):
            continue
        for block in blocks:
            if not isinstance(block, dict):
                continue
            if kind == "locals":
                yield "locals", block
                continue
            for label, body in block.items():
                if label.startswith("__"):
                    continue
                if kind in ("resource", "data") and isinstance(body, dict):
                    for name, inner in body.items():
                        if not name.startswith("__"):
                            prefix = "data." if kind == "data" else ""
                            yield f"{prefix}{unquote(label)}.{unquote(name)}", inner
                else:
                    yield f"{kind}.{unquote(label)}", body


def _module_outputs(config: Config, call: ModuleCall, cache: dict[Path, Config]) -> set[str] | None:
    path = local_module_path(config, call)
    if path is None:
        return None
    if path not in cache:
        cache[path] = load_config(path)
    return set(cache[path].outputs)


def check_references(config: Config, root: Path, cache: dict[Path, Config] | None = None) -> list[Finding]:
    """Every `var.`, `local.`, `module.X.Y`, `data.T.N` and `T.N` reference names something declared."""
    cache = {} if cache is None else cache
    findings: list[Finding] = []
    rel_dir = config.path.relative_to(root) if config.path.is_relative_to(root) else config.path
    resources = {f"{t}.{n}" for t, n in config.resources}
    data = {f"{t}.{n}" for t, n in config.data}
    for file_name, content in config.files.items():
        rel = str(rel_dir / file_name)
        for address, body in _address_of(content):
            for expr in expressions(body):
                for name in _PATTERNS["var"].findall(expr):
                    if name not in config.variables:
                        findings.append(Finding(Check.REFERENCE, rel, address, f"undeclared variable var.{name}"))
                for name in _PATTERNS["local"].findall(expr):
                    if name not in config.locals:
                        findings.append(Finding(Check.REFERENCE, rel, address, f"undeclared local local.{name}"))
                for module_name, output in _PATTERNS["module"].findall(expr):
                    call = config.modules.get(module_name)
                    if call is None:
                        findings.append(Finding(Check.REFERENCE, rel, address, f"unknown module module.{module_name}"))
                        continue
                    outputs = _module_outputs(config, call, cache)
                    if outputs is not None and output not in outputs:
                        msg = f"module.{module_name} has no output {output!r}"
                        findings.append(Finding(Check.REFERENCE, rel, address, msg))
                for type_name, name in _PATTERNS["data"].findall(expr):
                    if f"{type_name}.{name}" not in data:
                        msg = f"undeclared data source data.{type_name}.{name}"
                        findings.append(Finding(Check.REFERENCE, rel, address, msg))
                for type_name, name in _PATTERNS["resource"].findall(expr):
                    if f"{type_name}.{name}" not in resources:
                        msg = f"undeclared resource {type_name}.{name}"
                        findings.append(Finding(Check.REFERENCE, rel, address, msg))
    return sorted(set(findings))


def check_module_calls(config: Config, root: Path, cache: dict[Path, Config] | None = None) -> list[Finding]:
    """Each module call passes only variables the module declares, and every required one."""
    cache = {} if cache is None else cache
    findings: list[Finding] = []
    for call in config.modules.values():
        rel = str(config.path.relative_to(root) / config.origin.get(f"module.{call.name}", "?"))
        address = f"module.{call.name}"
        path = local_module_path(config, call)
        if path is None:
            continue
        if not path.is_dir():
            findings.append(Finding(Check.MODULE_CALL, rel, address, f"source {call.source!r} is not a directory"))
            continue
        if path not in cache:
            cache[path] = load_config(path)
        child = cache[path]
        passed = {k for k in call.arguments if k not in META_ARGUMENTS}
        for name in sorted(passed - set(child.variables)):
            findings.append(Finding(Check.MODULE_CALL, rel, address, f"passes undeclared variable {name!r}"))
        required = {n for n, v in child.variables.items() if not v.has_default}
        for name in sorted(required - passed):
            findings.append(Finding(Check.MODULE_CALL, rel, address, f"misses required variable {name!r}"))
    return findings
