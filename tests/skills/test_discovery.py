import os
import zipfile
from pathlib import Path

import pytest

from conjure_kernel.errors import SkillError, SkillValidationError
from conjure_kernel.skills.discovery import SkillSet, find_skills, load_skill
from conjure_kernel.skills.skill import Diagnostic

CORPUS = Path(__file__).parents[2].parent / "shared" / "corpus" / "anthropic-skills"


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Unpack .skill archives under tmp_path, not the real temp folder."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))


def write_skill(folder: Path, name: str | None = None, extra: str = "", body: str = "# Body\n"):
    folder.mkdir(parents=True, exist_ok=True)
    frontmatter = f"name: {name or folder.name}\ndescription: Does {folder.name}.\n{extra}"
    (folder / "SKILL.md").write_text(f"---\n{frontmatter}---\n{body}", encoding="utf-8")
    return folder


def names(skill_set: SkillSet) -> list[str]:
    return [skill.name for skill in skill_set.skills]


def test_load_skill_reads_every_frontmatter_field(tmp_path):
    folder = write_skill(
        tmp_path / "pdf",
        extra="license: Apache-2.0\ncompatibility: Needs poppler\n"
        "metadata:\n  author: me\n  version: 1.0\nallowed-tools: Bash(git:*) Read\n",
    )
    skill = load_skill(folder)
    assert skill.root == folder
    assert skill.metadata.description == "Does pdf."
    assert skill.metadata.license == "Apache-2.0"
    assert skill.metadata.compatibility == "Needs poppler"
    assert skill.metadata.metadata == {"author": "me", "version": "1.0"}
    assert skill.metadata.allowed_tools == ("Bash(git:*)", "Read")
    assert [d.problem for d in skill.diagnostics] == [
        "values must be strings (found number for 'version')"
    ]


def test_load_skill_accepts_the_skill_md_path(tmp_path):
    folder = write_skill(tmp_path / "pdf")
    assert load_skill(folder / "SKILL.md").root == folder


def test_a_symlinked_skill_folder_is_named_by_the_link_not_its_target(tmp_path):
    target = write_skill(tmp_path / "checkout" / "pdf-skill-repo", name="pdf")
    (tmp_path / "skills").mkdir()
    (tmp_path / "skills" / "pdf").symlink_to(target)
    assert load_skill(tmp_path / "skills" / "pdf").diagnostics == ()


def test_a_skill_with_cosmetic_problems_loads_with_warnings(tmp_path):
    skill = load_skill(write_skill(tmp_path / "template", name="template-skill", extra="x: 1\n"))
    assert skill.name == "template-skill"
    assert {(d.field, d.severity) for d in skill.diagnostics} == {
        ("name", "warning"),
        ("x", "warning"),
    }


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("---\nname: pdf\n---\n", "description"),
        ("---\nname: pdf\ndescription: ''\n---\n", "description"),
        ("---\ndescription: Reads PDFs.\n---\n", "name"),
        ("---\nname: [pdf\n---\n", "frontmatter"),
        ("# no frontmatter\n", "frontmatter"),
    ],
)
def test_a_skill_without_a_usable_name_or_description_is_not_loaded(tmp_path, content, field):
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "SKILL.md").write_text(content)
    with pytest.raises(SkillValidationError) as caught:
        load_skill(tmp_path / "pdf")
    assert caught.value.field == field


def test_loading_a_missing_path_raises(tmp_path):
    with pytest.raises(SkillError, match="no such file or folder"):
        load_skill(tmp_path / "nowhere")


def test_loading_reads_only_frontmatter_so_a_body_that_is_not_utf8_still_loads(tmp_path):
    folder = tmp_path / "pdf"
    folder.mkdir()
    (folder / "SKILL.md").write_bytes(b"---\nname: pdf\ndescription: d\n---\n\xff\xfe")
    skill = load_skill(folder)
    assert skill.name == "pdf"
    with pytest.raises(UnicodeDecodeError):
        skill.body  # noqa: B018 -- the body is read here, on first access


def test_the_body_is_read_on_first_access_not_at_load(tmp_path):
    folder = write_skill(tmp_path / "pdf", body="old body\n")
    skill = load_skill(folder)
    (folder / "SKILL.md").write_text("---\nname: pdf\ndescription: d\n---\n\nnew body\n")
    assert skill.body == "new body"


def test_load_skill_reads_a_skill_archive_and_unpacks_it_for_its_body(tmp_path):
    archive = tmp_path / "pdf.skill"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pdf/SKILL.md", "---\nname: pdf\ndescription: Reads PDFs.\n---\n# PDF\n")
    skill = load_skill(archive)
    assert skill.name == "pdf"
    assert skill.body == "# PDF"
    assert skill.root.is_relative_to(tmp_path / "tmp" / "conjure-skills" / str(os.getpid()))


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def test_loading_and_finding_skill_archives_write_nothing_to_disk(tmp_path):
    for name in ("a", "b"):
        with zipfile.ZipFile(tmp_path / f"{name}.skill", "w") as zf:
            zf.writestr("pdf/SKILL.md", "---\nname: pdf\ndescription: Reads PDFs.\n---\n# PDF\n")
            zf.writestr("pdf/big.bin", bytes(2**20))
    before = files_under(tmp_path)
    skill = load_skill(tmp_path / "a.skill")
    found = find_skills([tmp_path])
    assert (skill.origin, repr(skill)) == (
        tmp_path / "a.skill" / "pdf",
        f"<Skill pdf at {tmp_path / 'a.skill' / 'pdf'}>",
    )
    [shadowed] = found.problems
    assert shadowed.problem == (
        f"'pdf' is already loaded from {tmp_path / 'a.skill' / 'pdf' / 'SKILL.md'}; skipping it"
    )
    assert files_under(tmp_path) == before


