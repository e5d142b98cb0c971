import hashlib
import stat
import zipfile
from pathlib import Path

import pytest

from conjure_kernel.errors import SkillError
from conjure_kernel.skills.archive import default_cache_dir, extract_skill_archive

SKILL_MD = "---\nname: pdf\ndescription: Reads PDFs.\n---\n# PDF\n"


@pytest.fixture(autouse=True)
def private_tempdir(tmp_path, monkeypatch):
    """Keep the default cache out of the real temp folder."""
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "tmp"))


def make_zip(path: Path, entries: dict[str, str], mode: int = 0o644) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | mode) << 16
            archive.writestr(info, content)
    return path


def make_special_zip(path: Path, name: str, file_type: int) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pdf/SKILL.md", SKILL_MD)
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (file_type | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    return path


def test_extraction_keeps_the_top_folder_and_returns_it(tmp_path):
    archive = make_zip(
        tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD, "pdf/scripts/fill.py": "print(1)\n"}
    )
    root = extract_skill_archive(archive, tmp_path / "out")
    assert root == tmp_path / "out" / "pdf"
    assert (root / "SKILL.md").read_text() == SKILL_MD
    assert (root / "scripts" / "fill.py").read_text() == "print(1)\n"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["pdf"]  # no staging left behind


def test_the_default_destination_is_a_cache_folder_named_by_the_archive_sha256(tmp_path):
    archive = make_zip(tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD})
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    root = extract_skill_archive(archive)
    assert root == tmp_path / "tmp" / "conjure-skills" / digest / "pdf"
    assert default_cache_dir(archive) == root.parent


def test_an_existing_extraction_is_reused(tmp_path):
    archive = make_zip(tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD})
    root = extract_skill_archive(archive)
    (root / "marker").write_text("kept")
    assert extract_skill_archive(archive) == root
    assert (root / "marker").read_text() == "kept"


def test_a_cache_folder_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    archive = make_zip(tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD})
    (tmp_path / "tmp" / "conjure-skills").mkdir()
    monkeypatch.setattr("os.getuid", lambda: (tmp_path / "tmp").stat().st_uid + 1)
    with pytest.raises(SkillError, match="the skill cache belongs to another user"):
        extract_skill_archive(archive)


def test_executable_bits_survive_but_setuid_and_write_bits_do_not(tmp_path):
    archive = make_zip(
        tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD, "pdf/run.sh": "#!/bin/sh\n"}, 0o4777
    )
    root = extract_skill_archive(archive, tmp_path / "out")
    assert stat.S_IMODE((root / "run.sh").stat().st_mode) == 0o755


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("/etc/evil", "absolute path"),
        ("\\evil", "absolute path"),
        ("pdf/../../evil", "'..' in path"),
        ("../evil", "'..' in path"),
        ("C:/evil", "drive letter"),
        ("C:\\evil", "drive letter"),
        ("README.md", "file outside the skill's top-level folder"),
    ],
)
def test_entries_that_could_escape_the_skill_folder_reject_the_archive(tmp_path, entry, problem):
    archive = make_zip(tmp_path / "bad.skill", {"pdf/SKILL.md": SKILL_MD, entry: "x"})
    with pytest.raises(SkillError) as caught:
        extract_skill_archive(archive, tmp_path / "out")
    assert str(caught.value) == f"{archive}: refusing archive entry {entry!r}: {problem}"
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "evil").exists()


def test_a_second_top_level_folder_rejects_the_archive(tmp_path):
    archive = make_zip(tmp_path / "two.skill", {"pdf/SKILL.md": SKILL_MD, "xlsx/SKILL.md": "x"})
    with pytest.raises(SkillError, match=r"exactly one top-level folder \(found pdf, xlsx\)"):
        extract_skill_archive(archive, tmp_path / "out")


def test_an_empty_archive_is_rejected(tmp_path):
    archive = make_zip(tmp_path / "empty.skill", {})
    with pytest.raises(SkillError, match=r"exactly one top-level folder \(found nothing\)"):
        extract_skill_archive(archive, tmp_path / "out")


@pytest.mark.parametrize(
    ("file_type", "problem"), [(stat.S_IFLNK, "symbolic link"), (stat.S_IFIFO, "special file")]
)
def test_symlinks_and_special_files_reject_the_archive(tmp_path, file_type, problem):
    archive = make_special_zip(tmp_path / "link.skill", "pdf/passwd", file_type)
    with pytest.raises(SkillError, match=f"refusing archive entry 'pdf/passwd': {problem}"):
        extract_skill_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_a_zip_is_a_skill_error(tmp_path):
    archive = tmp_path / "fake.skill"
    archive.write_text("not a zip")
    with pytest.raises(SkillError, match="cannot unpack the skill archive"):
        extract_skill_archive(archive, tmp_path / "out")


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path):
    """A small archive that would unpack to 100 MB of zeros is rejected whole."""
    bomb = tmp_path / "bomb.skill"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/SKILL.md", "---\nname: bomb\ndescription: Boom.\n---\n")
        archive.writestr("bomb/zeros.bin", b"\0" * (100 * 2**20))
    assert bomb.stat().st_size < 2**20
    dest = tmp_path / "out"
    with pytest.raises(SkillError, match=r"would unpack to 100 MB; at most 64 MB"):
        extract_skill_archive(bomb, dest)
    assert not dest.exists()


def test_an_archive_with_too_many_entries_is_refused(tmp_path):
    entries = {f"many/f{i}.txt": "" for i in range(5_001)}
    entries["many/SKILL.md"] = "---\nname: many\ndescription: Many files.\n---\n"
    with pytest.raises(SkillError, match="holds 5,002 entries; at most 5,000"):
        extract_skill_archive(make_zip(tmp_path / "many.skill", entries), tmp_path / "out")
