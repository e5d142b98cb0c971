import zipfile
from pathlib import Path

import pytest

from conjure_kernel.errors import SkillError
from conjure_kernel.skills.validation import ALLOWED_FIELDS, validate_frontmatter, validate_skill

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus" / "anthropic-skills"
SKILL_MD = Path("/skills/pdf-processing/SKILL.md")
VALID = {"name": "pdf-processing", "description": "Extract PDF text. Use when handling PDFs."}


def problems(data: dict, folder_name: str = "pdf-processing") -> list[tuple[str, str, str]]:
    """(field, "field: problem", severity) for every diagnostic of ``data``."""
    return [
        (d.field, f"{d.field}: {d.problem}", d.severity)
        for d in validate_frontmatter(SKILL_MD, data, folder_name)
    ]


def write_skill(folder: Path, frontmatter: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(f"---\n{frontmatter}---\n# Body\n", encoding="utf-8")
    return folder


def test_the_minimal_spec_example_is_valid():
    assert problems({"name": "skill-name", "description": "What it does."}, "skill-name") == []


def test_the_spec_example_with_every_optional_field_is_valid():
    data = {
        **VALID,
        "license": "Apache-2.0",
        "compatibility": "Requires git, docker, jq, and access to the internet",
        "metadata": {"author": "example-org", "version": "1.0"},
        "allowed-tools": "Bash(git:*) Bash(jq:*) Read",
    }
    assert problems(data) == []


@pytest.mark.parametrize("name", ["pdf-processing", "data-analysis", "code-review", "a", "x" * 64])
def test_valid_names_pass(name):
    assert problems({**VALID, "name": name}, name) == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("PDF-Processing", "name: must be lowercase (found 'PDF-Processing')"),
        ("-pdf", "name: must not start or end with a hyphen (found '-pdf')"),
        ("pdf-", "name: must not start or end with a hyphen (found 'pdf-')"),
        ("pdf--processing", "name: must not contain consecutive hyphens (found 'pdf--processing')"),
        (
            "pdf_processing",
            "name: may contain only letters a-z, digits and hyphens"
            " (found '_' in 'pdf_processing')",
        ),
        ("café", "name: may contain only letters a-z, digits and hyphens (found 'é' in 'café')"),
        ("x" * 65, "name: must be at most 64 characters (found 65)"),
    ],
)
def test_each_broken_name_rule_is_one_warning(name, message):
    assert problems({**VALID, "name": name}, name) == [("name", message, "warning")]


def test_a_name_breaking_several_rules_gets_one_diagnostic_per_rule():
    messages = [message for _, message, _ in problems({**VALID, "name": "-PDF--x_"}, "-PDF--x_")]
    assert len(messages) == 4
    assert [m.split(" (found")[0] for m in messages] == [
        "name: must be lowercase",
        "name: may contain only letters a-z, digits and hyphens",
        "name: must not start or end with a hyphen",
        "name: must not contain consecutive hyphens",
    ]


def test_a_name_different_from_its_folder_is_a_warning():
    assert problems({**VALID, "name": "template-skill"}, "template") == [
        ("name", "name: must match its folder name 'template' (found 'template-skill')", "warning")
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"description": "d"}, "name: is required"),
        ({"name": None, "description": "d"}, "name: is required"),
        ({"name": "", "description": "d"}, "name: must not be empty"),
        ({"name": 2048, "description": "d"}, "name: must be a string (found number)"),
        ({"name": "pdf-processing"}, "description: is required"),
        ({**VALID, "description": ""}, "description: must not be empty"),
        ({**VALID, "description": "  \n"}, "description: must not be empty"),
        ({**VALID, "description": ["a", "b"]}, "description: must be a string (found list)"),
    ],
)
def test_a_missing_name_or_unusable_description_is_an_error(data, message):
    assert ("error", message) in [(severity, m) for _, m, severity in problems(data)]


def test_a_description_of_1024_characters_passes_and_1025_is_a_warning():
    assert problems({**VALID, "description": "d" * 1024}) == []
    assert problems({**VALID, "description": "d" * 1025}) == [
        (
            "description",
            "description: must be at most 1024 characters (found 1025); loading cuts it to 1024",
            "warning",
        )
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "compatibility: must be 1-500 characters (found 0)"),
        ("c" * 501, "compatibility: must be 1-500 characters (found 501)"),
        (["git"], "compatibility: must be a string (found list)"),
    ],
)
def test_a_bad_compatibility_is_a_warning(value, message):
    assert problems({**VALID, "compatibility": value}) == [("compatibility", message, "warning")]


