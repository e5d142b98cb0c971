"""Hybrid sessions: one conversation, each call on the backend its route names.

Driven as a person drives them, through ``Session`` (the gate, the record), with the
scripted model for the client-side routes and the fake Messages API (the real SDK) for
a route to Anthropic's code execution. The docker routes use the real engine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeMessagesAPI, replies
from scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.backends.hybrid_settings import HybridSettings
from conjure_kernel.backends.native import NativeSkill
from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import DEFAULT_MODEL
from conjure_kernel.clients.replay import Replay
from conjure_kernel.conversation.labels import tool_title
from conjure_kernel.conversation.permissions import Permissions
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.session_gate import Approval, ApprovalRequest
from conjure_kernel.conversation.turn import ToolEntry
from conjure_kernel.errors import BackendError, BackendSettingError
from conjure_kernel.events import (
    ServerToolCallStarted,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    TurnFailed,
)
from conjure_kernel.notebook.history import history_bundle
from conjure_kernel.skills.discovery import load_skill
from conjure_kernel.skills.skill import Skill


class Shouter(NativeSkill):
    name = "shouter"
    description = "Shouts a command back."

    def execute(self, command, context):
        return command.upper()


class Whisperer(NativeSkill):
    name = "whisperer"
    description = "Whispers a command back."

    def execute(self, command, context):
        return command.lower()


NAMESPACE = {"Shouter": Shouter, "Whisperer": Whisperer}


@pytest.fixture
def sessions() -> Iterator[list[Session]]:
    made: list[Session] = []
    yield made
    for session in made:
        session.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.txt").write_text("a note on the host\n")
    return folder


@pytest.fixture
def hybrid(sessions, workdir):
    """A session on ``hybrid`` with the given routes, in ``workdir``."""

    def make(client: Any, routes: dict[str, str], **kwargs: Any) -> Session:
        kwargs.setdefault("namespace", dict(NAMESPACE))
        session = Session(
            client=client,
            model="claude-test",
            backend="hybrid",
            settings={"workdir": str(workdir), **routes},
            **kwargs,
        )
        sessions.append(session)
        return session

    return make


def run_turn(session: Session, message: str = "go", **kwargs: Any) -> list[Any]:
    async def collect() -> list[Any]:
        return [event async for event in session.chat(message, **kwargs)]

    return asyncio.run(asyncio.wait_for(collect(), 120))


def ran_on(events: list[Any]) -> dict[str, str]:
    """Each call's id → the backend its start named."""
    return {event.call.id: event.backend for event in events if isinstance(event, ToolCallStarted)}


def results(events: list[Any]) -> dict[str, Any]:
    return {event.call.id: event.result for event in events if isinstance(event, ToolCallFinished)}


def make_skill(root: Path, name: str) -> Skill:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(f"---\nname: {name}\ndescription: Does {name}.\n---\nBody.\n")
    return load_skill(folder)


# --- the routes as written -------------------------------------------------------------


def test_the_issue_s_routes_read_as_written():
    settings = HybridSettings.parse(
        {
            "view": "local",
            "bash_tool": "docker",
            "skill:xlsx": "anthropic",
            "default": "docker",
            "docker.memory": "2g",
        }
    )
    routes = settings.read()
    assert routes.default == "docker"
    assert dict(routes.tools) == {"view": "local", "bash_tool": "docker"}
    assert dict(routes.skills) == {"xlsx": "anthropic"}
    assert {k: dict(v) for k, v in routes.settings.items()} == {"docker": {"memory": "2g"}}
    assert routes.backends == ["docker", "local", "anthropic"]
    assert routes.rules() == [
        "view=local",
        "bash_tool=docker",
        "skill:xlsx=anthropic",
        "default=docker",
    ]


def test_routes_may_be_configured_as_one_setting():
    settings = HybridSettings.parse(
        {}, {"routes": "view=local mcp:files=docker", "default": "native"}
    )
    routes = settings.read()
    assert routes.tools == {"view": "local"} and routes.mcp == {"files": "docker"}
    assert routes.default == "native"


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"view": "dockr"}, "no backend 'dockr'; backends: anthropic, docker, local, native"),
        ({"view": "hybrid"}, "a route names a backend other than hybrid"),
        ({"default": "nowhere"}, "no backend 'nowhere'"),
        ({"mcp:files": "anthropic"}, "a stdio server starts on local or docker"),
        ({"docker.workdir": "/x"}, "give workdir= once"),
        ({"dockr.memory": "2g"}, "no backend 'dockr'"),
        ({"a/b": "local"}, "expected TOOL=, skill:NAME=, mcp:NAME= or BACKEND.KEY="),
        ({"skill:": "local"}, "expected TOOL="),
        (
            {"mcp:a": "local", "mcp:b": "docker"},
            "the stdio servers of a session start in one place",
        ),
        (
            {"default": "docker", "local.sandbox": "off"},
            "'local.sandbox=off': no route runs on local",
        ),
    ],
)
def test_a_bad_route_is_one_line_naming_it(given, said):
    with pytest.raises(BackendSettingError) as raised:
        HybridSettings.parse(given)
    assert said in str(raised.value)
    assert "hybrid route" in str(raised.value) and "--help" in raised.value.hint


