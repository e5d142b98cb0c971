import hashlib
import os
import stat
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest

from conjure_kernel.errors import SkillError
from conjure_kernel.skills.archive import default_cache_dir, extract_skill_archive
from conjure_kernel.skills.discovery import load_skill

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


def test_the_default_destination_is_this_process_folder_then_the_archive_sha256(tmp_path):
    archive = make_zip(tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD})
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    root = extract_skill_archive(archive)
    assert root == tmp_path / "tmp" / "conjure-skills" / str(os.getpid()) / digest / "pdf"
    assert default_cache_dir(archive) == root.parent
    assert stat.S_IMODE(root.parents[1].stat().st_mode) == 0o700


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


def test_a_linked_skill_cache_is_refused_and_nothing_it_points_to_is_swept(tmp_path):
    """The sweep removes pid-named folders, so a link planted at the cache's name must not
    lead it into someone's files."""
    archive = make_zip(tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD})
    (tmp_path / "photos" / "2019").mkdir(parents=True)
    (tmp_path / "tmp" / "conjure-skills").symlink_to(tmp_path / "photos")
    with pytest.raises(SkillError, match="is not a folder"):
        extract_skill_archive(archive)
    assert [p.name for p in (tmp_path / "photos").iterdir()] == ["2019"]


def finished_pid() -> int:
    """The pid of a process that has exited and been reaped: no process has it now."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_unpacking_first_sweeps_the_folders_of_processes_that_are_gone(tmp_path):
    shared = tmp_path / "tmp" / "conjure-skills"
    dead = shared / str(finished_pid())
    alive = shared / str(os.getppid())
    same_pid_earlier = shared / str(os.getpid())  # left by a gone process that had this pid
    not_a_pid = shared / "notes"
    for folder in (dead, alive, same_pid_earlier, not_a_pid):
        (folder / "abc" / "pdf").mkdir(parents=True)
        (folder / "abc" / "pdf" / "SKILL.md").write_text("left behind")
    archive = make_zip(tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD})
    root = extract_skill_archive(archive)
    assert not dead.exists()
    assert not (same_pid_earlier / "abc").exists()
    assert root.is_relative_to(same_pid_earlier)
    assert (alive / "abc" / "pdf" / "SKILL.md").read_text() == "left behind"
    assert (not_a_pid / "abc" / "pdf" / "SKILL.md").read_text() == "left behind"


CHILD = """
import os, sys
from conjure_kernel.skills.discovery import load_skill

skill = load_skill(sys.argv[1])
print(skill.root, flush=True)
forked = os.fork()
if forked == 0:
    sys.exit(0)  # a forked child runs the exit handlers too
os.waitpid(forked, 0)
print(skill.root.is_dir(), flush=True)
"""


def test_a_process_removes_its_unpack_folder_at_exit_and_no_other(tmp_path):
    archive = make_zip(
        tmp_path / "pdf.skill", {"pdf/SKILL.md": SKILL_MD, "pdf/scripts/fill.py": "print(1)\n"}
    )
    ours = extract_skill_archive(archive)  # this process uses the same archive meanwhile
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(archive)],
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
        capture_output=True,
        text=True,
        check=True,
    )
    theirs, alive_after_fork = done.stdout.splitlines()
    their_folder = Path(theirs).parents[1]
    assert their_folder.parent == tmp_path / "tmp" / "conjure-skills"
    assert their_folder.name.isdigit() and their_folder.name != str(os.getpid())
    assert alive_after_fork == "True"  # the forked child left its parent's folder alone
    assert not their_folder.exists()
    assert (ours / "scripts" / "fill.py").read_text() == "print(1)\n"


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


PAYLOAD = b"print('the whole script')\n" * 40


def lying_zip(path: Path, compression: int = zipfile.ZIP_DEFLATED, **lie: int) -> Path:
    """A skill archive whose directory misstates ``pdf/run.py`` (``file_size``,
    ``compress_size``, ``CRC``, ``flag_bits``): zipfile writes the central directory when
    it closes, from these values, so changing them after the data is written makes it lie."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("pdf/SKILL.md", SKILL_MD)
        archive.writestr("pdf/run.py", PAYLOAD)
        info = archive.getinfo("pdf/run.py")
        for field, value in lie.items():
            setattr(info, field, value)
    return path


