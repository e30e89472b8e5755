"""Module READMEs: the inputs and outputs tables are generated from variables.tf and outputs.tf."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devtools.terraform_check.hcl import Config, unquote

BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"


def _cell(value: Any) -> str:
    text = unquote(str(value)).replace("|", "\\|").replace("\n", " ")
    if text.startswith("${") and text.endswith("}"):
        text = text[2:-1]
    return text


def render_docs(config: Config) -> str:
    """The generated part of a module README: inputs and outputs tables."""
    lines = [BEGIN, "## Inputs", "", "| Name | Description | Type | Default | Required |", "|---|---|---|---|:-:|"]
    for name, var in sorted(config.variables.items()):
        default = f"`{_cell(var.body['default'])}`" if var.has_default else "n/a"
        required = "no" if var.has_default else "yes"
        description, type_ = _cell(var.body.get("description", "")), _cell(var.body.get("type", "any"))
        lines.append(f"| `{name}` | {description} | `{type_}` | {default} | {required} |")
    lines += ["", "## Outputs", "", "| Name | Description |", "|---|---|"]
    for name, body in sorted(config.outputs.items()):
        lines.append(f"| `{name}` | {_cell(body.get('description', ''))} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def updated_readme(current: str, config: Config) -> str:
    """`current` with its generated section replaced (or appended when it has none)."""
    docs = render_docs(config)
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        return head + docs + tail
    return current.rstrip("\n") + "\n\n" + docs


def readme_path(config: Config) -> Path:
    return config.path / "README.md"
