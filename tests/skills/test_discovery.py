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


def test_archive_skills_are_named_by_their_archive_and_unpack_only_into_the_process_folder(
    tmp_path,
):
    skills = tmp_path / "skills"
    skills.mkdir()
    for name in ("a", "b"):
        with zipfile.ZipFile(skills / f"{name}.skill", "w") as zf:
            zf.writestr("pdf/SKILL.md", "---\nname: pdf\ndescription: Reads PDFs.\n---\n# PDF\n")
            zf.writestr("pdf/big.bin", bytes(2**20))
    before = files_under(skills)
    skill = load_skill(skills / "a.skill")
    found = find_skills([skills])
    assert (skill.origin, repr(skill)) == (
        skills / "a.skill" / "pdf",
        f"<Skill pdf at {skills / 'a.skill' / 'pdf'}>",
    )
    [shadowed] = found.problems
    assert shadowed.problem == (
        f"'pdf' is already loaded from {skills / 'a.skill' / 'pdf' / 'SKILL.md'}; skipping it"
    )
    assert files_under(skills) == before
    unpacked = tmp_path / "tmp" / "conjure-skills" / str(os.getpid())
    assert skill.root.is_relative_to(unpacked)
    assert (skill.root / "big.bin").stat().st_size == 2**20


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
    assert (
        str(problem)
        == f"{tmp_path / 'evil.skill'}: refusing archive entry 'evil/../../x': '..' in path"
    )
    assert problem.severity == "error"


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


def test_a_path_that_does_not_exist_is_an_error_and_the_other_paths_still_load(tmp_path):
    write_skill(tmp_path / "skills" / "pdf")
    found = find_skills([tmp_path / "nowhere", tmp_path / "skills"])
    assert names(found) == ["pdf"]
    assert [(str(p), p.severity) for p in found.problems] == [
        (f"{tmp_path / 'nowhere'}: no such file or folder", "error")
    ]


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


def test_symbolic_link_loops_are_one_warning_each_and_the_other_skills_still_load(tmp_path):
    """Each used to end the whole search in an OSError traceback."""
    root = tmp_path / "skills"
    write_skill(root / "good")
    (root / "self").symlink_to("self")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    (root / "nested").mkdir()
    (root / "nested" / "up").symlink_to("..")
    (root / "moved").symlink_to(tmp_path / "gone")
    (root / ".#notes.md").symlink_to("someone@host.1234")  # an editor's lock: not reported
    (root / ".hidden-loop").symlink_to(".hidden-loop")  # hidden: never searched
    for index in range(45):  # longer than the 40 links the kernel follows
        (root / f"chain{index:02d}").symlink_to(f"chain{index + 1:02d}")
    (root / "chain45").symlink_to("good")
    found = find_skills([root])
    assert names(found) == ["good"]
    assert {problem.severity for problem in found.problems} == {"warning"}
    shown = [str(problem).removeprefix(f"{root}/") for problem in found.problems]
    assert shown[:5] == [
        "chain00: is too long a chain of symbolic links "
        "(chain00 -> chain01 -> chain02 -> chain03 -> chain04 -> …); skipped",
        "chain01: is too long a chain of symbolic links "
        "(chain01 -> chain02 -> chain03 -> chain04 -> chain05 -> …); skipped",
        "chain02: is too long a chain of symbolic links "
        "(chain02 -> chain03 -> chain04 -> chain05 -> chain06 -> …); skipped",
        "chain03: is too long a chain of symbolic links "
        "(chain03 -> chain04 -> chain05 -> chain06 -> chain07 -> …); skipped",
        "chain04: is too long a chain of symbolic links "
        "(chain04 -> chain05 -> chain06 -> chain07 -> chain08 -> …); skipped",
    ]
    assert [line for line in shown if not line.startswith("chain")] == [
        f"moved: is a symbolic link to nothing (moved -> {tmp_path / 'gone'}); skipped",
        f"nested/up: is a symbolic link that leads back to {root}, which is being searched; "
        "not followed",
        "ping: is a symbolic link loop (ping -> pong -> ping); skipped",
        "pong: is a symbolic link loop (pong -> ping -> pong); skipped",
        "self: is a symbolic link loop (self -> self); skipped",
    ]


