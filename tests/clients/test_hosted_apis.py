"""The pieces the hosted backend builds on: file names made safe, the upload cache, what an
upload holds, and how an expired container is recognised."""

from __future__ import annotations

import asyncio
import zipfile

import anthropic
import httpx2
import pytest
from fakeapi import FakeMessagesAPI, replies

from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.api_errors import ContainerExpired, describe_status_error
from conjure_kernel.clients.files_api import safe_filename
from conjure_kernel.clients.skills_api import SkillUploads, upload_files, upload_problems
from conjure_kernel.errors import ModelError
from conjure_kernel.skills.discovery import load_skill


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("report.xlsx", "report.xlsx"),
        ("/tmp/outputs/chart.png", "chart.png"),
        ("..\\..\\windows\\evil.bat", "evil.bat"),
        ("../", "file_01"),
        (".env", "env"),
        ('a<b>:c"|?*.txt', "a_b__c____.txt"),
        ("line\nbreak.txt", "line_break.txt"),
        ("   ", "file_01"),
        ("x" * 300 + ".csv", "x" * 196 + ".csv"),
    ],
)
def test_a_sandbox_file_name_becomes_a_plain_visible_name(name, safe):
    assert safe_filename(name, fallback="file_01") == safe


def status_error(status: int, message: str, code: str | None = None) -> anthropic.APIStatusError:
    error = {"type": "invalid_request_error", "message": message}
    if code:
        error["details"] = {"error_code": code}
    request = httpx2.Request("POST", "http://api/v1/messages")
    response = httpx2.Response(status, json={"type": "error", "error": error}, request=request)
    return anthropic.APIStatusError(message, response=response, body={"error": error})


@pytest.mark.parametrize(
    ("error", "expired"),
    [
        (status_error(400, "Container c1 has expired", "container_expired"), True),
        (status_error(400, "The container c1 expired; start a new one"), True),
        (status_error(404, "container not found: expired"), True),
        (status_error(400, "messages: text content blocks must be non-empty"), False),
        (status_error(400, "max_tokens: expired setting"), False),
    ],
)
def test_an_expired_container_is_known_by_its_code_or_its_words(error, expired):
    described = describe_status_error(error, model="m", base_url="http://api", max_retries=0)
    assert isinstance(described, ContainerExpired) is expired
    other_api = describe_status_error(error, base_url="http://api", max_retries=0, api="Files API")
    assert not isinstance(other_api, ContainerExpired)
    assert str(other_api).startswith(f"the Files API answered {error.status_code}")


def test_the_upload_cache_remembers_per_api_and_name_and_survives_a_broken_file(tmp_path):
    path = tmp_path / "conjure" / "skill_uploads.json"
    first, second = SkillUploads(path), SkillUploads(path)
    first.remember("http://a", "greeter", "h1", "skill_1", "v1")
    second.remember("http://a", "greeter", "h2", "skill_1", "v2")  # another kernel, same file
    second.remember("http://b", "greeter", "h1", "skill_9", "v9")
    record = first.lookup("http://a", "greeter")
    assert record is not None and record.versions == {"h1": "v1", "h2": "v2"}
    first.forget("http://a", skill_id="skill_1", version_id="v1")
    assert first.lookup("http://a", "greeter").versions == {"h2": "v2"}
    first.forget("http://a", skill_id="skill_1")
    assert first.lookup("http://a", "greeter") is None
    assert first.lookup("http://b", "greeter").skill_id == "skill_9"
    path.write_text("{not json")
    assert first.lookup("http://b", "greeter") is None
    first.remember("http://b", "greeter", "h1", "skill_9", "v9")
    assert SkillUploads(path).lookup("http://b", "greeter").versions == {"h1": "v9"}
    assert [p.name for p in path.parent.iterdir()] == ["skill_uploads.json"]  # no temp left


def test_an_upload_holds_the_skill_under_its_folder_without_caches(tmp_path):
    folder = tmp_path / "greeter"
    for relative in (
        "SKILL.md",
        "scripts/greet.py",
        "scripts/__pycache__/greet.cpython-311.pyc",
        "lib/old.pyc",
        "node_modules/x/index.js",
        ".git/HEAD",
        ".DS_Store",
        "evals/case.json",
        "docs/evals/kept.md",
    ):
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text("x")
    (folder / "SKILL.md").write_text("---\nname: greeter\ndescription: Greets.\n---\nBody\n")
    names = [name for name, _ in upload_files(folder)]
    assert names == ["greeter/SKILL.md", "greeter/docs/evals/kept.md", "greeter/scripts/greet.py"]
    assert upload_problems(load_skill(folder)) == []


def test_an_upload_goes_round_no_link_loop_and_keeps_linked_files(tmp_path):
    folder = tmp_path / "greeter"
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text("---\nname: greeter\ndescription: Greets.\n---\nBody\n")
    (folder / "scripts" / "greet.py").write_text("print(1)\n")
    (tmp_path / "shared.txt").write_text("shared")
    (folder / "shared.txt").symlink_to(tmp_path / "shared.txt")  # a link to a file: kept
    (folder / "scripts" / "up").symlink_to("..")  # back to the skill's folder
    (folder / "self").symlink_to("self")
    (folder / "ping").symlink_to("pong")
    (folder / "pong").symlink_to("ping")
    (folder / "gone").symlink_to("nothing-here")
    files = upload_files(folder)
    assert [name for name, _ in files] == [
        "greeter/SKILL.md",
        "greeter/scripts/greet.py",
        "greeter/shared.txt",
    ]
    assert dict(files)["greeter/shared.txt"] == b"shared"
    assert upload_problems(load_skill(folder)) == []


def test_a_skill_archive_is_checked_and_uploaded_from_its_unpacked_folder(tmp_path):
    archive = tmp_path / "greeter.skill"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("greeter/SKILL.md", "---\nname: greeter\ndescription: Greets.\n---\nB\n")
        zipped.writestr("greeter/scripts/greet.py", "print(1)\n")
    skill = load_skill(archive)
    assert upload_problems(skill) == []
    assert [name for name, _ in upload_files(skill.root)] == [
        "greeter/SKILL.md",
        "greeter/scripts/greet.py",
    ]


def test_api_call_lends_the_loops_sdk_and_words_its_failures():
    with FakeMessagesAPI() as api:
        api.fail("GET", "/v1/files/", replies.error(403, "permission_error", "not yours"))
        client = AnthropicClient(api_key="test-key", base_url=api.url)

        async def run() -> None:
            async with client.api_call("Files API") as sdk:
                assert str(sdk.base_url).startswith(api.url)
                await sdk.files.retrieve_metadata("file_x")

        with pytest.raises(ModelError) as raised:
            asyncio.run(run())
    assert str(raised.value).startswith("the Files API answered 403 permission_error: not yours")
    assert "may not use the Files API" in raised.value.hint