def test_help_lists_the_route_forms():
    from conjure_kernel.backends.registry import get_backend
    from conjure_kernel.notebook.wording import backend_help

    text = backend_help(get_backend("hybrid"))
    assert "skill:NAME=BACKEND" in text and "BACKEND.KEY=VALUE" in text and "default=" in text


# --- routing on this machine (local and native) ------------------------------------------


def test_each_call_runs_on_its_route_and_says_where(hybrid, workdir):
    client = ScriptedClient(
        [
            tool_use_reply(
                ("v", "view", {"path": "notes.txt"}),
                ("b", "bash_tool", {"command": "echo made > made.txt; echo $((6*7))"}),
                ("s", "shouter_execute", {"command": "hello"}),
            ),
            text_reply("done"),
        ]
    )
    session = hybrid(client, {"skill:shouter": "native", "default": "local"})
    events = run_turn(session)
    assert ran_on(events) == {"v": "local", "b": "local", "s": "native"}
    got = results(events)
    assert "a note on the host" in got["v"].content and "42" in got["b"].content
    assert got["s"].content == "HELLO"
    assert (workdir / "made.txt").read_text() == "made\n"
    offered = [tool["name"] for tool in client.requests[0].tools]
    assert "shouter_execute" in offered and "whisperer_execute" not in offered
    record = session.transcript[-1]
    tools = [entry for entry in record.timeline.entries if isinstance(entry, ToolEntry)]
    assert [tool.backend for tool in tools] == ["local", "local", "native"]
    assert tool_title(tools[2]).endswith("· on native")
    table = history_bundle(session.transcript, str, messages=len(session.messages))
    assert "hybrid (local, native)" in table["text/plain"]
    saved = record.to_json()
    assert [e.get("backend") for e in saved["timeline"] if e["type"] == "tool"] == [
        "local",
        "local",
        "native",
    ]


def test_the_system_prompt_says_where_each_tool_runs(hybrid, workdir):
    client = ScriptedClient([text_reply("hi")])
    session = hybrid(client, {"skill:shouter": "native", "view": "local", "default": "local"})
    run_turn(session)
    system = str(client.requests[0].system)
    assert "view, bash_tool, create_file, str_replace: on the user's machine" in system
    assert "shouter_execute: as Python methods inside the user's Jupyter kernel" in system
    assert f"({workdir} on local and native)" in system
    assert "Shell state" in system


def test_describe_names_each_route_and_its_boundary(hybrid, workdir):
    session = hybrid(ScriptedClient([]), {"skill:shouter": "native", "default": "local"})
    text = session.backend_session.describe()
    assert text.startswith("hybrid: skill:shouter=native default=local; one workspace")
    assert "shouter_execute → native" in text and "view, bash_tool" in text
    assert "route local:" in text and "bubblewrap sandbox" in text
    assert "route native:" in text and "Boundary: none" in text


@pytest.mark.parametrize(
    ("routes", "said"),
    [
        ({"veiw": "local"}, "local offers no tool 'veiw'"),
        ({"skill:nothing": "local"}, "no skill 'nothing' is loaded"),
        ({"skill:nothing": "native"}, "no native skill 'nothing' in the namespace"),
        ({"shouter_execute": "local", "skill:shouter": "native"}, "it is offered by native"),
    ],
)
def test_a_route_that_cannot_hold_is_refused_and_the_backend_stays(hybrid, routes, said):
    client = ScriptedClient([text_reply("still here")])
    session = Session(client=client, model="claude-test", namespace=dict(NAMESPACE))
    with pytest.raises(BackendError) as raised:
        session.switch_backend("hybrid", routes)
    assert said in str(raised.value) and raised.value.hint
    assert "%skill " not in raised.value.hint  # the magic is %skills
    assert session.backend_name == "local"
    assert any(isinstance(e, TurnEnded) for e in run_turn(session))
    session.close()


