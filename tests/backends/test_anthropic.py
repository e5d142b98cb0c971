"""The hosted backend against the fake API: the real SDK for Messages, Skills and Files.

Each test drives the backend as the session does (open a session, run turns over one
list of messages) and looks at three things: the events (what the person sees and the
record keeps), the requests the fake API received, and the messages (which must stay
ones the API accepts after anything).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeMessagesAPI, replies

from conjure_kernel.backends.anthropic import AnthropicBackend, AnthropicSession
from conjure_kernel.backends.anthropic_settings import AnthropicSettings
from conjure_kernel.backends.base import SessionOptions, TurnOptions
from conjure_kernel.backends.hosted_turn import NO_CLIENT_TOOLS
from conjure_kernel.backends.registry import get_backend
from conjure_kernel.clients import skills_api
from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import DEFAULT_MODEL
from conjure_kernel.clients.replay import Replay
from conjure_kernel.clients.request_params import CODE_EXECUTION_TOOLS
from conjure_kernel.clients.skills_api import parse_skill_refs
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.conversation.turn import FileEntry
from conjure_kernel.errors import (
    BackendError,
    BackendSettingError,
    MissingApiKey,
    ModelError,
    SkillError,
    TurnLimitReached,
)
from conjure_kernel.events import (
    Event,
    FileCreated,
    ModelStepFinished,
    Notice,
    ServerToolCallFinished,
    ServerToolCallStarted,
    TurnEnded,
)
from conjure_kernel.skills.discovery import load_skill
from conjure_kernel.skills.skill import Skill

ENVIRONMENT = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_PROFILE",
    "ANTHROPIC_CONFIG_DIR",
    "ANTHROPIC_CUSTOM_HEADERS",
)


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """No developer key or profile, and a Jupyter data folder (the upload cache) of our own."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def workdir(tmp_path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    return folder


def make_skill(
    root: Path, name: str = "greeter", *, front: str = "", body: str = "Greet."
) -> Skill:
    folder = root / name
    (folder / "scripts").mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(
        f"---\nname: {name}\ndescription: Greets people by name.\n{front}---\n{body}\n"
    )
    (folder / "scripts" / "greet.py").write_text("print('hello')\n")
    return load_skill(folder)


@dataclass
class Turn:
    events: list[Event]
    error: BaseException | None

    def of(self, kind: type) -> list[Any]:
        return [event for event in self.events if type(event) is kind]

    def notices(self) -> list[str]:
        return [notice.text for notice in self.of(Notice)]

    def results(self) -> dict[str, Any]:
        return {event.call.id: event.result for event in self.of(ServerToolCallFinished)}


class Hosted:
    """One hosted conversation, driven as ``Session`` drives a backend."""

    def __init__(
        self,
        api: FakeMessagesAPI,
        workdir: Path,
        local: Sequence[Skill] = (),
        *,
        key: str | None = "test-key",
        **settings: Any,
    ) -> None:
        self.api = api
        self.client = AnthropicClient(api_key=key, base_url=api.url)
        self.backend = AnthropicBackend()
        self.messages: list[Any] = []
        options = SessionOptions(AnthropicSettings.parse({"workdir": str(workdir), **settings}))
        self.session: AnthropicSession = asyncio.run(
            self.backend.open_session(list(local), options)
        )

    def turn(self, message: str = "Make the report.") -> Turn:
        events: list[Event] = []

        async def run() -> None:
            options = TurnOptions(DEFAULT_MODEL, self.messages, account=self.client)
            async for event in self.backend.chat(self.session, message, self.client, options):
                events.append(event)

        try:
            asyncio.run(run())
        except Exception as error:
            return Turn(events, error)
        return Turn(events, None)


def messages_requests(api: FakeMessagesAPI) -> list[Any]:
    return [r.body for r in api.requests_to("POST", "/v1/messages")]


