"""``python -m conjure_kernel skills list|upload|delete`` against the fake API, as a person types it."""

from __future__ import annotations

import os
import subprocess
import sys
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
