"""Atlassian Document Format (ADF) builder and reader for Jira Cloud REST v3.

REST v3 takes rich text (issue descriptions, comment bodies) only as an ADF document:
`{"type": "doc", "version": 1, "content": [<block nodes>]}`. Blocks used here: paragraph,
heading (attrs.level 1-6), bulletList/orderedList of listItem, codeBlock (attrs.language),
rule. Inline: text (with marks strong, em, code, strike, underline, link{href}) and hardBreak.
Text nodes must not be empty, so builders drop empty strings instead of emitting invalid nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, TypeAlias

from acso_shared.errors import Invalid

Node: TypeAlias = dict[str, Any]


class Mark(StrEnum):
    """Text marks without attributes (a link carries an href: use `link`)."""

    STRONG = "strong"
    EM = "em"
    CODE = "code"
    STRIKE = "strike"
    UNDERLINE = "underline"


def text(value: str, *marks: Mark, href: str | None = None) -> Node:
    """An inline text node with optional marks and link."""
    if not value:
        raise Invalid("adf_empty_text", "ADF text nodes must not be empty")
    node: Node = {"type": "text", "text": value}
    mark_nodes: list[Node] = [{"type": str(m)} for m in marks]
    if href is not None:
        mark_nodes.append({"type": "link", "attrs": {"href": href}})
    if mark_nodes:
        node["marks"] = mark_nodes
    return node


def hard_break() -> Node:
    """A line break inside a paragraph."""
    return {"type": "hardBreak"}


def _inline(items: Iterable[str | Node]) -> list[Node]:
    """Inline content: strings become plain text nodes; newlines become hard breaks."""
    out: list[Node] = []
    for item in items:
        if isinstance(item, str):
            for i, line in enumerate(item.split("\n")):
                if i:
                    out.append(hard_break())
                if line:
                    out.append(text(line))
        else:
            out.append(item)
    return out


def paragraph(*content: str | Node) -> Node:
    """A paragraph of inline content."""
    return {"type": "paragraph", "content": _inline(content)}


def heading(level: int, *content: str | Node) -> Node:
    """A heading of level 1-6."""
    if not 1 <= level <= 6:
        raise Invalid("adf_bad_heading", f"heading level must be 1-6, got {level}")
    return {"type": "heading", "attrs": {"level": level}, "content": _inline(content)}


def _list(kind: str, items: Iterable[str | Node]) -> Node:
    list_items = [
        {"type": "listItem", "content": [paragraph(item) if isinstance(item, str) else item]} for item in items
    ]
    if not list_items:
        raise Invalid("adf_empty_list", "ADF lists need at least one item")
    return {"type": kind, "content": list_items}


def bullet_list(*items: str | Node) -> Node:
    """A bullet list; each item is a string (one paragraph) or a block node."""
    return _list("bulletList", items)


def ordered_list(*items: str | Node) -> Node:
    """A numbered list; each item is a string (one paragraph) or a block node."""
    return _list("orderedList", items)


def code_block(code: str, language: str | None = None) -> Node:
    """A code block; its text is kept verbatim, newlines included."""
    node: Node = {"type": "codeBlock", "content": [{"type": "text", "text": code}] if code else []}
    if language:
        node["attrs"] = {"language": language}
    return node


def rule() -> Node:
    """A horizontal rule."""
    return {"type": "rule"}


def doc(*blocks: Node) -> Node:
    """A complete ADF document."""
    return {"type": "doc", "version": 1, "content": list(blocks)}


def from_plain_text(value: str) -> Node:
    """A document from plain text: blank lines separate paragraphs, single newlines break lines."""
    blocks = [paragraph(chunk.strip("\n")) for chunk in value.replace("\r\n", "\n").split("\n\n") if chunk.strip()]
    return doc(*blocks)


_BLOCK_TYPES = frozenset(
    {"paragraph", "heading", "bulletList", "orderedList", "listItem", "codeBlock", "blockquote", "panel", "rule"}
)


def to_plain_text(node: Mapping[str, Any] | str | None) -> str:
    """Flatten an ADF document (or a plain-text/wiki-markup string, as webhooks may send) to text."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    parts: list[str] = []
    _walk(node, parts)
    return "".join(parts).strip()


def _walk(node: Mapping[str, Any], parts: list[str]) -> None:
    kind = node.get("type")
    if kind == "text":
        parts.append(str(node.get("text", "")))
        return
    if kind == "hardBreak":
        parts.append("\n")
        return
    if kind == "mention":
        parts.append(str(node.get("attrs", {}).get("text", "")))
        return
    if kind == "listItem":
        parts.append("- ")
    for child in node.get("content", []) or []:
        if isinstance(child, Mapping):
            _walk(child, parts)
    if kind in _BLOCK_TYPES and parts and not parts[-1].endswith("\n"):
        parts.append("\n")


def validate_document(node: Any) -> None:
    """Check the structural rules Jira enforces on a v3 ADF body; raise Invalid otherwise."""
    if not isinstance(node, Mapping) or node.get("type") != "doc" or node.get("version") != 1:
        raise Invalid("adf_invalid", "an ADF body must be {type: doc, version: 1, content: [...]}")
    content = node.get("content")
    if not isinstance(content, list):
        raise Invalid("adf_invalid", "doc.content must be a list")
    for child in content:
        _validate_node(child)


def _validate_node(node: Any) -> None:
    if not isinstance(node, Mapping) or not isinstance(node.get("type"), str):
        raise Invalid("adf_invalid", "every ADF node needs a string type")
    if node["type"] == "text":
        if not isinstance(node.get("text"), str) or not node["text"]:
            raise Invalid("adf_invalid", "text nodes need non-empty text")
        return
    for child in node.get("content", []) or []:
        _validate_node(child)
