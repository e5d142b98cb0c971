"""The Skill value: lazy body and resources, and the content hash that versions a recording."""

from __future__ import annotations

import os

from conjure_kernel.skills.discovery import load_skill


def make(tmp_path, body: str = "Do the thing.\n"):
    folder = tmp_path / "hasher"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: hasher\ndescription: Hashes things.\n---\n{body}")
    (folder / "scripts" / "run.py").write_text("print('v1')\n")
    return load_skill(folder)


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
