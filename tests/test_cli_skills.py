"""``python -m conjure_kernel skills validate|list|upload|delete`` as a person types it: the
remote commands against the fake API, ``validate`` on bad inputs, one line per problem."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeapi import FakeMessagesAPI


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


def run(api: FakeMessagesAPI, tmp_path: Path, *args: str, key: str | None = "test-key"):
    env = {name: value for name, value in os.environ.items() if not name.startswith("ANTHROPIC_")}
    env.update(
        ANTHROPIC_BASE_URL=api.url,
        JUPYTER_DATA_DIR=str(tmp_path / "jupyter"),
        HOME=str(tmp_path / "home"),
    )
    if key:
        env["ANTHROPIC_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "conjure_kernel", "skills", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def make_skill(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: Does {name}.\n---\nBody\n")
    return folder


def test_upload_once_then_unchanged_then_list_and_delete(api, tmp_path):
    folder = make_skill(tmp_path, "greeter")
    uploaded = run(api, tmp_path, "upload", str(folder))
    assert uploaded.returncode == 0, uploaded.stderr
    (skill,) = api.hosted.custom_skills()
    assert uploaded.stdout == (
        f"skill greeter uploaded to Anthropic ({skill['id']}, version {skill['latest_version_id']})\n"
    )
    again = run(api, tmp_path, "upload", str(folder / "SKILL.md"))
    assert again.stdout.startswith("skill greeter unchanged since its upload")
    assert len(api.requests_to("POST", "/v1/skills")) == 1

    listing = run(api, tmp_path, "list").stdout.splitlines()
    assert any(
        line.startswith(f"{skill['id']}  custom  greeter  (latest skillver_") for line in listing
    )
    assert any(line.startswith("anthropic:xlsx  anthropic  Excel") for line in listing)
    assert run(api, tmp_path, "list", "--source", "anthropic").stdout.count("anthropic:") == 4

    deleted = run(api, tmp_path, "delete", skill["id"])
    assert deleted.stdout == f"deleted skill {skill['id']} and its 1 version(s)\n"
    assert api.hosted.custom_skills() == []
    assert run(api, tmp_path, "list", "--source", "custom").stdout == (
        "no custom skills on Anthropic's side for this key\n"
    )


def test_a_skill_the_server_would_refuse_is_named_and_the_others_still_upload(api, tmp_path):
    bad = make_skill(tmp_path, "claude-tools")
    good = make_skill(tmp_path, "greeter")
    done = run(api, tmp_path, "upload", str(bad), str(good))
    assert done.returncode == 1
    assert done.stderr.startswith("error: skill claude-tools cannot be uploaded to Anthropic: ")
    assert "must not contain 'claude'" in done.stderr and "\nhint: " in done.stderr
    assert done.stdout.startswith("skill greeter uploaded to Anthropic")
    assert [s["display_name"] for s in api.hosted.custom_skills()] == ["greeter"]


def test_without_a_key_each_command_says_so_in_two_lines(api, tmp_path):
    done = run(api, tmp_path, "list", key=None)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == "error: no Anthropic API key is set"
    assert done.stderr.splitlines()[1].startswith("hint: set ANTHROPIC_API_KEY")
    assert api.requests == []


def test_deleting_an_unknown_skill_names_the_api_and_the_status(api, tmp_path):
    done = run(api, tmp_path, "delete", "skill_nope")
    assert done.returncode == 1
    assert done.stderr.startswith("error: the Skills API answered 404 not_found_error")
    assert "hint: check the id" in done.stderr


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "conjure_kernel", "skills", "validate", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_validate_reports_each_symbolic_link_loop_in_one_line_and_checks_the_rest(tmp_path):
    """It used to stop at the first loop with an 18-line traceback."""
    root = tmp_path / "skills"
    make_skill(root, "greeter")
    (root / "self").symlink_to("self")
    (root / "ping").symlink_to("pong")
    (root / "pong").symlink_to("ping")
    (root / "greeter" / "loop").symlink_to("..")  # inside a skill: its files are not searched
    (root / "nested").mkdir()
    (root / "nested" / "up").symlink_to("..")
    done = validate(root, tmp_path / "self-root")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{root}/greeter/SKILL.md: valid",
        f"{root}/nested/up: is a symbolic link that leads back to {root}, which is being "
        "searched; not followed",
        f"{root}/ping: is a symbolic link loop (ping -> pong -> ping); skipped",
        f"{root}/pong: is a symbolic link loop (pong -> ping -> pong); skipped",
        f"{root}/self: is a symbolic link loop (self -> self); skipped",
    ]
    assert done.stderr == f"{tmp_path / 'self-root'}: no such file or folder\n"
    (tmp_path / "self-root").symlink_to("self-root")
    looped = validate(tmp_path / "self-root")
    assert looped.stderr == (
        f"{tmp_path / 'self-root'}: is a symbolic link loop (self-root -> self-root)\n"
    )


def test_validate_reports_a_lying_archive_in_one_line_and_checks_the_rest(tmp_path):
    make_skill(tmp_path, "greeter")
    archive = tmp_path / "pdf.skill"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("pdf/SKILL.md", "---\nname: pdf\ndescription: Reads PDFs.\n---\n")
        zf.writestr("pdf/run.py", "print('hello')\n" * 10)
        zf.getinfo("pdf/run.py").file_size = 10  # the directory, written at close, lies
    done = validate(tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{tmp_path}/greeter/SKILL.md: valid",
        f"{archive}: refusing archive entry 'pdf/run.py': decompresses to more than "
        "the 10 bytes the archive's directory declares",
    ]
    assert done.stderr == ""


def test_validate_reports_an_overlong_description_as_a_violation_that_loading_cuts(tmp_path):
    folder = tmp_path / "wordy"
    folder.mkdir()
    description = "w" * 5000
    (folder / "SKILL.md").write_text(f"---\nname: wordy\ndescription: {description}\n---\n")
    done = validate(folder)
    assert done.returncode == 1
    assert done.stdout == (
        f"{folder}/SKILL.md: description: must be at most 1024 characters (found 5000); "
        "loading cuts it to 1024\n"
    )
