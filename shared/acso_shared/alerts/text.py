"""Untrusted alert text: kept verbatim for analysts, but made safe to store, log and display.

Alert titles and descriptions are attacker-influenced (a malicious user agent, a crafted bucket
name). We never interpret them; we only strip characters that can corrupt logs and terminals or
hide text (C0/C1 controls, bidi overrides, zero-width characters) and cap their length.
"""

from __future__ import annotations

import re
import unicodedata

TITLE_MAX = 512
DESCRIPTION_MAX = 8192
FIELD_MAX = 512
_ELLIPSIS = "…"

# Bidi embeddings/overrides/isolates and zero-width characters: used to make displayed text
# differ from stored text ("Trojan Source" style tricks).
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u2060", "\ufeff"} | {
    chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
_SPACES = re.compile(r"[ \t]+")


def _keep(ch: str, multiline: bool) -> bool:
    if ch in _INVISIBLE:
        return False
    if multiline and ch in "\n\t":
        return True
    return unicodedata.category(ch) != "Cc"


def clean_text(value: str, *, max_len: int, multiline: bool = False) -> str:
    """Strip control and invisible characters and cap the length (an ellipsis marks a cut).

    Single-line text (titles, types, names) turns newlines and tabs into spaces first, so a title
    can never forge a second log line. Multi-line text (descriptions) keeps newlines and tabs.
    """
    if not multiline:
        value = value.replace("\r\n", " ").replace("\n", " ").replace("\r", " ").replace("\t", " ")
    else:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = "".join(ch for ch in value if _keep(ch, multiline))
    if not multiline:
        cleaned = _SPACES.sub(" ", cleaned)
    cleaned = cleaned.strip()
    if len(cleaned) > max_len:
        cleaned = cleaned[: max_len - 1] + _ELLIPSIS
    return cleaned


def clean_title(value: str) -> str:
    """A title: one line, at most `TITLE_MAX` characters."""
    return clean_text(value, max_len=TITLE_MAX)


def clean_description(value: str) -> str:
    """A description: newlines kept, at most `DESCRIPTION_MAX` characters."""
    return clean_text(value, max_len=DESCRIPTION_MAX, multiline=True)


def clean_field(value: str, max_len: int = FIELD_MAX) -> str:
    """A short single-line field (type, product, resource name)."""
    return clean_text(value, max_len=max_len)
