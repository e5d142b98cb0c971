from pathlib import Path

import pytest

from conjure_kernel.errors import SkillValidationError
from conjure_kernel.skills.frontmatter import (
    parse_frontmatter,
    parse_frontmatter_text,
    read_frontmatter,
    split_frontmatter,
)


def write_skill_md(folder: Path, content: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    skill_md = folder / "SKILL.md"
    if isinstance(content, bytes):
        skill_md.write_bytes(content)
    else:
        skill_md.write_text(content, encoding="utf-8")
    return skill_md


def test_split_returns_the_yaml_and_the_trimmed_body():
    text = "---\nname: pdf\ndescription: Reads PDFs.\n---\n\n# PDF\n\nSteps.\n"
    assert split_frontmatter(text) == ("name: pdf\ndescription: Reads PDFs.\n", "# PDF\n\nSteps.")


def test_split_accepts_crlf_line_endings_and_a_byte_order_mark():
    text = "\ufeff---\r\nname: pdf\r\n---\r\nBody\r\n"
    assert split_frontmatter(text) == ("name: pdf\r\n", "Body")


def test_split_stops_at_the_first_closing_line_so_the_body_may_hold_more_rules():
    yaml_text, body = split_frontmatter("---\nname: a\n---\nintro\n---\nmore\n")
    assert yaml_text == "name: a\n"
    assert body == "intro\n---\nmore"


def test_split_of_frontmatter_without_body_gives_an_empty_body():
    assert split_frontmatter("---\nname: a\n---") == ("name: a\n", "")


def test_text_without_an_opening_line_is_rejected_naming_the_file():
    with pytest.raises(SkillValidationError) as caught:
        split_frontmatter("# Just Markdown\n", "x/SKILL.md")
    assert caught.value.path == Path("x/SKILL.md")
    assert caught.value.field == "frontmatter"
    assert "must start with a '---' line" in caught.value.problem


def test_frontmatter_without_a_closing_line_is_rejected():
    with pytest.raises(SkillValidationError, match="has no closing '---' line"):
        split_frontmatter("---\nname: a\ndescription: b\n")


def test_parse_reads_the_fields_of_a_skill_md(tmp_path):
    skill_md = write_skill_md(
        tmp_path / "pdf",
        "---\nname: pdf\ndescription: Reads PDFs.\nmetadata:\n  version: '1.0'\n---\nBody\n",
    )
    assert parse_frontmatter(skill_md) == {
        "name": "pdf",
        "description": "Reads PDFs.",
        "metadata": {"version": "1.0"},
    }


def test_unparseable_yaml_is_rejected_with_its_line_number(tmp_path):
    skill_md = write_skill_md(tmp_path / "pdf", "---\nname: pdf\ndescription: [unclosed\n---\n")
    with pytest.raises(SkillValidationError) as caught:
        parse_frontmatter(skill_md)
    assert caught.value.field == "frontmatter"
    assert caught.value.problem.startswith("is not valid YAML: ")
    assert "(frontmatter line" in caught.value.problem


def test_frontmatter_that_is_not_a_mapping_is_rejected():
    with pytest.raises(SkillValidationError, match=r"must be a mapping of fields \(found list\)"):
        parse_frontmatter_text("- name\n- description\n")


def test_empty_frontmatter_is_an_empty_mapping_so_validation_names_the_missing_fields():
    assert parse_frontmatter_text("") == {}


def test_an_unquoted_colon_in_a_value_is_retried_quoted_as_other_clients_accept():
    data = parse_frontmatter_text(
        "name: pdf\ndescription: Use this skill when: the user asks about 'PDFs'\n"
    )
    assert data == {"name": "pdf", "description": "Use this skill when: the user asks about 'PDFs'"}


def test_the_colon_fallback_leaves_quoted_block_and_flow_values_alone():
    data = parse_frontmatter_text(
        "name: pdf\ndescription: Use when: PDFs\nlicense: 'MIT: see LICENSE'\n"
        "compatibility: |\n  Needs: poppler\nmetadata: {author: me}\n"
    )
    assert data["description"] == "Use when: PDFs"
    assert data["license"] == "MIT: see LICENSE"
    assert data["compatibility"] == "Needs: poppler\n"
    assert data["metadata"] == {"author": "me"}


def test_yaml_the_colon_fallback_cannot_fix_reports_the_original_error():
    with pytest.raises(SkillValidationError, match="is not valid YAML"):
        parse_frontmatter_text("name: pdf\ndescription: when: PDFs\nmetadata: [unclosed\n")


def test_parse_ignores_a_body_that_is_not_utf8(tmp_path):
    skill_md = write_skill_md(
        tmp_path / "pdf", b"---\nname: pdf\ndescription: Reads PDFs.\n---\n\xff\xfe\x00 binary\n"
    )
    assert parse_frontmatter(skill_md)["name"] == "pdf"


def test_frontmatter_that_is_not_utf8_is_rejected(tmp_path):
    skill_md = write_skill_md(tmp_path / "pdf", b"---\nname: \xff\n---\n")
    with pytest.raises(SkillValidationError, match="is not valid UTF-8"):
        read_frontmatter(skill_md)


def test_a_missing_skill_md_cannot_be_read(tmp_path):
    with pytest.raises(SkillValidationError) as caught:
        read_frontmatter(tmp_path / "SKILL.md")
    assert caught.value.field == "SKILL.md"
    assert caught.value.problem.startswith("cannot be read")
