"""The Skill value: lazy body and resources, archives unpacked at load, the content hash."""

from __future__ import annotations

import hashlib
import os
import shutil
import tracemalloc
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from conjure_kernel.errors import SkillError
from conjure_kernel.skills.discovery import load_skill


@pytest.fixture
def temp_folder(tmp_path, monkeypatch) -> Path:
    """The temp folder archives unpack under: empty until something unpacks."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(folder))
    return folder


@pytest.fixture
def zip_reads(monkeypatch) -> Counter[str]:
    """How many times each archive entry has been opened for reading."""
    reads: Counter[str] = Counter()
    original = zipfile.ZipFile.open

    def counting(self, name, mode="r", *args, **kwargs):
        if mode == "r":
            reads[getattr(name, "filename", name)] += 1
        return original(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", counting)
    return reads


def make(tmp_path, body: str = "Do the thing.\n"):
    folder = tmp_path / "hasher"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: hasher\ndescription: Hashes things.\n---\n{body}")
    (folder / "scripts" / "run.py").write_text("print('v1')\n")
    return load_skill(folder)


def pack(folder: Path, archive: Path) -> Path:
    """``folder`` as a ``.skill`` archive, its files under ``<folder name>/``."""
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder.parent).as_posix())
    return archive


def test_resources_list_every_file_but_skill_md(tmp_path):
    skill = make(tmp_path)
    assert [p.as_posix() for p in skill.resources()] == ["scripts/run.py"]


def test_content_hash_is_stable_and_changes_with_any_file(tmp_path):
    skill = make(tmp_path)
    first = skill.content_hash()
    assert skill.content_hash() == first
    script = skill.root / "scripts" / "run.py"
    script.write_text("print('v2')\n")
    changed = skill.content_hash()
    assert changed != first
    (skill.root / "notes.txt").write_text("new file\n")
    assert skill.content_hash() not in (first, changed)


def test_content_hash_sees_an_edit_that_keeps_size_and_mtime_apart(tmp_path):
    skill = make(tmp_path)
    script = skill.root / "scripts" / "run.py"
    before = skill.content_hash()
    stat = script.stat()
    script.write_text("print('v9')\n")  # same size
    os.utime(script, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert skill.content_hash() != before


def test_content_hash_matches_a_fresh_load_of_the_same_folder(tmp_path):
    skill = make(tmp_path)
    skill.content_hash()
    (skill.root / "scripts" / "run.py").write_text("print('other')\n")
    assert skill.content_hash() == load_skill(skill.root).content_hash()


def test_hashing_a_large_file_holds_a_chunk_at_a_time_and_keeps_the_recorded_digest(tmp_path):
    """Saved notebooks carry the digest: path, NUL, bytes, NUL for each file in order."""
    skill = make(tmp_path)
    size = 16 * 2**20
    (skill.root / "data.bin").write_bytes(bytes(range(256)) * (size // 256))
    expected = hashlib.sha256(
        b"".join(
            name.encode() + b"\0" + (skill.root / name).read_bytes() + b"\0"
            for name in ("SKILL.md", "data.bin", "scripts/run.py")
        )
    ).hexdigest()
    tracemalloc.start()
    try:
        digest = skill.content_hash()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest == expected
    assert peak < size // 16


def test_an_archive_skill_is_read_whole_once_at_load_and_never_again(
    tmp_path, temp_folder, zip_reads
):
    """Checking every entry means reading it, so loading unpacks; the zip is not read again."""
    archive = pack(make(tmp_path).root, tmp_path / "hasher.skill")
    skill = load_skill(archive)
    assert dict(zip_reads) == {"hasher/SKILL.md": 1, "hasher/scripts/run.py": 1}
    root = skill.root
    assert root.parents[1] == temp_folder / "conjure-skills" / str(os.getpid())
    assert skill.body == "Do the thing."
    assert [p.as_posix() for p in skill.resources()] == ["scripts/run.py"]
    skill.content_hash()
    assert (skill.root, skill.skill_md) == (root, root / "SKILL.md")
    assert dict(zip_reads) == {"hasher/SKILL.md": 1, "hasher/scripts/run.py": 1}
    assert (root / "scripts" / "run.py").read_text() == "print('v1')\n"


def test_two_loads_of_one_archive_share_one_unpacking(tmp_path, temp_folder, zip_reads):
    archive = pack(make(tmp_path).root, tmp_path / "hasher.skill")
    first, second = load_skill(archive), load_skill(archive)
    assert first is not second
    assert first.root == second.root
    assert zip_reads["hasher/scripts/run.py"] == 1
    assert len(list((temp_folder / "conjure-skills" / str(os.getpid())).iterdir())) == 1


def test_an_archive_skill_hashes_like_the_same_skill_as_a_folder(tmp_path, temp_folder):
    folder_skill = make(tmp_path)
    archive_skill = load_skill(pack(folder_skill.root, tmp_path / "hasher.skill"))
    assert archive_skill.content_hash() == folder_skill.content_hash()


def test_an_archive_skill_keeps_working_when_its_archive_changes_after_load(tmp_path, temp_folder):
    """What was checked at load is what the session uses: the zip is never read again."""
    archive = pack(make(tmp_path).root, tmp_path / "hasher.skill")
    skill = load_skill(archive)
    archive.write_bytes(b"not a zip any more")
    assert skill.body == "Do the thing."
    assert (skill.root / "scripts" / "run.py").read_text() == "print('v1')\n"
    assert len(skill.content_hash()) == 64


def test_a_skill_whose_folder_is_gone_says_so_in_one_line(tmp_path):
    skill = make(tmp_path)
    shutil.rmtree(skill.root)
    with pytest.raises(SkillError) as caught:
        skill.content_hash()
    assert str(caught.value) == (
        f"skill hasher: its files at {skill.root} cannot be read: No such file or directory"
    )
    assert caught.value.hint == "restore the folder, or remove the skill from the session"
