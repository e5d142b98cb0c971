"""The session: turns, records, backend switches, skills, files, restore and the sync API."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from backends.scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.backends.native import NativeSkill
from conjure_kernel.clients.base import ModelRequest, ModelResponse, TextChunk, Usage
from conjure_kernel.clients.replay import Replay, ReplayTurn
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.transcript import TurnChange, TurnRecord
from conjure_kernel.errors import BackendError, BackendSettingError, ModelError
from conjure_kernel.events import (
    Notice,
    TextDelta,
    ToolCallFinished,
    TurnEnded,
    TurnFailed,
    TurnStarted,
)
from conjure_kernel.skills.discovery import load_skill
from conjure_kernel.skills.skill import Skill


class Shouter(NativeSkill):
    name = "shouter"
    description = "Shouts a command back."

    def execute(self, command, context):
        return command.upper()


class BrokenClient:
    """Every request fails the way the Messages API fails."""

    def __init__(self) -> None:
        self.requests: list[ModelRequest] = []

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextChunk | ModelResponse]:
        self.requests.append(request)
        raise ModelError("the API is overloaded", hint="try again in a minute")
        yield  # an async generator, like a real client


@pytest.fixture
def sessions() -> Iterator[list[Session]]:
    """Sessions made by a test, closed after it."""
    made: list[Session] = []
    yield made
    for session in made:
        session.close()


@pytest.fixture
def new_session(sessions, tmp_path):
    def make(client: Any, **kwargs: Any) -> Session:
        kwargs.setdefault("settings", {"workdir": str(tmp_path)})
        session = Session(client=client, model="claude-test", **kwargs)
        sessions.append(session)
        return session

    return make


def chat(session: Session, message: str) -> list:
    async def collect() -> list:
        return [event async for event in session.chat(message)]

    return asyncio.run(asyncio.wait_for(collect(), 30))


def make_skill(root: Path, name: str, description: str) -> Skill:
    root.mkdir(parents=True)
    (root / "SKILL.md").write_text(f"---\nname: {name}\ndescription: {description}\n---\nBody\n")
    return load_skill(root)


def two_turn_script() -> list[ModelResponse]:
    return [
        tool_use_reply(("toolu_1", "create_file", {"path": "notes/a.txt", "file_text": "hi"})),
        text_reply("Wrote it."),
        tool_use_reply(("toolu_2", "bash_tool", {"command": "cat notes/a.txt"})),
        text_reply("It says hi."),
    ]


def test_chat_starts_with_turn_started_and_records_the_turn(new_session, tmp_path):
    session = new_session(ScriptedClient(two_turn_script()[:2]))
    events = chat(session, "write a note")
    assert events[0] == TurnStarted("write a note", "local", "claude-test")
    assert isinstance(events[-1], TurnEnded) and events[-1].text == "Wrote it."
    [record] = session.transcript
    assert record.message == "write a note" and record.backend == "local"
    assert record.ok and record.stop_reason == "end_turn"
    assert [call.name for call, _ in record.tool_calls] == ["create_file"]
    assert record.paths == {"workdir": str(tmp_path)}
    assert session.usage == Usage(20, 10) == record.usage
    assert [m["role"] for m in session.messages] == ["user", "assistant", "user", "assistant"]


def test_a_model_error_ends_the_turn_with_turn_failed_instead_of_raising(new_session):
    client = BrokenClient()
    session = new_session(client)
    events = chat(session, "hello")
    assert [type(event) for event in events] == [TurnStarted, TurnFailed]
    assert isinstance(events[-1].error, ModelError)
    [record] = session.transcript
    assert record.error == {
        "error": "ModelError",
        "message": "the API is overloaded",
        "hint": "try again in a minute",
    }
    assert not record.ok
    assert session.messages == []
    assert len(client.requests) == 1


def test_a_backend_that_cannot_start_fails_the_turn_instead_of_raising(new_session, tmp_path):
    """``chat`` promises that a ConjureError ends the turn with TurnFailed."""
    session = new_session(
        ScriptedClient([text_reply("unused")]),
        settings={"workdir": str(tmp_path / "missing")},
    )
    events = chat(session, "hello")
    assert isinstance(events[-1], TurnFailed)
    assert isinstance(events[-1].error, BackendError)


def test_switching_backend_keeps_the_conversation(new_session, tmp_path):
    client = ScriptedClient(
        [
            text_reply("Hi from local."),
            tool_use_reply(("toolu_9", "shouter_execute", {"command": "hey"})),
            text_reply("It shouted."),
        ]
    )
    session = new_session(client)
    chat(session, "hello")
    first_turn = list(session.messages)
    session.namespace = {"Shouter": Shouter}
    session.switch_backend("native", {"workdir": str(tmp_path)})
    assert session.backend_name == "native"
    events = chat(session, "shout hey")
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished[0].result.content == "HEY"
    assert client.requests[1].messages[:2] == first_turn
    assert session.messages[:2] == first_turn
    assert [record.backend for record in session.transcript] == ["local", "native"]


def test_switching_to_a_backend_that_cannot_start_keeps_the_current_one(new_session, tmp_path):
    client = ScriptedClient([text_reply("one"), text_reply("two")])
    session = new_session(client)
    chat(session, "first")
    current = session.backend_session
    options = session.options
    session.namespace = {}
    with pytest.raises(BackendError, match="no NativeSkill"):
        session.switch_backend("native", {"workdir": str(tmp_path)})
    with pytest.raises(BackendSettingError, match="unknown setting 'timout'"):
        session.switch_backend("local", {"timout": "5"})
    assert session.backend_name == "local"
    assert session.backend_session is current
    assert session.options is options
    events = chat(session, "second")
    assert isinstance(events[-1], TurnEnded) and events[-1].text == "two"
    assert len(session.messages) == 4


def test_add_skills_replaces_skills_by_name_and_the_next_turn_sees_them(new_session, tmp_path):
    old_pdf = make_skill(tmp_path / "v1/pdf", "pdf", "Old PDF tricks.")
    csv = make_skill(tmp_path / "v1/csv", "csv", "Work with CSV files.")
    new_pdf = make_skill(tmp_path / "v2/pdf", "pdf", "New PDF tricks.")
    client = ScriptedClient([text_reply("one"), text_reply("two")])
    session = new_session(client, skills=[old_pdf, csv])
    chat(session, "first")
    assert "Old PDF tricks." in client.requests[0].system
    session.add_skills([new_pdf])
    assert session.skills == [csv, new_pdf]
    chat(session, "second")
    assert "New PDF tricks." in client.requests[1].system
    assert "Old PDF tricks." not in client.requests[1].system
    assert "Work with CSV files." in client.requests[1].system
    assert session.transcript[1].skills == {
        "csv": csv.content_hash(),
        "pdf": new_pdf.content_hash(),
    }


def test_created_files_are_tracked_once_and_failed_ones_are_not(new_session, tmp_path):
    (tmp_path / "folder").mkdir()
    client = ScriptedClient(
        [
            tool_use_reply(
                ("t1", "create_file", {"path": "out/report.md", "file_text": "# R"}),
                ("t2", "create_file", {"path": "folder", "file_text": "onto a folder"}),
            ),
            tool_use_reply(("t3", "create_file", {"path": "out/report.md", "file_text": "# R2"})),
            text_reply("Done."),
        ]
    )
    session = new_session(client)
    events = chat(session, "write a report")
    errors = {e.call.id: e.result.is_error for e in events if isinstance(e, ToolCallFinished)}
    assert errors == {"t1": False, "t2": True, "t3": False}
    assert session.files == ["out/report.md"]
    assert (tmp_path / "out/report.md").read_text() == "# R2"


def test_reset_forgets_the_conversation_but_keeps_backend_skills_and_model(new_session, tmp_path):
    skill = make_skill(tmp_path / "skills/pdf", "pdf", "Work with PDFs.")
    session = new_session(ScriptedClient(two_turn_script()[:2]), skills=[skill])
    chat(session, "write a note")
    assert session.messages and session.transcript and session.files
    before = session.backend_session
    session.reset()
    assert session.messages == [] and session.transcript == [] and session.files == []
    assert session.backend_session is not before  # closed: what its tools left running stops
    assert session.usage == Usage()
    assert session.backend_name == "local" and session.skills == [skill]
    assert session.model == "claude-test"


def test_restore_rebuilds_the_messages_of_the_original_session(new_session):
    original = new_session(ScriptedClient(two_turn_script()))
    chat(original, "write a note")
    chat(original, "read it back")
    saved = [TurnRecord.from_json(record.to_json()) for record in original.transcript]

    restored = new_session(ScriptedClient([]))
    restored.restore(saved)
    assert restored.messages == original.messages
    assert restored.usage == original.usage
    assert restored.transcript == saved


def test_restore_after_a_failed_turn_rebuilds_the_same_messages(new_session):
    original = new_session(BrokenClient())
    chat(original, "hello")
    original.client = ScriptedClient([text_reply("Hi.")])
    chat(original, "hello again")
    restored = new_session(ScriptedClient([]))
    restored.restore(original.transcript)
    assert restored.messages == original.messages
    assert [m["content"] for m in restored.messages if m["role"] == "user"] == ["hello again"]


def test_chat_sync_yields_the_same_events_as_chat(new_session):
    async_events = chat(new_session(ScriptedClient(two_turn_script()[:2])), "write a note")
    sync_session = new_session(ScriptedClient(two_turn_script()[:2]))
    sync_events = list(sync_session.chat_sync("write a note"))
    assert [e.type for e in sync_events] == [e.type for e in async_events]
    assert [e.text for e in sync_events if isinstance(e, TextDelta)] == ["Wrote it."]
    assert sync_events[-1] == async_events[-1]
    assert len(sync_session.transcript) == 1


def test_chat_sync_folds_each_event_on_the_calling_thread_into_the_record_it_saves(new_session):
    """One timeline per turn, written on the thread whose views read it, each change told
    once the event is folded."""
    session = new_session(ScriptedClient(two_turn_script()[:2]))
    told: list[tuple[str, int, int]] = []

    def changed(change: TurnChange) -> None:
        entries = change.record.timeline.entries
        told.append((change.event.type, threading.get_ident(), len(entries)))

    events = list(session.chat_sync("write a note", changed=changed))
    [record] = session.transcript
    assert [event_type for event_type, _, _ in told] == [event.type for event in events]
    assert {thread for _, thread, _ in told} == {threading.get_ident()}
    assert told[-1][2] == len(record.timeline.entries) == 2  # the saved timeline


def test_chat_and_chat_sync_save_the_same_record(new_session):
    saved = []
    for run in (chat, lambda session, message: list(session.chat_sync(message))):
        session = new_session(ScriptedClient([text_reply("Hi.")]))
        run(session, "hello")
        [record] = session.transcript
        data = record.to_json()
        assert data.pop("duration") >= 0
        saved.append(data)
    assert saved[0] == saved[1]


def test_a_turn_whose_caller_stops_reading_after_its_end_is_not_interrupted(new_session):
    session = new_session(ScriptedClient(two_turn_script()[:2]))
    events = session.chat_sync("write a note")
    for event in events:
        if isinstance(event, TurnEnded):
            break
    events.close()
    [record] = session.transcript
    assert record.ok and record.error is None


def test_close_stops_the_runner_thread(new_session):
    before = set(threading.enumerate())
    session = new_session(ScriptedClient([text_reply("Hi.")]))
    list(session.chat_sync("hello"))
    started = [t for t in set(threading.enumerate()) - before if t.name == "conjure-turns"]
    assert len(started) == 1 and started[0].is_alive()
    session.close()
    started[0].join(timeout=5)
    assert not started[0].is_alive()


def test_restore_after_an_interrupted_turn_rebuilds_the_same_messages(new_session):
    """What the model saw after an interrupt is what a restored session sends it."""
    client = ScriptedClient(
        [
            tool_use_reply(
                ("fast", "bash_tool", {"command": "echo fast"}),
                ("slow", "bash_tool", {"command": "sleep 30"}),
            )
        ]
    )
    original = new_session(client)
    events = original.chat_sync("run both")
    for event in events:
        if isinstance(event, ToolCallFinished):
            break
    events.close()
    assert original.transcript[-1].error is not None
    restored = new_session(ScriptedClient([]))
    restored.restore(original.transcript)
    assert restored.messages == original.messages


def test_a_replay_answers_from_its_recording_and_without_it_the_client_answers(new_session):
    client = ScriptedClient([text_reply("Live.")])
    session = new_session(client)
    session.use_replay(Replay([ReplayTurn("hello", [text_reply("Recorded.")])]))
    replayed = chat(session, "hello")
    assert replayed[-1].text == "Recorded." and client.requests == []
    assert session.transcript[-1].replayed and session.transcript[-1].spend is None
    session.use_replay(None)
    assert chat(session, "hello")[-1].text == "Live." and len(client.requests) == 1


SHOUTED = ReplayTurn(
    "shout hey",
    [tool_use_reply(("t1", "shouter_execute", {"command": "hey"})), text_reply("It shouted.")],
    {"t1": ("HEY", False)},
)


def test_a_replay_on_an_asked_backend_overrides_switches_and_says_so_once(new_session):
    session = new_session(ScriptedClient([]), namespace={"Shouter": Shouter})
    session.use_replay(Replay([SHOUTED, SHOUTED], backend="native"))
    assert session.backend_name == "native"
    assert session.switch_backend("local") is False
    assert session.backend_name == "native"
    with pytest.raises(BackendSettingError, match="timeout=abc"):  # still checked
        session.switch_backend("local", {"timeout": "abc"})
    events = chat(session, "shout hey")
    assert [e.text for e in events if isinstance(e, Notice)] == [
        "replaying on native as asked: the notebook's `%backend local` cells are overridden"
    ]
    [record] = session.transcript
    assert record.backend == "native" and record.drift == []
    assert [result.content for _, result in record.tool_calls] == ["HEY"]
    assert session.switch_backend("local") is False
    assert not [e for e in chat(session, "shout hey") if isinstance(e, Notice)]
    assert session.switch_backend("native") is True


def test_a_session_made_with_a_replay_on_a_backend_starts_there(new_session):
    replay = Replay([SHOUTED], backend="native")
    session = new_session(ScriptedClient([]), replay=replay, namespace={"Shouter": Shouter})
    assert session.backend_name == "native" and session.replay is replay