def test_an_archive_skill_loads_from_its_frontmatter_alone_however_its_body_reads(tmp_path):
    archive = tmp_path / "pdf.skill"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pdf/SKILL.md", b"---\nname: pdf\ndescription: d\n---\n\xff\xfe" * 2**16)
    assert load_skill(archive).name == "pdf"


def test_find_skills_finds_skill_md_at_any_depth_within_max_depth(tmp_path):
    write_skill(tmp_path / "a")
    write_skill(tmp_path / "team" / "docs" / "b")
    write_skill(tmp_path / "1" / "2" / "3" / "c")
    assert names(find_skills([tmp_path])) == ["c", "a", "b"]
    assert names(find_skills([tmp_path], max_depth=3)) == ["a", "b"]


def test_find_skills_skips_vcs_dependency_cache_and_hidden_folders(tmp_path):
    root = tmp_path / ".agents" / "skills"
    write_skill(root / "visible")
    for skipped in [".git", "node_modules", "__pycache__", ".hidden"]:
        write_skill(root / skipped / "inner")
    assert names(find_skills([root])) == ["visible"]


def test_folders_inside_a_skill_are_resources_not_more_skills(tmp_path):
    write_skill(tmp_path / "skill-creator")
    write_skill(tmp_path / "skill-creator" / "assets" / "example")
    assert names(find_skills([tmp_path])) == ["skill-creator"]


def test_a_root_may_itself_be_a_skill_folder_or_a_skill_md(tmp_path):
    folder = write_skill(tmp_path / "pdf")
    assert names(find_skills([folder])) == ["pdf"]
    assert names(find_skills([folder / "SKILL.md"])) == ["pdf"]


def test_find_skills_loads_skill_archives(tmp_path):
    with zipfile.ZipFile(tmp_path / "pdf.skill", "w") as zf:
        zf.writestr("pdf/SKILL.md", "---\nname: pdf\ndescription: Reads PDFs.\n---\n")
    assert names(find_skills([tmp_path])) == ["pdf"]


def test_an_unsafe_archive_is_reported_and_the_other_skills_still_load(tmp_path):
    write_skill(tmp_path / "ok")
    with zipfile.ZipFile(tmp_path / "evil.skill", "w") as zf:
        zf.writestr("evil/../../x", "x")
    found = find_skills([tmp_path])
    assert names(found) == ["ok"]
    [problem] = found.problems
    assert (problem.path, problem.field, problem.severity) == (
        tmp_path / "evil.skill",
        "archive",
        "error",
    )


def test_skipped_skills_are_errors_and_loaded_skills_keep_their_warnings(tmp_path):
    write_skill(tmp_path / "good")
    write_skill(tmp_path / "template", name="template-skill")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "SKILL.md").write_text("---\nname: broken\n---\n")
    found = find_skills([tmp_path])
    assert names(found) == ["good", "template-skill"]
    assert [(d.path.parent.name, d.field, d.severity) for d in found.problems] == [
        ("broken", "description", "error"),
        ("template", "name", "warning"),
    ]


def test_on_a_name_collision_the_first_found_wins_and_a_warning_names_both(tmp_path):
    first = write_skill(tmp_path / "project" / "pdf")
    second = write_skill(tmp_path / "user" / "pdf")
    found = find_skills([tmp_path / "project", tmp_path / "user"])
    assert [skill.root for skill in found.skills] == [first]
    assert found.problems == [
        Diagnostic(
            second / "SKILL.md",
            "name",
            f"'pdf' is already loaded from {first / 'SKILL.md'}; skipping it",
            "warning",
        )
    ]


def test_a_path_that_does_not_exist_raises(tmp_path):
    with pytest.raises(SkillError, match=r"nowhere: no such file or folder"):
        find_skills([tmp_path / "nowhere"])


def test_a_thousand_skills_load_without_reading_their_bodies(tmp_path):
    """Progressive disclosure at scale; the speed itself is measured in benchmarks/run.py."""
    for index in range(1000):
        write_skill(tmp_path / f"skill-{index:04d}", body="# Instructions\n" * 2000)
    found = find_skills([tmp_path])
    assert len(found.skills) == 1000
    assert found.problems == []
    assert not any("body" in skill.__dict__ for skill in found.skills)
    assert found.skills[0].body.startswith("# Instructions")


def test_every_skill_in_anthropics_corpus_loads(tmp_path):
    if not CORPUS.is_dir():
        pytest.skip(f"../shared/corpus is absent: {CORPUS} holds the anthropics/skills snapshot")
    found = find_skills([CORPUS])
    assert sorted(skill.root.name for skill in found.skills) == sorted(
        folder.name for folder in CORPUS.iterdir() if (folder / "SKILL.md").is_file()
    )
    assert {d.severity for d in found.problems} == {"warning"}


def test_directory_symlink_loops_are_entered_once(tmp_path, monkeypatch):
    """Links back up the tree made the walk grow with links^depth; now each folder counts once."""
    root = tmp_path / "skills"
    write_skill(root / "real" / "pdf")
    for i in range(6):
        (root / "real" / f"loop{i}").symlink_to(root, target_is_directory=True)
    scanned: list[str] = []
    real_scandir = __import__("os").scandir

    def counting_scandir(path):
        scanned.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr("conjure_kernel.skills.discovery.os.scandir", counting_scandir)
    assert names(find_skills([root])) == ["pdf"]
    assert len(scanned) <= 3  # skills/, skills/real/, skills/real/pdf/