def test_a_skill_folder_cannot_go_to_native(hybrid, tmp_path):
    skill = make_skill(tmp_path / "skills", "report")
    with pytest.raises(BackendError, match="a folder, which the native backend cannot hold"):
        _ = hybrid(ScriptedClient([]), {"default": "native"}, skills=[skill]).backend_session


def test_each_route_keeps_its_own_permission_default(hybrid):
    """``local`` without a sandbox asks; ``native`` runs without asking, as each does alone.
    An "always" answered for one call holds for the rest of the session, on any route."""
    client = ScriptedClient(
        [
            tool_use_reply(
                ("b", "bash_tool", {"command": "touch x"}),
                ("s", "shouter_execute", {"command": "x"}),
            ),
            tool_use_reply(("b2", "bash_tool", {"command": "touch x"})),
            text_reply("done"),
        ]
    )
    asked: list[ApprovalRequest] = []

    async def ask(request: ApprovalRequest) -> Approval:
        asked.append(request)
        return Approval(True, always=True)

    session = hybrid(
        client,
        {"skill:shouter": "native", "default": "local", "local.sandbox": "off"},
        permissions=Permissions(),  # each route's default mode, as in a notebook
    )
    events = run_turn(session, ask=ask)
    assert [request.call.id for request in asked] == ["b"]
    assert "local backend" in asked[0].question
    assert not results(events)["b2"].is_error


def test_headless_the_asking_route_is_denied_and_the_other_runs(hybrid):
    client = ScriptedClient(
        [
            tool_use_reply(
                ("b", "bash_tool", {"command": "touch x"}),
                ("s", "shouter_execute", {"command": "x"}),
            ),
            text_reply("done"),
        ]
    )
    session = hybrid(
        client,
        {"skill:shouter": "native", "default": "local", "local.sandbox": "off"},
        permissions=Permissions(),  # each route's default mode, as in a notebook
    )
    got = results(run_turn(session))
    assert got["b"].is_error and "no one could be asked" in got["b"].content
    assert got["s"].content == "X"


def test_switching_in_and_out_keeps_the_conversation(sessions, workdir):
    client = ScriptedClient([text_reply("one"), text_reply("two"), text_reply("three")])
    session = Session(
        client=client,
        model="claude-test",
        namespace=dict(NAMESPACE),
        settings={"workdir": str(workdir)},
    )
    sessions.append(session)
    run_turn(session, "first")
    session.switch_backend("hybrid", {"skill:shouter": "native", "workdir": str(workdir)})
    run_turn(session, "second")
    session.switch_backend("local", {"workdir": str(workdir)})
    run_turn(session, "third")
    sent = [m["content"] for m in client.requests[2].messages if m["role"] == "user"]
    assert sent == ["first", "second", "third"]
    assert [record.backend for record in session.transcript] == ["local", "hybrid", "local"]


# --- docker beside the host -----------------------------------------------------------------


@pytest.fixture
def engine():
    from docker_support import engine_with_image

    return engine_with_image()


def test_host_files_viewed_locally_processed_in_docker_and_back(hybrid, workdir, engine, tmp_path):
    """The issue's check: view on local, commands in docker, a native skill, one folder."""
    skill = make_skill(tmp_path / "skills", "counter")
    client = ScriptedClient(
        [
            tool_use_reply(("v1", "view", {"path": "notes.txt"})),
            tool_use_reply(
                (
                    "b1",
                    "bash_tool",
                    {"command": "wc -c < notes.txt > count.txt; cd /tmp; hostname"},
                ),
                ("s1", "shouter_execute", {"command": "counted"}),
            ),
            tool_use_reply(
                ("v2", "view", {"path": "count.txt"}),
                ("v3", "view", {"path": "/mnt/skills/counter/SKILL.md"}),
                ("b2", "bash_tool", {"command": "pwd"}),
            ),
            text_reply("done"),
        ]
    )
    session = hybrid(
        client,
        {"view": "local", "bash_tool": "docker", "skill:shouter": "native", "default": "docker"},
        skills=[skill],
    )
    events = run_turn(session)
    assert ran_on(events) == {
        "v1": "local",
        "b1": "docker",
        "s1": "native",
        "v2": "local",
        "v3": "docker",  # the skill is in the sandbox: a call naming its folder runs there
        "b2": "docker",
    }
    got = results(events)
    assert "a note on the host" in got["v1"].content
    assert (workdir / "count.txt").read_text().strip() == "19"
    assert "19" in got["v2"].content
    assert "Body." in got["v3"].content
    assert got["b2"].content.startswith("/tmp")  # the docker shell kept its directory
    assert got["s1"].content == "COUNTED"
    system = str(client.requests[0].system)
    assert "<location>/mnt/skills/counter/SKILL.md</location>" in system
    assert f"/workspace on docker; {workdir} on local and native" in system


