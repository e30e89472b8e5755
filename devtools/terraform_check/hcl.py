"""Load a Terraform configuration directory into a plain structure (python-hcl2, no terraform binary).

python-hcl2 keeps string quotes (`'"acso"'`), marks blocks with `__is_block__` and renders
expressions as `"${...}"`; the helpers here undo the quoting where a name is needed and leave
expressions as text for the reference scanner.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

from devtools.terraform_check.models import Check, Finding

BLOCK_MARK = "__is_block__"
META_KEYS = frozenset({BLOCK_MARK, "__comments__", "__inline_comments__", "__start_line__", "__end_line__"})


def unquote(text: str) -> str:
    """`'"name"'` -> `name`; anything else unchanged."""
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def is_block_list(value: Any) -> bool:
    """Whether a parsed value is one or more blocks (as opposed to an attribute's value)."""
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get(BLOCK_MARK) for v in value)


def body_items(body: dict[str, Any]) -> list[tuple[str, Any]]:
    """The arguments and nested blocks of a block body, without python-hcl2's metadata keys."""
    return [(k, v) for k, v in body.items() if k not in META_KEYS]


@dataclass
class Variable:
    name: str
    has_default: bool
    body: dict[str, Any]


@dataclass
class ModuleCall:
    name: str
    source: str
    arguments: dict[str, Any]


@dataclass
class Config:
    """Every top-level block of one directory of `.tf` files."""

    path: Path
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    resources: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    data: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    modules: dict[str, ModuleCall] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Parsed content of each file, by file name."""
    origin: dict[str, str] = field(default_factory=dict)
    """Address (`var.x`, `aws_s3_bucket.this`, `module.m`) -> file name it is declared in."""


def _labelled(blocks: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in blocks:
        for label, body in body_items(block):
            out.append((unquote(label), body))
    return out


@lru_cache(maxsize=512)
def _parse(text: str) -> dict[str, Any]:
    # Parsing is most of a check's time, and scratch copies of the tree repeat the same files.
    parsed: dict[str, Any] = hcl2.loads(text)
    return parsed


def parse_text(text: str) -> dict[str, Any]:
    """python-hcl2's structure of one file's text (a private copy: callers may change it)."""
    return copy.deepcopy(_parse(text))


def load_config(path: Path, findings: list[Finding] | None = None, root: Path | None = None) -> Config:
    """Parse every `.tf` file of `path`. Files that do not parse become PARSE findings."""
    config = Config(path=path)
    for tf in sorted(path.glob("*.tf")):
        rel = str(tf.relative_to(root)) if root else str(tf)
        try:
            parsed = parse_text(tf.read_text())
        except Exception as err:  # the parser raises many lark error types
            if findings is not None:
                findings.append(Finding(Check.PARSE, rel, "-", f"does not parse: {err}"))
            continue
        config.files[tf.name] = parsed
        for block in parsed.get("variable", []):
            for name, body in _labelled([block]):
                config.variables[name] = Variable(name, "default" in body, body)
                config.origin[f"var.{name}"] = tf.name
        for block in parsed.get("locals", []):
            for name, value in body_items(block):
                config.locals[name] = value
                config.origin[f"local.{name}"] = tf.name
        for block in parsed.get("output", []):
            for name, body in _labelled([block]):
                config.outputs[name] = body
                config.origin[f"output.{name}"] = tf.name
        for kind, target in (("resource", config.resources), ("data", config.data)):
            for block in parsed.get(kind, []):
                for type_name, named in _labelled([block]):
                    for name, body in _labelled([named]):
                        target[(type_name, name)] = body
                        prefix = "data." if kind == "data" else ""
                        config.origin[f"{prefix}{type_name}.{name}"] = tf.name
        for block in parsed.get("module", []):
            for name, body in _labelled([block]):
                source = unquote(str(body.get("source", "")))
                args = {k: v for k, v in body_items(body) if k != "source"}
                config.modules[name] = ModuleCall(name, source, args)
                config.origin[f"module.{name}"] = tf.name
    return config


def local_module_path(config: Config, call: ModuleCall) -> Path | None:
    """Directory of a module called with a relative source; None for registry or git sources."""
    if call.source.startswith(("./", "../")):
        return (config.path / call.source).resolve()
    return None
