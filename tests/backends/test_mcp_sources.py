"""MCP tools in a session's turns: offered beside the backend's, run where its tools run
(inside the local sandbox), gated, traced and recorded, and answered from a recording."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from backends.scripted_client import ScriptedClient, text_reply, tool_use_reply
from mcp_servers import DEMO

from conjure_kernel.clients.replay import Replay
from conjure_kernel.conversation.permissions import Permissions
from conjure_kernel.conversation.rules import Rule
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.events import Notice, ToolCallFinished, ToolCallStarted
from conjure_kernel.mcp.servers import StdioServer


@pytest.fixture
def workdir(tmp_path) -> Path:
    """The workspace, with the demo server in it: the sandbox hides the rest of /tmp."""
    shutil.copy(DEMO, tmp_path / "demo.py")
    return tmp_path


def demo_server(workdir: Path) -> StdioServer:
    import sys

    return StdioServer("demo", sys.executable, (str(workdir / "demo.py"),))


def session_for(workdir: Path, replies, **kwargs) -> Session:
    settings = kwargs.pop("settings", {})
    return Session(
        client=ScriptedClient(replies),
        model="claude-test",
        settings={"workdir": str(workdir), **settings},
        **kwargs,
    )


def chat(session: Session, message: str) -> list:
    async def collect() -> list:
        return [event async for event in session.chat(message)]

    return asyncio.run(asyncio.wait_for(collect(), 60))


def finished(events) -> list[ToolCallFinished]:
    return [event for event in events if isinstance(event, ToolCallFinished)]


def test_a_turn_offers_and_runs_mcp_tools_inside_the_local_sandbox(workdir):
    replies = [
        tool_use_reply(("toolu_1", "mcp__demo__where", {})),
        text_reply("done"),
    ]
    session = session_for(workdir, replies)
    try:
        session.mcp.add(demo_server(workdir))
        assert session.backend_session.mcp_place.where == "in the local sandbox"
        events = chat(session, "where are you?")
        [request, _] = session.client.requests
        names = [tool["name"] for tool in request.tools]
        assert "bash_tool" in names and "mcp__demo__echo" in names
        [done] = finished(events)
        assert done.result.content == str(workdir) and not done.result.is_error
        connection = session.mcp.connections["demo"]
        assert connection.place_label() == "in the local sandbox"
        [record] = session.transcript
        assert [(call.name, result.content) for call, result in record.tool_calls] == [
            ("mcp__demo__where", str(workdir))
        ]
    finally:
        session.close()


def test_the_sandbox_keeps_the_server_off_the_network(workdir):
    script = "import socket; socket.create_connection(('1.1.1.1', 53), 2)"
    (workdir / "net.py").write_text(
        DEMO.read_text().replace("return os.getcwd()", f'{script}\n    return "reached"')
    )
    import sys

    replies = [tool_use_reply(("toolu_1", "mcp__net__where", {})), text_reply("ok")]
    session = session_for(workdir, replies)
    try:
        session.mcp.add(StdioServer("net", sys.executable, (str(workdir / "net.py"),)))
        [done] = finished(chat(session, "reach out"))
        assert done.result.is_error and "reached" not in done.result.content
    finally:
        session.close()


def test_a_crash_mid_call_is_an_error_result_and_the_next_turn_restarts_it(workdir):
    replies = [
        tool_use_reply(("toolu_1", "mcp__demo__crash", {})),
        text_reply("it crashed"),
        tool_use_reply(("toolu_2", "mcp__demo__echo", {"text": "back"})),
        text_reply("back"),
    ]
    session = session_for(workdir, replies)
    try:
        session.mcp.add(demo_server(workdir))
        [crashed] = finished(chat(session, "crash it"))
        assert crashed.result.is_error
        assert crashed.result.content == (
            "the MCP server demo (in the local sandbox): it exited during a call of crash"
        )
        [echoed] = finished(chat(session, "again"))
        assert echoed.result.content == "back"
    finally:
        session.close()


def test_a_server_that_will_not_start_is_a_notice_and_the_turn_goes_on(workdir):
    session = session_for(workdir, [text_reply("fine"), text_reply("again")])
    try:
        session.mcp.define(StdioServer("nope", "no-such-mcp-program"))
        events = chat(session, "hello")
        notices = [event.text for event in events if isinstance(event, Notice)]
        assert any("the MCP server nope" in text for text in notices)
        assert events[-1].text == "fine"
        again = chat(session, "and again")  # not tried again: a turn must not wait for it
        assert not [event for event in again if isinstance(event, Notice) and "nope" in event.text]
        assert session.mcp.connections["nope"].failed_to_start
        retried = session.mcp.restart("nope")
        assert retried is not None and "no-such-mcp-program" in retried.fault
    finally:
        session.close()


def test_rules_name_mcp_tools_and_ask_mode_asks(workdir):
    replies = [
        tool_use_reply(
            ("toolu_1", "mcp__demo__echo", {"text": "a"}),
            ("toolu_2", "mcp__demo__shout", {"text": "b"}),
        ),
        text_reply("ok"),
    ]
    permissions = Permissions("ask").adding(allow=[Rule.parse("mcp__demo__echo")])
    session = session_for(workdir, replies, permissions=permissions)
    try:
        session.mcp.add(demo_server(workdir))
        results = {done.call.name: done.result for done in finished(chat(session, "go"))}
        assert results["mcp__demo__echo"].content == "a"
        assert results["mcp__demo__shout"].is_error  # asked, and no one could answer
        assert "headless" in results["mcp__demo__shout"].content
    finally:
        session.close()


def test_a_deny_rule_on_a_whole_server(workdir):
    replies = [tool_use_reply(("toolu_1", "mcp__demo__echo", {"text": "a"})), text_reply("ok")]
    permissions = Permissions("auto").adding(deny=[Rule.parse("mcp__demo__*")])
    session = session_for(workdir, replies, permissions=permissions)
    try:
        session.mcp.add(demo_server(workdir))
        [done] = finished(chat(session, "go"))
        assert done.result.is_error and "mcp__demo__*" in done.result.content
    finally:
        session.close()


def recorded_turn(workdir: Path) -> TurnRecord:
    replies = [
        tool_use_reply(("toolu_1", "mcp__demo__echo", {"text": "recorded"})),
        text_reply("ok"),
    ]
    session = session_for(workdir, replies)
    try:
        session.mcp.add(demo_server(workdir))
        chat(session, "echo it")
        return TurnRecord.from_json(session.transcript[0].to_json())
    finally:
        session.close()


def test_replay_without_the_server_answers_from_the_recording(workdir):
    record = recorded_turn(workdir)
    replay = Replay([record.to_replay_turn()])
    session = session_for(workdir, [], replay=replay)
    try:
        events = chat(session, "echo it")
        [done] = finished(events)
        assert done.result.content == "recorded" and not done.result.is_error
        notices = [event.text for event in events if isinstance(event, Notice)]
        assert (
            "replayed: the MCP server demo's calls are answered as recorded, not re-run" in notices
        )
        assert session.transcript[-1].drift == []
    finally:
        session.close()


def test_replay_live_reruns_a_present_server(workdir):
    record = recorded_turn(workdir)
    (workdir / "demo.py").write_text(
        DEMO.read_text().replace("return text\n", "return text + ' (live)'\n", 1)
    )
    replay = Replay([record.to_replay_turn()], live=True)
    session = session_for(workdir, [], replay=replay)
    try:
        session.mcp.add(demo_server(workdir))
        [done] = finished(chat(session, "echo it"))
        assert done.result.content == "recorded (live)"
        [drift] = session.transcript[-1].drift
        assert drift["name"] == "mcp__demo__echo"
    finally:
        session.close()


def test_started_events_name_the_mcp_tool(workdir):
    replies = [tool_use_reply(("toolu_1", "mcp__demo__echo", {"text": "x"})), text_reply("ok")]
    session = session_for(workdir, replies)
    try:
        session.mcp.add(demo_server(workdir))
        events = chat(session, "go")
        [started] = [event for event in events if isinstance(event, ToolCallStarted)]
        assert started.call.name == "mcp__demo__echo" and started.call.input == {"text": "x"}
    finally:
        session.close()


def test_a_url_server_is_asked_about_once_per_server_unless_a_rule_allows_it(workdir):
    from mcp_servers import serving_http

    from conjure_kernel.conversation.session_gate import HEADLESS, Approval
    from conjure_kernel.mcp.servers import HttpServer

    asked = []

    async def say_yes(request):
        asked.append((request.question, str(request.always)))
        return Approval(True)

    replies = [
        tool_use_reply(("toolu_1", "mcp__web__echo", {"text": "a"})),
        tool_use_reply(("toolu_2", "mcp__web__shout", {"text": "b"})),
        text_reply("ok"),
        tool_use_reply(("toolu_3", "mcp__web__echo", {"text": "c"})),
        text_reply("ok"),
        tool_use_reply(("toolu_4", "mcp__web__echo", {"text": "d"})),
        text_reply("ok"),
    ]
    with serving_http() as url:
        session = session_for(workdir, replies)  # sandboxed local: auto mode
        try:
            session.mcp.add(HttpServer("web", url))

            async def collect(message, ask):
                return [event async for event in session.chat(message, ask=ask)]

            events = asyncio.run(collect("two calls", say_yes))
            assert [done.result.content for done in finished(events)] == ["a", "B"]
            assert asked == [
                (
                    f'run mcp__web__echo with {{"text": "a"}} at {url}, reached from the kernel, '
                    "outside the local backend's boundary (yes allows every tool of web for "
                    "this session)",
                    "mcp__web__*(*)",
                )
            ]
            session.permissions = Permissions("auto")  # forget the server's rule
            [denied] = finished(asyncio.run(collect("headless", None)))
            assert (denied.result.content, denied.result.is_error) == (HEADLESS, True)
            session.permissions = Permissions("auto").adding(allow=[Rule.parse("mcp__web__*")])
            [allowed] = finished(asyncio.run(collect("allowed by a rule", None)))
            assert allowed.result.content == "d"
        finally:
            session.close()


def test_a_project_files_server_outside_a_sandbox_waits_for_approval(workdir):
    replies = [text_reply("without it"), text_reply("still without"), text_reply("with it")]
    session = session_for(workdir, replies, settings={"sandbox": "off"})
    try:
        session.mcp.define(demo_server(workdir), project_file="/repo/.mcp.json")
        events = chat(session, "hello")
        notices = [event.text for event in events if isinstance(event, Notice)]
        assert [text for text in notices if "demo" in text] == [
            "the MCP server(s) demo from /repo/.mcp.json are not started: they would run "
            "outside any sandbox (on this machine, or reached from the kernel); read the "
            "file, then %mcp trust NAME starts the one you approve (e.g. %mcp trust demo)"
        ]
        assert not session.mcp.connections["demo"].running
        again = chat(session, "again")  # said once
        assert not [event for event in again if isinstance(event, Notice) and "demo" in event.text]
        assert session.mcp.trust("demo")
        chat(session, "now")
        assert session.mcp.connections["demo"].running
    finally:
        session.close()


def test_a_project_files_server_starts_unasked_inside_the_sandbox(workdir):
    session = session_for(workdir, [text_reply("with it")])
    try:
        session.mcp.define(demo_server(workdir), project_file="/repo/.mcp.json")
        chat(session, "hello")
        assert session.mcp.connections["demo"].running
    finally:
        session.close()


def test_in_ask_mode_a_yes_to_a_url_servers_call_allows_that_call_only(workdir):
    from mcp_servers import serving_http

    from conjure_kernel.conversation.session_gate import Approval
    from conjure_kernel.mcp.servers import HttpServer

    asked = []

    async def say_yes(request):
        asked.append(request.question)
        return Approval(True)

    replies = [
        tool_use_reply(("toolu_1", "mcp__web__echo", {"text": "a"})),
        tool_use_reply(("toolu_2", "mcp__web__shout", {"text": "b"})),
        text_reply("ok"),
    ]
    with serving_http() as url:
        session = session_for(workdir, replies, permissions=Permissions("ask"))
        try:
            session.mcp.add(HttpServer("web", url))

            async def collect():
                return [event async for event in session.chat("two calls", ask=say_yes)]

            assert [done.result.content for done in finished(asyncio.run(collect()))] == ["a", "B"]
            assert asked == [
                f'run mcp__web__echo with {{"text": "a"}} at {url}, reached from the kernel, '
                "outside the local backend's boundary",
                f'run mcp__web__shout with {{"text": "b"}} at {url}, reached from the kernel, '
                "outside the local backend's boundary",
            ]
            assert not session.permissions.allow
        finally:
            session.close()


def test_the_server_wide_rule_is_made_from_the_servers_name():
    from conjure_kernel.conversation.places import Places
    from conjure_kernel.conversation.session_gate import Approval, SessionGate
    from conjure_kernel.tools.values import ToolCall

    asked = []

    async def say_yes(request):
        asked.append(str(request.always))
        return Approval(True)

    gate = SessionGate(
        Permissions(),
        "auto",
        Places.of({"workdir": "/w"}, (), lambda path: path, "/w"),
        "local",
        say_yes,
        outside={name: ("gh", "https://h/mcp") for name in ("mcp__gh__repo__get", "mcp__gh__x")},
    )

    async def both():
        for name in ("mcp__gh__repo__get", "mcp__gh__x"):
            call = ToolCall("toolu_" + name, name, {})
            verdict = gate.check(call)
            if verdict.allowed is None:
                await gate.ask(call, verdict)

    asyncio.run(both())
    assert asked == ["mcp__gh__*(*)"]