def test_a_route_that_cannot_start_is_refused_with_its_reason(hybrid, workdir, engine):
    client = ScriptedClient([text_reply("still local")])
    session = Session(client=client, model="claude-test", settings={"workdir": str(workdir)})
    with pytest.raises(BackendError) as raised:
        session.switch_backend(
            "hybrid",
            {
                "view": "local",
                "bash_tool": "docker",
                "docker.host": "tcp://127.0.0.1:9",
                "workdir": str(workdir),
            },
        )
    assert "the hybrid route bash_tool=docker cannot open" in str(raised.value)
    assert session.backend_name == "local"
    assert any(isinstance(e, TurnEnded) for e in run_turn(session))
    session.close()


# --- Anthropic's code execution beside client tools ----------------------------------------


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def hosted_hybrid(hybrid, api, monkeypatch, tmp_path):
    """A hybrid session with an anthropic route, against the fake API through the SDK
    (the upload cache in a Jupyter data folder of the test's own)."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))

    def make(routes: dict[str, str]) -> Session:
        client = AnthropicClient(api_key="test-key", base_url=api.url)
        session = hybrid(client, routes, account=client)
        session.model = DEFAULT_MODEL
        return session

    return make


def test_code_execution_and_a_local_tool_in_one_turn(hosted_hybrid, hybrid, workdir, api):
    run = replies.server_tool_use("bash_code_execution", {"command": "echo 42"})
    api.script(
        replies.message(
            run,
            replies.bash_result(run["id"], stdout="42\n"),
            {
                "type": "tool_use",
                "id": "toolu_view",
                "name": "view",
                "input": {"path": "notes.txt"},
            },
            stop_reason="tool_use",
            container=replies.container(),
        ),
        replies.text("both ran"),
    )
    session = hosted_hybrid({"view": "local", "skill:xlsx": "anthropic", "default": "anthropic"})
    events = run_turn(session)
    assert not [e for e in events if isinstance(e, TurnFailed)], events
    hosted = [e for e in events if isinstance(e, ServerToolCallStarted)]
    assert [e.backend for e in hosted] == ["anthropic"]
    assert ran_on(events)["toolu_view"] == "local"
    assert "a note on the host" in results(events)["toolu_view"].content
    first, second = [r.body for r in api.requests_to("POST", "/v1/messages")]
    assert [tool["name"] for tool in first["tools"]] == ["code_execution", "view"]
    assert {"type": "anthropic", "skill_id": "xlsx", "version": "latest"} in first["container"][
        "skills"
    ]
    answered = second["messages"][-1]["content"]
    assert answered[0]["tool_use_id"] == "toolu_view" and not answered[0].get("is_error")
    # replayed with no key: code execution answers as recorded, the view runs again here
    (workdir / "notes.txt").write_text("changed since\n")
    again = hybrid(
        AnthropicClient(api_key=None),
        {"view": "local", "skill:xlsx": "anthropic", "default": "anthropic"},
        replay=Replay([session.transcript[-1].to_replay_turn()]),
    )
    again.model = DEFAULT_MODEL
    replayed_events = run_turn(again)
    assert ran_on(replayed_events)["toolu_view"] == "local"
    assert "changed since" in results(replayed_events)["toolu_view"].content
    replayed = again.transcript[-1]
    assert [drift["tool_use_id"] for drift in replayed.drift] == ["toolu_view"]
    assert len(api.requests_to("POST", "/v1/messages")) == 2  # nothing more was sent


def test_only_a_file_tool_s_path_moves_a_call_to_a_skill_s_route(hybrid, tmp_path, engine):
    """A command runs where bash_tool runs, whatever it mentions or carries (a stray
    ``path`` key included); a file tool whose path is in the skill's folder runs there."""
    skill = make_skill(tmp_path / "skills", "mine")
    folder = str(skill.root)
    calls = (
        ("b", "bash_tool", {"command": f"cat {folder}/SKILL.md; hostname"}),
        ("p", "bash_tool", {"command": "hostname", "path": f"{folder}/SKILL.md"}),
        ("e", "bash_tool", {"command": f"ls {folder}", "path": ""}),
        ("v", "view", {"path": f"{folder}/SKILL.md"}),
        ("w", "view", {"path": f"{folder}/../../work/notes.txt"}),
    )
    for routes in (
        {"skill:mine": "local", "bash_tool": "docker", "default": "docker"},
        {"skill:mine": "local", "default": "docker"},
    ):
        session = hybrid(
            ScriptedClient([tool_use_reply(*calls), text_reply("ok")]), routes, skills=[skill]
        )
        events = run_turn(session)
        assert ran_on(events) == {
            "b": "docker",
            "p": "docker",
            "e": "docker",
            "v": "local",
            "w": "docker",
        }
        assert "Body." in results(events)["v"].content
        assert "files only: its scripts cannot run there, bash_tool runs on docker" in (
            session.backend_session.describe()
        )


