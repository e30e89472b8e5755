"""The Atlassian Document Format builder and reader."""

from __future__ import annotations

import pytest

from acso_service_orchestration.itsm import adf
from acso_shared.errors import Invalid

pytestmark = pytest.mark.unit


def test_a_document_has_the_v1_doc_envelope():
    assert adf.doc(adf.paragraph("hi")) == {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}],
    }


def test_text_marks_and_links_become_mark_nodes():
    node = adf.text("runbook", adf.Mark.STRONG, adf.Mark.CODE, href="https://acso.example.com/r/1")
    assert node["marks"] == [
        {"type": "strong"},
        {"type": "code"},
        {"type": "link", "attrs": {"href": "https://acso.example.com/r/1"}},
    ]


def test_newlines_in_a_paragraph_become_hard_breaks_and_no_empty_text_nodes():
    node = adf.paragraph("one\n\ntwo")
    assert [c["type"] for c in node["content"]] == ["text", "hardBreak", "hardBreak", "text"]


def test_heading_levels_outside_1_to_6_are_invalid():
    with pytest.raises(Invalid):
        adf.heading(7, "too deep")


def test_bullet_list_wraps_each_item_in_a_list_item_paragraph():
    node = adf.bullet_list("a", "b")
    assert node["type"] == "bulletList"
    assert [item["content"][0]["type"] for item in node["content"]] == ["paragraph", "paragraph"]


def test_empty_lists_are_invalid():
    with pytest.raises(Invalid):
        adf.ordered_list()


def test_code_block_keeps_text_verbatim_with_its_language():
    node = adf.code_block("aws iam list-keys\n  --user x", "bash")
    assert node == {
        "type": "codeBlock",
        "content": [{"type": "text", "text": "aws iam list-keys\n  --user x"}],
        "attrs": {"language": "bash"},
    }


def test_plain_text_blank_lines_separate_paragraphs():
    document = adf.from_plain_text("first\r\n\r\nsecond\nline")
    assert [b["type"] for b in document["content"]] == ["paragraph", "paragraph"]
    adf.validate_document(document)


def test_to_plain_text_flattens_blocks_lists_and_breaks():
    document = adf.doc(adf.heading(2, "Title"), adf.bullet_list("a", "b"), adf.paragraph("x\ny"))
    assert adf.to_plain_text(document) == "Title\n- a\n- b\nx\ny"


def test_to_plain_text_passes_wiki_markup_strings_through():
    assert adf.to_plain_text("*bold* text") == "*bold* text"


def test_validate_rejects_a_plain_string_description():
    with pytest.raises(Invalid):
        adf.validate_document("not adf")


def test_validate_rejects_empty_text_nodes():
    with pytest.raises(Invalid):
        adf.validate_document(
            {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}
        )