def test_a_compatibility_of_500_characters_passes():
    assert problems({**VALID, "compatibility": "c" * 500}) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("author: me", "metadata: must be a mapping of strings to strings (found str)"),
        ({"version": 1.0}, "metadata: values must be strings (found number for 'version')"),
        ({"tags": ["a"]}, "metadata: values must be strings (found list for 'tags')"),
        ({1: "one"}, "metadata: keys must be strings (found number 1)"),
    ],
)
def test_metadata_must_map_strings_to_strings(value, message):
    assert problems({**VALID, "metadata": value}) == [("metadata", message, "warning")]


def test_allowed_tools_must_be_a_space_separated_string():
    assert problems({**VALID, "allowed-tools": ["Read", "Bash"]}) == [
        ("allowed-tools", "allowed-tools: must be a space-separated string (found list)", "warning")
    ]


def test_license_must_be_a_string():
    assert problems({**VALID, "license": 2.0}) == [
        ("license", "license: must be a string (found number)", "warning")
    ]


def test_each_field_outside_the_spec_is_a_warning_listing_the_allowed_ones():
    found = problems({**VALID, "version": "1", "tags": "a"})
    assert [(field, severity) for field, _, severity in found] == [
        ("version", "warning"),
        ("tags", "warning"),
    ]
    assert (
        found[0][1] == f"version: is not a field of the spec (allowed: {', '.join(ALLOWED_FIELDS)})"
    )


def test_validate_skill_accepts_a_folder_or_its_skill_md(tmp_path):
    folder = write_skill(tmp_path / "pdf", "name: pdf\ndescription: Reads PDFs.\n")
    assert validate_skill(folder) == []
    assert validate_skill(folder / "SKILL.md") == []


def test_validate_skill_is_strict_and_reports_warnings_and_errors_together(tmp_path):
    folder = write_skill(tmp_path / "pdf", "name: PDF\nextra: 1\n")
    found = {(d.field, d.severity) for d in validate_skill(folder)}
    assert found == {
        ("name", "warning"),
        ("description", "error"),
        ("extra", "warning"),
    }


def test_a_folder_without_skill_md_is_a_diagnostic(tmp_path):
    (tmp_path / "empty").mkdir()
    [diagnostic] = validate_skill(tmp_path / "empty")
    assert diagnostic.field == "SKILL.md"
    assert diagnostic.severity == "error"
    assert diagnostic.path == tmp_path / "empty" / "SKILL.md"


def test_unparseable_frontmatter_is_an_error_diagnostic(tmp_path):
    folder = write_skill(tmp_path / "pdf", "name: [pdf\n")
    [diagnostic] = validate_skill(folder)
    assert (diagnostic.field, diagnostic.severity) == ("frontmatter", "error")


def test_a_skill_archive_is_reported_at_its_own_path_not_where_it_unpacked(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    archive = tmp_path / "upload.skill"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pdf/SKILL.md", "---\nname: pdf-tools\ndescription: Reads PDFs.\n---\n")
        zf.writestr("pdf/scripts/fill.py", "print(1)\n")
    [diagnostic] = validate_skill(archive)
    assert diagnostic.path == archive / "pdf" / "SKILL.md"
    assert diagnostic.problem == "must match its folder name 'pdf' (found 'pdf-tools')"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conjure-skills", "upload.skill"]


def test_a_skill_archive_without_skill_md_is_reported_at_its_own_path(tmp_path, monkeypatch):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    archive = tmp_path / "upload.skill"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pdf/README.md", "# PDF\n")
    [diagnostic] = validate_skill(archive)
    assert (diagnostic.path, diagnostic.field, diagnostic.problem) == (
        archive / "pdf" / "SKILL.md",
        "SKILL.md",
        "is missing from the skill folder",
    )


def test_validating_a_missing_path_raises(tmp_path):
    with pytest.raises(SkillError, match="no such file or folder"):
        validate_skill(tmp_path / "nowhere")


def test_validating_a_file_that_is_not_a_skill_raises(tmp_path):
    (tmp_path / "README.md").write_text("# hi\n")
    with pytest.raises(SkillError, match=r"not a skill folder, SKILL\.md or \.skill archive"):
        validate_skill(tmp_path / "README.md")


def test_the_strict_validator_finds_exactly_two_violations_in_anthropics_skills():
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpus is absent: {CORPUS} holds the anthropics/skills snapshot")
    found = [d for folder in sorted(CORPUS.iterdir()) for d in validate_skill(folder)]
    assert {(d.path.parent.name, d.field) for d in found} == {
        ("template", "name"),
        ("claude-api", "description"),
    }
    assert sorted(f"{d.field}: {d.problem}" for d in found) == [
        "description: must be at most 1024 characters (found 1068); loading cuts it to 1024",
        "name: must match its folder name 'template' (found 'template-skill')",
    ]
