"""The fake API's Skills, Files and container side, driven by the real anthropic SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic.lib import files_from_dir
from anthropic.types import FileExpiredError, FileNotDownloadableError

from fakeapi import FakeMessagesAPI, replies

HELLO = [{"role": "user", "content": "Hello"}]
CODE_EXECUTION = [{"type": "code_execution_20260521", "name": "code_execution"}]


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


def sdk(api: FakeMessagesAPI) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=api.url, max_retries=0)


def make_skill(root: Path, name: str = "greeter", front: str = "") -> Path:
    folder = root / name
    (folder / "scripts").mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: Greets people.\n{front}---\nBody\n"
    )
    (folder / "scripts" / "greet.py").write_bytes(b"print('hi')\r\n\x00\xff")
    return folder


def ask(client: anthropic.Anthropic, **params):
    return client.messages.create(
        model="m", max_tokens=10, messages=HELLO, tools=CODE_EXECUTION, **params
    )


def test_an_upload_is_multipart_with_the_folder_in_every_file_name(api, tmp_path):
    folder = make_skill(tmp_path)
    skill = sdk(api).skills.create(files=files_from_dir(folder))
    assert skill.id.startswith("skill_") and skill.latest_version_id.startswith("skillver_")
    assert skill.display_name == "greeter" and skill.source == "custom"
    (request,) = api.requests_to("POST", "/v1/skills")
    assert request.headers["content-type"].startswith("multipart/form-data")
    assert {(p.name, p.filename) for p in request.form} == {
        ("files[]", "greeter/SKILL.md"),
        ("files[]", "greeter/scripts/greet.py"),
    }
    stored = api.hosted.version_files(skill.id, skill.latest_version_id)
    assert stored["greeter/scripts/greet.py"] == b"print('hi')\r\n\x00\xff"  # bytes unchanged


def test_a_new_version_must_keep_the_skills_name(api, tmp_path):
    client = sdk(api)
    skill = client.skills.create(files=files_from_dir(make_skill(tmp_path / "a")))
    version = client.skills.versions.create(
        skill.id, files=files_from_dir(tmp_path / "a" / "greeter")
    )
    assert version.skill_id == skill.id and version.name == "greeter"
    assert client.skills.retrieve(skill.id).latest_version_id == version.id
    other = make_skill(tmp_path / "b", "waver")
    with pytest.raises(anthropic.BadRequestError, match="does not match"):
        client.skills.versions.create(skill.id, files=files_from_dir(other))


@pytest.mark.parametrize(
    ("front", "refusal"),
    [
        ("tags: [a]\n", "unexpected key in SKILL.md frontmatter: tags"),
        ("", "reserved word"),
    ],
)
def test_what_the_server_refuses_in_an_upload(api, tmp_path, front, refusal):
    name = "claude-helper" if refusal == "reserved word" else "greeter"
    with pytest.raises(anthropic.BadRequestError, match=refusal):
        sdk(api).skills.create(files=files_from_dir(make_skill(tmp_path, name, front)))


def test_an_upload_over_the_size_limit_is_a_413(api, tmp_path):
    api.hosted.upload_limit = 10
    with pytest.raises(anthropic.APIStatusError) as raised:
        sdk(api).skills.create(files=files_from_dir(make_skill(tmp_path)))
    assert raised.value.status_code == 413


def test_lists_are_cursor_pages_by_source(api, tmp_path):
    client = sdk(api)
    for name in ("one", "two", "three"):
        client.skills.create(files=files_from_dir(make_skill(tmp_path, name)))
    assert [s.id for s in client.skills.list(source="anthropic")] == ["xlsx", "pptx", "docx", "pdf"]
    custom = list(client.skills.list(source="custom", limit=2))  # the SDK follows next_page
    assert [s.display_name for s in custom] == ["one", "two", "three"]
    assert len(api.requests_to("GET", "/v1/skills")) == 3


def test_a_skill_is_deleted_only_after_its_versions(api, tmp_path):
    client = sdk(api)
    skill = client.skills.create(files=files_from_dir(make_skill(tmp_path)))
    with pytest.raises(anthropic.BadRequestError, match="delete them first"):
        client.skills.delete(skill.id)
    for version in client.skills.versions.list(skill.id):
        client.skills.versions.delete(version.id, skill_id=skill.id)
    assert client.skills.delete(skill.id).type == "skill_deleted"
    with pytest.raises(anthropic.NotFoundError):
        client.skills.retrieve(skill.id)
    with pytest.raises(anthropic.PermissionDeniedError):
        client.skills.delete("xlsx")


def test_files_have_metadata_and_bytes_and_refuse_as_the_sdk_expects(api):
    client = sdk(api)
    data = b"\x89PNG\r\n\x1a\n\x00binary"
    made = api.hosted.add_file("chart.png", data, mime_type="image/png")
    metadata = client.files.retrieve_metadata(made)
    assert (metadata.filename, metadata.size_bytes, metadata.downloadable) == (
        "chart.png",
        len(data),
        True,
    )
    assert client.files.download(made).read() == data
    with pytest.raises(FileNotDownloadableError):
        client.files.download(api.hosted.add_file("in.csv", b"x", downloadable=False))
    with pytest.raises(FileExpiredError):
        client.files.download(api.hosted.add_file("old.txt", b"x", expired=True))


def test_an_auto_container_is_the_requests_own_or_a_new_one(api):
    api.script(*[replies.message({"type": "text", "text": "ok"}, container=replies.AUTO)] * 3)
    client = sdk(api)
    skills = [{"type": "anthropic", "skill_id": "xlsx", "version": "latest"}]
    first = ask(client, container={"skills": skills}).container
    assert first.id.startswith("container_") and first.expires_at is not None
    assert first.skills[0].version == "20251013"  # the version "latest" resolved to
    assert ask(client, container={"id": first.id, "skills": skills}).container.id == first.id
    assert ask(client).container.id != first.id


def test_an_expired_container_is_a_400_with_its_code_and_uses_no_reply(api):
    api.script(replies.message({"type": "text", "text": "ok"}, container=replies.AUTO))
    api.hosted.expire_container("container_gone")
    with pytest.raises(anthropic.BadRequestError) as raised:
        ask(sdk(api), container={"id": "container_gone"})
    assert raised.value.error_code == "container_expired"
    assert api.pending == 1


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (500, anthropic.InternalServerError, "Internal server error"),
        (404, anthropic.NotFoundError, "Container container_old not found"),
    ],
)
def test_a_stale_container_fails_every_request_naming_it_and_uses_no_reply(
    api, status, error, words
):
    api.script(replies.message({"type": "text", "text": "ok"}, container=replies.AUTO))
    api.hosted.stale_container("container_old", status=status)
    client = sdk(api)
    for _ in range(2):  # it stays stale
        with pytest.raises(error, match=words) as raised:
            ask(client, container={"id": "container_old", "skills": []})
        assert raised.value.status_code == status and raised.value.error_code is None
    assert api.pending == 1
    assert ask(client).container.id != "container_old"


@pytest.mark.parametrize(
    ("skills", "refusal"),
    [
        ([{"type": "anthropic", "skill_id": "xlsx"}] * 9, "at most 8"),
        ([{"type": "custom", "skill_id": "skill_nope", "version": "latest"}], "not found"),
    ],
)
def test_container_skills_the_api_would_refuse(api, skills, refusal):
    with pytest.raises(anthropic.BadRequestError, match=refusal):
        ask(sdk(api), container={"skills": skills})


def test_a_scripted_failure_answers_the_next_matching_request_only(api, tmp_path):
    api.fail("POST", "/v1/skills", replies.error(401, "authentication_error", "invalid x-api-key"))
    client = sdk(api)
    with pytest.raises(anthropic.AuthenticationError):
        client.skills.create(files=files_from_dir(make_skill(tmp_path)))
    assert client.skills.create(files=files_from_dir(tmp_path / "greeter")).id