def test_a_tool_routed_to_native_by_name_is_offered(hybrid):
    client = ScriptedClient(
        [tool_use_reply(("s", "shouter_execute", {"command": "x"})), text_reply("ok")]
    )
    session = hybrid(client, {"shouter_execute": "native", "default": "local"})
    assert ran_on(run_turn(session)) == {"s": "native"}
    offered = [tool["name"] for tool in client.requests[0].tools]
    assert "shouter_execute" in offered and "whisperer_execute" not in offered


def test_stdio_mcp_servers_start_on_their_route(hybrid, workdir, engine):
    import shutil
    import sys

    from mcp_servers import DEMO

    from conjure_kernel.mcp.servers import StdioServer

    shutil.copy(DEMO, workdir / "demo.py")
    client = ScriptedClient([tool_use_reply(("m", "mcp__demo__where", {})), text_reply("ok")])
    session = hybrid(client, {"mcp:demo": "local", "default": "docker"})
    session.mcp.add(StdioServer("demo", sys.executable, (str(workdir / "demo.py"),)))
    events = run_turn(session)
    assert ran_on(events) == {"m": "local"}
    assert results(events)["m"].content == str(workdir)
    assert session.mcp.connections["demo"].place_label() == "in the local sandbox"
    assert "mcp__demo__echo" in [tool["name"] for tool in client.requests[0].tools]


@pytest.mark.parametrize(("recorded_on", "runs"), [("local", True), ("docker", False)])
def test_a_recorded_yes_counts_again_only_on_the_backend_it_was_given_on(
    sessions, workdir, recorded_on, runs
):
    """Replayed on an unsandboxed local backend that asks, a command that ran in docker
    when recorded is decided afresh (headless: denied), not run "as recorded"."""
    from conjure_kernel.clients.replay import ReplayTurn

    call = ("b", "bash_tool", {"command": "touch made-by-replay"})
    turn = ReplayTurn(
        "go",
        [tool_use_reply(call), text_reply("ok")],
        {"b": ("", False)},
        ran_on={"b": recorded_on},
    )
    session = Session(
        client=ScriptedClient([]),
        model="claude-test",
        settings={"workdir": str(workdir), "sandbox": "off"},
        permissions=Permissions(),
        replay=Replay([turn], backend="local"),
    )
    sessions.append(session)
    got = results(run_turn(session))
    assert (workdir / "made-by-replay").exists() == runs
    assert got["b"].is_error != runs


def test_a_held_replay_takes_only_the_folder_of_an_overridden_switch(sessions, workdir, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    session = Session(
        client=ScriptedClient([]),
        model="claude-test",
        settings={"workdir": str(workdir)},
        replay=Replay([], backend="local"),
    )
    sessions.append(session)
    held = session.switch_backend(
        "hybrid", {"local.sandbox": "off", "local.network": "on", "workdir": str(elsewhere)}
    )
    assert held is False and session.backend_name == "local"
    assert session.options.settings.workdir == str(elsewhere)
    assert session.options.settings.sandbox == "on" and session.options.settings.network == "off"


def test_only_pauses_count_against_max_continuations(hosted_hybrid, api):
    run = replies.server_tool_use("bash_code_execution", {"command": "sleep 1"})
    api.script(
        replies.tool_use("view", {"path": "notes.txt"}),
        replies.tool_use("view", {"path": "notes.txt"}),
        replies.message(run, stop_reason="pause_turn", container=replies.container()),
        replies.message(
            replies.bash_result(run["id"], stdout="slept\n"),
            {"type": "text", "text": "done"},
            container=replies.container(),
        ),
    )
    session = hosted_hybrid(
        {"view": "local", "default": "anthropic", "anthropic.max_continuations": "1"}
    )
    events = run_turn(session)
    assert not [e for e in events if isinstance(e, TurnFailed)], events
    assert isinstance(events[-1], TurnEnded)