def unmarked(value: Any) -> Any:
    """``value`` without cache breakpoints, which the client adds to copies it sends."""
    if isinstance(value, dict):
        return {k: unmarked(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [unmarked(item) for item in value]
    return value


def sent_messages(body: dict[str, Any]) -> list[Any]:
    """The messages of a request as the conversation held them: without the breakpoints the
    client adds, and a user's text back to the string the client made a block of to mark."""
    messages = unmarked(body["messages"])
    for message in messages:
        content = message["content"]
        if message["role"] == "user" and content == [
            {"type": "text", "text": content[0].get("text")}
        ]:
            message["content"] = content[0]["text"]
    return messages


def assert_sendable(messages: list[Any]) -> None:
    """What the API refuses is absent: a first message not from the user, a ``tool_use``
    without its ``tool_result`` next, a server tool call without its result in the same
    run of assistant messages."""
    assert messages and messages[0]["role"] == "user"
    for index, message in enumerate(messages):
        content = message["content"]
        if message["role"] == "assistant" and not isinstance(content, str):
            calls = {b["id"] for b in content if b["type"] == "tool_use"}
            if calls:
                answers = messages[index + 1]["content"]
                assert calls <= {b.get("tool_use_id") for b in answers}
    run: list[dict[str, Any]] = []
    for message in [*messages, {"role": "user", "content": ""}]:
        if message["role"] == "assistant":
            run += message["content"]
            continue
        uses = {b["id"] for b in run if b["type"] == "server_tool_use"}
        assert uses <= {b.get("tool_use_id") for b in run}, "a server tool call has no result"
        run = []


def paused_bash(
    command: str, stdout: str, *, file_ids: Sequence[str] = (), first: Sequence[dict] = ()
) -> tuple[Any, dict]:
    """A step that ran a command, then paused while starting a text-editor view; ``first``
    are blocks before (the result of the view the previous pause started)."""
    bash = replies.server_tool_use("bash_code_execution", {"command": command})
    view = replies.server_tool_use(
        "text_editor_code_execution", {"command": "view", "path": "/tmp/outputs/report.txt"}
    )
    reply = replies.message(
        *first,
        {"type": "text", "text": "Working on it. "},
        bash,
        replies.bash_result(bash["id"], stdout=stdout, file_ids=file_ids),
        view,
        stop_reason="pause_turn",
        container=replies.AUTO,
    )
    return reply, view


def view_result(view: dict, text: str = "Q3 revenue: 12") -> dict:
    return replies.text_editor_result(
        view["id"],
        {"type": "text_editor_code_execution_view_result", "content": text, "file_type": "text"},
    )


def finish(*blocks: dict, text: str = "Done.") -> Any:
    return replies.message(*blocks, {"type": "text", "text": text}, container=replies.AUTO)


# -- registration and settings ----------------------------------------------------------------


def test_registered_under_its_type_with_the_newest_code_execution_tool_by_default():
    backend = get_backend("anthropic")
    assert isinstance(backend, AnthropicBackend) and backend.backend_type == "anthropic"
    tool = next(s for s in backend.settings_class.declared() if s.name == "tool")
    assert tool.default == CODE_EXECUTION_TOOLS[-1] == "code_execution_20260521"
    assert tool.choices == CODE_EXECUTION_TOOLS and "code_execution_20250825" in tool.choices
    assert next(s for s in backend.settings_class.declared() if s.name == "max_skills").default == 8


def test_skill_references_name_anthropic_skills_by_name_and_custom_ones_by_id():
    refs = parse_skill_refs(" anthropic:xlsx, anthropic:pptx@20251013,skill_01Ab@skillver_2 ,")
    assert refs == [
        {"type": "anthropic", "skill_id": "xlsx", "version": "latest"},
        {"type": "anthropic", "skill_id": "pptx", "version": "20251013"},
        {"type": "custom", "skill_id": "skill_01Ab", "version": "skillver_2"},
    ]
    assert parse_skill_refs("custom:abc") == [
        {"type": "custom", "skill_id": "abc", "version": "latest"}
    ]


@pytest.mark.parametrize("bad", ["xlsx", "anthropic:", "anthropic:xlsx@", "other:x"])
def test_a_bad_skill_reference_is_a_setting_error_naming_it(api, workdir, bad):
    with pytest.raises(BackendSettingError, match=f"skills={bad}: .*anthropic:NAME"):
        Hosted(api, workdir, skills=bad)
    assert api.requests == []


def test_more_skills_than_a_request_may_carry_is_refused_before_anything_is_sent(
    api, workdir, tmp_path
):
    local = [make_skill(tmp_path, f"skill-{i}") for i in range(6)]
    remote = "anthropic:xlsx,anthropic:pptx,anthropic:docx"
    with pytest.raises(BackendError, match=r"9 skills .* at most 8") as raised:
        Hosted(api, workdir, local, skills=remote)
    assert "max_skills" in raised.value.hint
    assert api.requests == []
    assert Hosted(api, workdir, local, skills=remote, max_skills=9).session.remote


def test_what_the_skills_api_would_refuse_is_named_per_skill_before_anything_is_sent(
    api, workdir, tmp_path, monkeypatch
):
    unknown_key = make_skill(tmp_path, "tagger", front="tags: [a, b]\n")
    reserved = make_skill(tmp_path, "claude-helper")
    tagged = make_skill(tmp_path / "x", "marker")
    skill_md = tagged.skill_md
    skill_md.write_text(skill_md.read_text().replace("Greets", "Greets <b>bold</b>"))
    with pytest.raises(SkillError) as raised:
        Hosted(api, workdir, [unknown_key, reserved, load_skill(skill_md.parent)])
    message = str(raised.value)
    assert "tagger/SKILL.md: tags: is not a field of the spec" in message
    assert "claude-helper/SKILL.md: name: must not contain 'claude'" in message
    assert "marker/SKILL.md: description: must not contain XML tags" in message
    big = make_skill(tmp_path / "big", "big")
    (big.root / "data.bin").write_bytes(b"x" * (3 * 2**19))
    (big.root / "node_modules").mkdir()
    (big.root / "node_modules" / "huge.js").write_bytes(b"x" * 2**21)  # never uploaded
    monkeypatch.setattr(skills_api, "MAX_UPLOAD_BYTES", 2**20)
    with pytest.raises(SkillError, match=r"big: its files come to 1\.5 MB, over the 1 MB"):
        Hosted(api, workdir, [big])
    assert api.requests == []


def test_describe_names_the_tool_skills_folder_and_container(api, workdir, tmp_path):
    conversation = Hosted(
        api,
        workdir,
        [make_skill(tmp_path)],
        skills="anthropic:xlsx",
        tool="code_execution_20250825",
    )
    line = conversation.session.describe()
    assert line.startswith("anthropic: code runs in Anthropic's sandbox (code_execution_20250825")
    assert "anthropic:xlsx@latest, greeter (local)" in line and str(workdir) in line
    assert "a new container on the next turn. Boundary: " in line
    assert line.endswith(f"new files in {workdir}, never written over an existing one")
    assert conversation.session.paths == {"workdir": str(workdir)}


# -- the hosted turn --------------------------------------------------------------------


def test_pause_turn_is_continued_in_the_same_container_and_shown_as_one_turn(api, workdir):
    report = api.hosted.add_file("report.txt", b"Q3 revenue: 12\n")
    paused, view = paused_bash("python make_report.py", "saved report.txt\n", file_ids=[report])
    api.script(paused, finish(view_result(view)))
    conversation = Hosted(api, workdir, skills="anthropic:xlsx")
    turn = conversation.turn()
    assert turn.error is None
    (ended,) = turn.of(TurnEnded)
    assert ended.stop_reason == "end_turn" and ended.text == "Working on it. Done."
    assert [step.response.stop_reason for step in turn.of(ModelStepFinished)] == [
        "pause_turn",
        "end_turn",
    ]
    first, second = messages_requests(api)
    assert (
        first["tools"]
        == second["tools"]
        == [{"type": "code_execution_20260521", "name": "code_execution"}]
    )
    container = turn.of(ModelStepFinished)[0].response.container
    assert "id" not in first["container"]
    assert second["container"] == {"id": container["id"], "skills": first["container"]["skills"]}
    paused_message = turn.of(ModelStepFinished)[0].response.message
    assert sent_messages(second) == [*sent_messages(first), unmarked(paused_message)]
    assert sent_messages(second)[-1]["role"] == "assistant"  # no "continue" message
    assert (workdir / "report.txt").read_bytes() == b"Q3 revenue: 12\n"
    assert [event.path for event in turn.of(FileCreated)] == [str(workdir / "report.txt")]
    started = turn.of(ServerToolCallStarted)
    assert [call.call.input for call in started] == [
        {"command": "python make_report.py"},
        {"command": "view", "path": "/tmp/outputs/report.txt"},
    ]
    results = list(turn.results().values())
    assert results[0].content == "saved report.txt\nexit code: 0" and results[0].exit_code == 0
    assert results[1].content == "Q3 revenue: 12"
    assert [m["role"] for m in conversation.messages] == ["user", "assistant", "assistant"]
    assert_sendable(conversation.messages)
    assert conversation.session.container["id"] == container["id"]


def test_the_container_lives_on_into_the_next_turn_with_a_notice(api, workdir):
    api.script(finish(text="One."), finish(text="Two."))
    conversation = Hosted(api, workdir)
    conversation.turn()
    container = conversation.session.container["id"]
    turn = conversation.turn("And again.")
    assert turn.notices()[0].startswith(f"reusing container {container} (expiry last given: 20")
    assert messages_requests(api)[1]["container"] == {"id": container}


def result_blocks() -> tuple[list[dict], dict[str, tuple[str, bool]]]:
    """A server call of every result shape the SDK types define (and one it does not),
    with the trace row each must give: (content, is_error)."""
    cases = [
        (
            "bash_code_execution",
            {"command": "ls"},
            "bash_code_execution_tool_result",
            {
                "type": "bash_code_execution_result",
                "stdout": "a.txt\n",
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
            ("a.txt\nexit code: 0", False),
        ),
        (
            "bash_code_execution",
            {"command": "false"},
            "bash_code_execution_tool_result",
            {
                "type": "bash_code_execution_result",
                "stdout": "",
                "stderr": "boom",
                "return_code": 2,
                "content": [],
            },
            ("stderr:\nboom\nexit code: 2", True),
        ),
        (
            "bash_code_execution",
            {"command": "sleep 999"},
            "bash_code_execution_tool_result",
            {
                "type": "bash_code_execution_tool_result_error",
                "error_code": "execution_time_exceeded",
            },
            ("error: execution_time_exceeded", True),
        ),
        (
            "text_editor_code_execution",
            {"command": "view", "path": "/tmp/a.txt"},
            "text_editor_code_execution_tool_result",
            {
                "type": "text_editor_code_execution_view_result",
                "content": "two",
                "file_type": "text",
                "start_line": 2,
                "num_lines": 1,
                "total_lines": 3,
            },
            ("(lines 2-2 of 3)\ntwo", False),
        ),
        (
            "text_editor_code_execution",
            {"command": "create", "path": "/tmp/b.txt", "file_text": "x"},
            "text_editor_code_execution_tool_result",
            {"type": "text_editor_code_execution_create_result", "is_file_update": False},
            ("file created", False),
        ),
        (
            "text_editor_code_execution",
            {"command": "str_replace", "path": "/tmp/b.txt", "old_str": "x", "new_str": "y"},
            "text_editor_code_execution_tool_result",
            {
                "type": "text_editor_code_execution_str_replace_result",
                "lines": ["y"],
                "old_start": 1,
                "old_lines": 1,
                "new_start": 1,
                "new_lines": 1,
            },
            ("@@ -1,1 +1,1 @@\ny", False),
        ),
        (
            "text_editor_code_execution",
            {"command": "view", "path": "/tmp/none"},
            "text_editor_code_execution_tool_result",
            {
                "type": "text_editor_code_execution_tool_result_error",
                "error_code": "file_not_found",
                "error_message": "no such file",
            },
            ("error: file_not_found: no such file", True),
        ),
        (
            "code_execution",
            {"code": "print(1)"},
            "code_execution_tool_result",
            {
                "type": "code_execution_result",
                "stdout": "1\n",
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
            ("1\nexit code: 0", False),
        ),
        (
            "code_execution",
            {"code": "search()"},
            "code_execution_tool_result",
            {
                "type": "encrypted_code_execution_result",
                "encrypted_stdout": "xx",
                "stderr": "",
                "return_code": 0,
                "content": [],
            },
            ("(stdout is encrypted: the code called another server tool)\nexit code: 0", False),
        ),
    ]
    blocks: list[dict] = []
    expected: dict[str, tuple[str, bool]] = {}
    for name, tool_input, result_type, content, shown in cases:
        use = replies.server_tool_use(name, tool_input)
        blocks += [use, replies.server_tool_result(result_type, use["id"], content)]
        expected[use["id"]] = shown
    future = replies.server_tool_use("future_tool", {"query": "q"})
    block = replies.server_tool_result("future_tool_result", future["id"], [{"hit": 1}])
    blocks += [future, block]
    expected[future["id"]] = (json.dumps(block, indent=1), False)
    return blocks, expected


def test_every_server_result_shape_is_a_trace_row_and_an_unknown_one_is_shown_raw(api, workdir):
    blocks, expected = result_blocks()
    api.script(finish(*blocks))
    turn = Hosted(api, workdir).turn()
    assert turn.error is None
    assert [e.call.id for e in turn.of(ServerToolCallStarted)] == list(expected)
    shown = {call: (result.content, result.is_error) for call, result in turn.results().items()}
    assert shown == expected
    assert turn.results()[list(expected)[1]].exit_code == 2


def test_files_land_in_the_workdir_under_safe_names_and_never_overwrite(api, workdir):
    (workdir / "report.txt").write_text("mine")
    ids = [
        api.hosted.add_file("report.txt", b"theirs"),
        api.hosted.add_file("../../../etc/passwd", b"root"),
        api.hosted.add_file(".bashrc", b"alias"),
        api.hosted.add_file("chart.png", b"\x89PNG\r\n", mime_type="image/png"),
    ]
    bash = replies.server_tool_use("bash_code_execution", {"command": "python make.py"})
    api.script(finish(bash, replies.bash_result(bash["id"], file_ids=ids)))
    turn = Hosted(api, workdir).turn()
    assert turn.error is None
    names = ["report (1).txt", "passwd", "bashrc", "chart.png"]
    assert [event.path for event in turn.of(FileCreated)] == [str(workdir / n) for n in names]
    assert all(event.tool_use_id == bash["id"] for event in turn.of(FileCreated))
    assert (workdir / "report.txt").read_text() == "mine"
    assert (workdir / "report (1).txt").read_bytes() == b"theirs"
    assert (workdir / "chart.png").read_bytes() == b"\x89PNG\r\n"
    assert sorted(p.name for p in workdir.iterdir()) == sorted(["report.txt", *names])
    assert any("report.txt already exists" in n and "report (1).txt" in n for n in turn.notices())


def test_a_file_that_cannot_be_downloaded_is_a_notice_and_the_turn_ends_well(api, workdir):
    ids = [
        api.hosted.add_file("input.csv", b"x", downloadable=False),
        api.hosted.add_file("old.txt", b"x", expired=True),
        api.hosted.add_file("secret.txt", b"x"),
        api.hosted.add_file("fine.txt", b"ok"),
    ]
    api.fail("GET", f"/v1/files/{ids[2]}/content", replies.error(403, "permission_error", "no"))
    bash = replies.server_tool_use("bash_code_execution", {"command": "ls"})
    api.script(finish(bash, replies.bash_result(bash["id"], file_ids=ids)))
    turn = Hosted(api, workdir).turn()
    assert turn.error is None and turn.of(TurnEnded)
    warnings = [n.text for n in turn.of(Notice) if n.level == "warning"]
    assert "input.csv" in warnings[0] and "only files code execution created" in warnings[0]
    assert warnings[1].startswith(f"file {ids[1]} could not be downloaded: it expired")
    assert "Files API answered 403 permission_error" in warnings[2]
    assert [p.name for p in workdir.iterdir()] == ["fine.txt"]  # no stray reservation or .part


def test_an_expired_container_is_replaced_with_a_notice_and_the_turn_goes_on(api, workdir):
    api.script(finish(text="First."), finish(text="Second."))
    conversation = Hosted(api, workdir, skills="anthropic:xlsx")
    conversation.turn()
    old = conversation.session.container["id"]
    api.hosted.expire_container(old)
    turn = conversation.turn("Go on.")
    assert turn.error is None and turn.of(TurnEnded)[0].text == "Second."
    assert any(
        f"container {old} is gone (the API says it has expired)" in n for n in turn.notices()
    )
    refused, resent = messages_requests(api)[1:]
    assert refused["container"]["id"] == old and "id" not in resent["container"]
    assert resent["container"]["skills"] == refused["container"]["skills"]
    assert conversation.session.container["id"] not in (None, old)
    assert_sendable(conversation.messages)


def test_a_container_past_its_expires_at_is_reused_until_the_api_refuses_it(api, workdir):
    """``expires_at`` is a rolling value, not the container's end: only the API's answer
    says a container is gone."""
    api.script(finish(text="Still here."))
    conversation = Hosted(api, workdir)
    conversation.session.container = {"id": "container_old", "expires_at": "2020-01-01T00:00:00Z"}
    turn = conversation.turn()
    assert turn.error is None
    assert not any("is gone" in notice for notice in turn.notices())
    assert messages_requests(api)[0]["container"]["id"] == "container_old"


def test_continuations_stop_at_the_limit_and_the_history_stays_sendable(api, workdir):
    first, view = paused_bash("step 1", "1\n")
    again, _ = paused_bash("step 2", "2\n", first=[view_result(view)])
    api.script(first, again, finish(text="Next turn."))
    conversation = Hosted(api, workdir, max_continuations=1)
    turn = conversation.turn()
    assert isinstance(turn.error, TurnLimitReached)
    assert "max_continuations" in turn.error.hint
    assert [m["role"] for m in conversation.messages] == ["user", "assistant", "assistant"]
    assert_sendable(conversation.messages)  # the second pause's open view call is gone
    assert conversation.turn("Go on.").error is None
    assert_sendable(conversation.messages)


# -- uploads -----------------------------------------------------------------------------


def uploads(api: FakeMessagesAPI) -> list[Any]:
    return api.requests_to("POST", "/v1/skills")


def test_a_local_skill_is_uploaded_once_and_reused_by_hash_after_a_restart(api, workdir, tmp_path):
    skill = make_skill(tmp_path)
    (skill.root / "scripts" / "__pycache__").mkdir()
    (skill.root / "scripts" / "__pycache__" / "greet.cpython-311.pyc").write_bytes(b"\0")
    (skill.root / ".DS_Store").write_bytes(b"\0")
    api.script(finish(text="One."), finish(text="Two."), finish(text="Three."))
    conversation = Hosted(api, workdir, [skill], skills="anthropic:xlsx")
    first = conversation.turn()
    assert first.error is None
    (upload,) = uploads(api)
    assert sorted(part.filename for part in upload.form) == [
        "greeter/SKILL.md",
        "greeter/scripts/greet.py",
    ]
    (remote,) = api.hosted.custom_skills()
    pinned = {"type": "custom", "skill_id": remote["id"], "version": remote["latest_version_id"]}
    assert messages_requests(api)[0]["container"]["skills"] == [
        {"type": "anthropic", "skill_id": "xlsx", "version": "latest"},
        pinned,
    ]
    assert first.notices() == [
        f"skill greeter uploaded to Anthropic ({remote['id']}, version {pinned['version']})"
    ]
    requests_before = len(api.requests)
    conversation.turn("Again.")
    assert [r.path for r in api.requests[requests_before:]] == ["/v1/messages"]

    restarted = Hosted(api, workdir, [load_skill(skill.root)], skills="anthropic:xlsx")
    turn = restarted.turn("After a restart.")
    assert turn.error is None and not any("uploaded" in n for n in turn.notices())
    assert len(uploads(api)) == 1
    assert [r.path for r in api.requests_to("GET", "/v1/skills")] == [
        f"/v1/skills/{remote['id']}/versions/{pinned['version']}"
    ]
    assert messages_requests(api)[-1]["container"]["skills"][1] == pinned


def test_a_changed_skill_is_uploaded_as_a_new_version_of_the_same_skill(api, workdir, tmp_path):
    skill = make_skill(tmp_path)
    api.script(finish(text="One."), finish(text="Two."))
    conversation = Hosted(api, workdir, [skill])
    conversation.turn()
    skill.skill_md.write_text(skill.skill_md.read_text() + "Also wave.\n")
    turn = conversation.turn("Again.")
    assert turn.error is None
    (remote,) = api.hosted.custom_skills()
    assert len(remote["versions"]) == 2 and len(uploads(api)) == 2
    assert uploads(api)[1].path == f"/v1/skills/{remote['id']}/versions"
    assert "changed since its last upload: uploaded as a new version" in turn.notices()[0]
    assert messages_requests(api)[-1]["container"]["skills"] == [
        {"type": "custom", "skill_id": remote["id"], "version": remote["latest_version_id"]}
    ]


def test_a_remembered_skill_deleted_on_anthropics_side_is_uploaded_afresh(api, workdir, tmp_path):
    skill = make_skill(tmp_path)
    api.script(finish(text="One."), finish(text="Two."))
    Hosted(api, workdir, [skill]).turn()
    (remote,) = api.hosted.custom_skills()
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    deleted = asyncio.run(skills_api.delete_remote(client, remote["id"]))
    assert deleted == f"deleted skill {remote['id']} and its 1 version(s)"
    assert skills_api.SkillUploads().lookup(api.url, "greeter") is None  # forgotten here
    remembered = (skill.content_hash(), remote["id"], remote["latest_version_id"])
    skills_api.SkillUploads().remember(api.url, "greeter", *remembered)  # as another machine
    turn = Hosted(api, workdir, [load_skill(skill.root)]).turn()
    assert turn.error is None and "uploaded to Anthropic" in turn.notices()[0]
    (again,) = api.hosted.custom_skills()
    assert again["id"] != remote["id"]


# -- faults ------------------------------------------------------------------------------


def test_without_a_key_the_turn_fails_before_anything_is_sent_and_the_history_is_unchanged(
    api, workdir, tmp_path
):
    with_skill = Hosted(api, workdir, [make_skill(tmp_path)], key=None)
    turn = with_skill.turn()
    assert isinstance(turn.error, MissingApiKey)
    assert str(turn.error).startswith("skill greeter could not be uploaded: no Anthropic API key")
    assert with_skill.messages == [] and api.requests == []
    plain = Hosted(api, workdir, key=None)
    assert isinstance(plain.turn().error, MissingApiKey) and plain.messages == []


def test_without_an_account_a_local_skill_is_not_uploaded_and_nothing_is_sent(
    api, workdir, tmp_path
):
    conversation = Hosted(api, workdir, [make_skill(tmp_path)])
    options = TurnOptions(DEFAULT_MODEL, conversation.messages)  # the model client only

    async def run() -> None:
        async for _ in conversation.backend.chat(
            conversation.session, "Go.", conversation.client, options
        ):
            pass

    with pytest.raises(BackendError, match="no account client for the Skills API"):
        asyncio.run(run())
    assert conversation.messages == [] and api.requests == []


@pytest.mark.parametrize(
    ("status", "kind", "hint"),
    [
        (401, "authentication_error", "check the API key"),
        (403, "permission_error", "may not use the Skills API"),
        (400, "invalid_request_error", "sending it again will fail the same way"),
    ],
)
def test_an_upload_the_api_refuses_names_the_skill_and_the_session_goes_on(
    api, workdir, tmp_path, status, kind, hint
):
    api.fail("POST", "/v1/skills", replies.error(status, kind, "refused by the test"))
    api.script(finish(text="Uploaded now."))
    conversation = Hosted(api, workdir, [make_skill(tmp_path)])
    turn = conversation.turn()
    assert isinstance(turn.error, ModelError)
    assert str(turn.error).startswith(
        f"skill greeter could not be uploaded: the Skills API answered {status} {kind}: refused by the test"
    )
    assert hint in turn.error.hint
    assert conversation.messages == [] and messages_requests(api) == []
    assert conversation.turn().error is None and len(api.hosted.custom_skills()) == 1


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (replies.stream_error("overloaded_error"), "failed mid-answer with overloaded_error"),
        (replies.truncated("Still wor", drop_connection=True), "connection to"),
        (replies.error(403, "permission_error", "no"), "403 permission_error"),
    ],
)
def test_a_failed_continuation_leaves_a_history_the_api_accepts(api, workdir, fault, words):
    paused, _ = paused_bash("python make.py", "ok\n")
    api.script(paused, fault, finish(text="Recovered."))
    conversation = Hosted(api, workdir)
    turn = conversation.turn()
    assert isinstance(turn.error, ModelError) and words in str(turn.error)
    assert [m["role"] for m in conversation.messages] == ["user", "assistant"]
    assert_sendable(conversation.messages)  # the dangling text-editor call is gone
    assert conversation.turn("Try again.").error is None
    assert_sendable(sent_messages(messages_requests(api)[-1]))


def test_a_failed_first_request_takes_the_turn_back(api, workdir):
    api.script(replies.stream_error("overloaded_error"))
    conversation = Hosted(api, workdir)
    turn = conversation.turn()
    assert "overloaded_error" in str(turn.error) and conversation.messages == []


def test_an_interrupt_during_a_continuation_leaves_a_history_the_api_accepts(api, workdir):
    paused, _ = paused_bash("python make.py", "ok\n")
    api.script(paused, replies.stall(finish(text="Never seen."), 5))
    conversation = Hosted(api, workdir)
    seen: list[Event] = []

    async def interrupted() -> None:
        options = TurnOptions(DEFAULT_MODEL, conversation.messages, account=conversation.client)
        chat = conversation.backend.chat(conversation.session, "Go.", conversation.client, options)

        async def consume() -> None:
            async for event in chat:
                seen.append(event)

        task = asyncio.ensure_future(consume())
        while (
            len([e for e in seen if isinstance(e, ModelStepFinished)]) < 1
            or len(messages_requests(api)) < 2
        ):
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(interrupted())
    assert [m["role"] for m in conversation.messages] == ["user", "assistant"]
    assert_sendable(conversation.messages)


def test_a_client_tool_call_is_answered_as_not_run(api, workdir):
    api.script(replies.tool_use("bash_tool", {"command": "ls"}), finish(text="Fine."))
    conversation = Hosted(api, workdir)
    turn = conversation.turn()
    assert turn.error is None and conversation.messages[-1]["content"][0]["is_error"] is True
    assert NO_CLIENT_TOOLS in conversation.messages[-1]["content"][0]["content"]
    assert conversation.turn("Next.").error is None


# -- replay -------------------------------------------------------------------------------


def record_hosted_turn(api: FakeMessagesAPI, workdir: Path, skill: Skill) -> TurnRecord:
    report = api.hosted.add_file("report.txt", b"Q3 revenue: 12\n")
    paused, view = paused_bash("python make_report.py", "saved\n", file_ids=[report])
    api.script(paused, finish(view_result(view)))
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    session = Session(
        client=client,
        account=client,
        model=DEFAULT_MODEL,
        backend="anthropic",
        skills=[skill],
        settings={"workdir": str(workdir)},
    )
    try:
        events = list(session.chat_sync("Make the report."))
    finally:
        session.close()
    assert isinstance(events[-1], TurnEnded)
    return session.transcript[-1]


def files_of(record: TurnRecord) -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    for entry in record.timeline.entries:
        if isinstance(entry, FileEntry):
            files.setdefault(entry.tool_use_id, []).append(entry.path)
    return files


def replay(record: TurnRecord, recorded: Any, workdir: Path, skill: Skill) -> TurnRecord:
    session = Session(
        client=AnthropicClient(api_key=None),  # never asked: the turns answer from the replay
        replay=Replay([recorded]),
        model=DEFAULT_MODEL,
        backend="anthropic",
        skills=[skill],
        settings={"workdir": str(workdir)},
    )
    try:
        list(session.chat_sync(record.message))
    finally:
        session.close()
    return session.transcript[-1]


def test_a_hosted_turn_replays_from_its_recording_with_no_key(api, workdir, tmp_path):
    skill = make_skill(tmp_path)
    record = record_hosted_turn(api, workdir, skill)
    sent = len(api.requests)
    recorded = dataclasses.replace(record.to_replay_turn(), files=files_of(record))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    replayed = replay(record, recorded, elsewhere, skill)
    assert len(api.requests) == sent  # nothing uploaded, downloaded or asked
    assert replayed.ok and replayed.answer == record.answer and replayed.drift == []
    assert [(c.name, r.content) for c, r in replayed.tool_calls] == [
        (c.name, r.content) for c, r in record.tool_calls
    ]
    assert all(tool.server for tool in replayed.timeline.tools)
    files = [e.path for e in replayed.timeline.entries if isinstance(e, FileEntry)]
    assert files == [str(elsewhere / "report.txt")]  # the recorded path, mapped to here
    notices = [e.text for e in replayed.timeline.entries if type(e).__name__ == "NoticeEntry"]
    assert any("hosted tools are not re-run offline; 2 server-side call(s)" in n for n in notices)
    assert any("is not on this machine" in n for n in notices)


def test_a_recording_without_file_paths_names_its_files_on_replay(api, workdir, tmp_path):
    skill = make_skill(tmp_path)
    record = record_hosted_turn(api, workdir, skill)
    without_paths = dataclasses.replace(record.to_replay_turn(), files={})  # an older record
    replayed = replay(record, without_paths, workdir, skill)
    notices = [e.text for e in replayed.timeline.entries if type(e).__name__ == "NoticeEntry"]
    assert any("of the recording are not downloaded on replay" in n for n in notices)