MORE = "decompresses to more than the 100 bytes the archive's directory declares"


@pytest.mark.parametrize(
    ("compression", "lie", "problem"),
    [
        (zipfile.ZIP_DEFLATED, {"file_size": 100}, MORE),
        (zipfile.ZIP_STORED, {"file_size": 100}, MORE),
        # a CRC made to match the cut data: zipfile alone would quietly cut the file
        (zipfile.ZIP_DEFLATED, {"file_size": 100, "CRC": zlib.crc32(PAYLOAD[:100])}, MORE),
        (
            zipfile.ZIP_STORED,
            {"file_size": 100, "compress_size": 100},
            "fails its CRC-32 check: the archive is corrupt",
        ),
        (
            zipfile.ZIP_DEFLATED,
            {"file_size": 5000},
            f"decompresses to {len(PAYLOAD):,} bytes, not the 5,000 the archive's directory declares",
        ),
        (zipfile.ZIP_DEFLATED, {"CRC": 1234}, "fails its CRC-32 check: the archive is corrupt"),
    ],
)
def test_an_entry_whose_data_belies_the_directory_rejects_the_archive_whole(
    tmp_path, compression, lie, problem
):
    """zipfile trusts the directory's size: an understated one loaded, and then every read
    of the file failed its CRC check, turn after turn, until the kernel restarted."""
    archive = lying_zip(tmp_path / "pdf.skill", compression, **lie)
    with pytest.raises(SkillError) as caught:
        extract_skill_archive(archive, tmp_path / "out")
    assert str(caught.value) == f"{archive}: refusing archive entry 'pdf/run.py': {problem}"
    assert list((tmp_path / "out").iterdir()) == []  # nothing half-unpacked is left


def test_a_lying_archive_is_refused_at_load_so_nothing_fails_later(tmp_path):
    archive = lying_zip(tmp_path / "pdf.skill", file_size=100)
    with pytest.raises(SkillError, match=r"refusing archive entry 'pdf/run\.py': decompresses"):
        load_skill(archive)


def test_a_bomb_that_understates_its_sizes_stops_one_byte_past_the_declared_size(tmp_path):
    """The directory's total passes the cap; what the entry really holds never gets written."""
    bomb = tmp_path / "bomb.skill"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/SKILL.md", "---\nname: bomb\ndescription: Boom.\n---\n")
        archive.writestr("bomb/zeros.bin", b"\0" * (100 * 2**20))
        archive.getinfo("bomb/zeros.bin").file_size = 1000
    dest = tmp_path / "out"
    with pytest.raises(
        SkillError, match=r"'bomb/zeros\.bin': decompresses to more than the 1,000 "
    ):
        extract_skill_archive(bomb, dest)
    assert list(dest.iterdir()) == []


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (["pdf/SKILL.md", "pdf/a.py", "pdf/a.py"], "'pdf/a.py': appears twice"),
        (["pdf/SKILL.md", "pdf/a", "pdf/a/b.py"], "'pdf/a': is both a file and a folder"),
    ],
)
def test_entries_that_would_overwrite_each_other_reject_the_archive(tmp_path, entries, problem):
    archive = tmp_path / "pdf.skill"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in entries:
            zf.writestr(name, SKILL_MD)
    with pytest.raises(SkillError, match=f"refusing archive entry {problem}"):
        extract_skill_archive(archive, tmp_path / "out")


def test_an_encrypted_entry_rejects_the_archive(tmp_path):
    archive = lying_zip(tmp_path / "pdf.skill", flag_bits=0x1)
    with pytest.raises(SkillError, match=r"refusing archive entry 'pdf/run\.py': encrypted$"):
        extract_skill_archive(archive, tmp_path / "out")