def test_a_skills_path_that_is_itself_a_loop_is_one_error(tmp_path):
    (tmp_path / "skills").symlink_to("skills")
    write_skill(tmp_path / "other" / "pdf")
    found = find_skills([tmp_path / "skills", tmp_path / "other"])
    assert names(found) == ["pdf"]
    assert [(str(p), p.severity) for p in found.problems] == [
        (f"{tmp_path / 'skills'}: is a symbolic link loop (skills -> skills)", "error")
    ]
    with pytest.raises(SkillError, match=r"skills: is a symbolic link loop \(skills -> skills\)$"):
        load_skill(tmp_path / "skills")


def test_a_skill_md_that_is_a_link_loop_skips_its_skill_with_one_error(tmp_path):
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "SKILL.md").symlink_to("SKILL.md")
    write_skill(tmp_path / "xlsx")
    found = find_skills([tmp_path])
    assert names(found) == ["xlsx"]
    assert [(str(p), p.severity) for p in found.problems] == [
        (
            f"{tmp_path / 'pdf' / 'SKILL.md'}: is a symbolic link loop (SKILL.md -> SKILL.md)",
            "error",
        )
    ]


def test_a_description_over_1024_characters_is_cut_at_load_and_says_so(tmp_path):
    """Every request carries the catalog: 5 MB of description was 1.25M tokens a turn."""
    description = "Reads PDFs. " + "x" * (5 * 2**20)
    folder = tmp_path / "pdf"
    folder.mkdir()
    (folder / "SKILL.md").write_text(f"---\nname: pdf\ndescription: {description}\n---\nBody\n")
    found = find_skills([tmp_path])
    [skill] = found.skills
    assert skill.description == description[:1023] + "…"
    assert [(str(p), p.severity) for p in found.problems] == [
        (
            f"{folder / 'SKILL.md'}: description: must be at most 1024 characters "
            f"(found {len(description)}); loading cuts it to 1024",
            "warning",
        )
    ]


@pytest.mark.parametrize(
    ("name", "shown"),
    [("a" * 5000, "5,000 characters"), ("pdf/../x", "'pdf/../x'"), ("..", "'..'")],
)
def test_a_name_that_cannot_be_a_folder_name_skips_the_skill(tmp_path, name, shown):
    """The spec has the name match the folder's; a lenient load still needs a usable one
    (backends mount a skill at a folder named after it)."""
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "SKILL.md").write_text(f"---\nname: '{name}'\ndescription: d\n---\n")
    found = find_skills([tmp_path])
    assert found.skills == []
    assert [str(p) for p in found.problems] == [
        f"{tmp_path / 'pdf' / 'SKILL.md'}: name: cannot match any folder name, "
        f"as the spec requires (found {shown})"
    ]


def test_metadata_that_is_not_text_is_dropped_and_never_printed(tmp_path):
    """YAML aliases make a list of a million items from a few lines; printed, it would be
    megabytes held by the skill (and shown wherever its metadata is)."""
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for previous, current in zip("abcde", "bcdef", strict=True):
        lines.append(f"{current}: &{current} [" + ", ".join([f"*{previous}"] * 10) + "]")
    anchors = "\n".join(f"  {line}" for line in lines)
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "SKILL.md").write_text(
        f"---\nname: pdf\ndescription: d\nmetadata:\n{anchors}\n  version: 2\n---\n"
    )
    skill = load_skill(tmp_path / "pdf")
    assert skill.metadata.metadata == {"version": "2"}
    assert len(skill.diagnostics) == 7  # six lists, and a number for a string
    assert all(len(str(d)) < 200 for d in skill.diagnostics)


def test_an_integer_too_long_for_python_is_a_frontmatter_error(tmp_path):
    (tmp_path / "pdf").mkdir()
    (tmp_path / "pdf" / "SKILL.md").write_text(
        f"---\nname: pdf\ndescription: d\nmetadata:\n  v: {'9' * 5000}\n---\n"
    )
    found = find_skills([tmp_path])
    assert found.skills == []
    assert [str(p) for p in found.problems] == [
        f"{tmp_path / 'pdf' / 'SKILL.md'}: frontmatter: cannot be read: "
        "Exceeds the limit (4300 digits) for integer string conversion"
    ]
