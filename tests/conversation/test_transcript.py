"""Turn records and the turn model: built from events, saved as JSON, read back strictly
(schema 1 too), redacted as values, replayed as history."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from conjure_kernel._version import __version__
from conjure_kernel.backends.loop import INTERRUPTED
from conjure_kernel.clients.base import ModelResponse, Usage
from conjure_kernel.clients.replay import ReplayTurn
from conjure_kernel.conversation.timeline import Timeline
from conjure_kernel.conversation.transcript import TURN_SCHEMA, TurnRecord, TurnRecorder
from conjure_kernel.conversation.turn import (
    ApprovalEntry,
    FileEntry,
    NoticeEntry,
    TextEntry,
    ThinkingEntry,
    ToolEntry,
)
from conjure_kernel.errors import ModelError, RecordingError, TurnInterrupted
from conjure_kernel.events import (
    ApprovalAnswered,
    ApprovalAsked,
    FileCreated,
    ModelStepFinished,
    Notice,
    ServerToolCallFinished,
    ServerToolCallStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    TurnFailed,
    TurnStarted,
    UsageReported,
)
from conjure_kernel.tools.values import ToolCall, ToolResult

SKILLS = {"pdf": "ab12"}
PATHS = {"workdir": "/home/me/project", "skill:pdf": "/home/me/skills/pdf"}

STEP_1 = ModelResponse(
    {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Looking."},
            {"type": "tool_use", "id": "t1", "name": "bash_tool", "input": {"command": "ls"}},
            {"type": "tool_use", "id": "t2", "name": "view", "input": {"path": "a.txt"}},
        ],
    },
    "tool_use",
    Usage(100, 20, 5, 50),
    "claude-test",
    "msg_1",
)
STEP_2 = ModelResponse(
    {"role": "assistant", "content": [{"type": "text", "text": " Found it."}]},
    "end_turn",
    Usage(130, 10),
    "claude-test",
    "msg_2",
)
LS = ToolCall("t1", "bash_tool", {"command": "ls"})
VIEW = ToolCall("t2", "view", {"path": "a.txt"})
LS_RESULT = ToolResult("t1", "a.txt\nexit code: 0", False, 0, 0.25)
VIEW_RESULT = ToolResult("t2", "no such file", True, None, 0.5)


def turn_events() -> list:
    return [
        TurnStarted("find the file", "local", "claude-test"),
        TextDelta("Look"),
        TextDelta("ing."),
        ModelStepFinished(1, STEP_1),
        UsageReported(STEP_1.usage),
        ToolCallStarted(LS),
        ToolCallStarted(VIEW),
        ToolCallFinished(VIEW, VIEW_RESULT),
        ToolCallFinished(LS, LS_RESULT),
        TextDelta(" Found it."),
        ModelStepFinished(2, STEP_2),
        UsageReported(STEP_1.usage + STEP_2.usage),
        TurnEnded("end_turn", " Found it.", STEP_1.usage + STEP_2.usage),
    ]


def record_of(events: list) -> TurnRecord:
    recorder = TurnRecorder(skills=dict(SKILLS), paths=dict(PATHS))
    for event in events:
        recorder.add(event)
    assert recorder.record is not None
    return recorder.record


def saved_turn() -> dict[str, Any]:
    return json.loads(json.dumps(record_of(turn_events()).to_json()))


def test_the_recorder_builds_the_record_from_the_events():
    record = record_of(turn_events())
    assert (record.message, record.backend, record.model) == (
        "find the file",
        "local",
        "claude-test",
    )
    assert record.answer == "Looking. Found it."
    assert record.steps == [STEP_1, STEP_2]
    assert record.timeline == Timeline(
        [
            TextEntry("Looking."),
            ToolEntry(LS, result=LS_RESULT, state="ok"),
            ToolEntry(VIEW, result=VIEW_RESULT, state="error"),
            TextEntry(" Found it."),
        ]
    )
    assert record.tool_calls == [(LS, LS_RESULT), (VIEW, VIEW_RESULT)]
    assert record.usage == Usage(230, 30, 5, 50)
    assert record.stop_reason == "end_turn"
    assert record.skills == SKILLS and record.paths == PATHS
    assert record.error is None and record.ok
    assert record.version == __version__


def test_the_recorder_ignores_events_before_the_turn_started():
    recorder = TurnRecorder(skills={}, paths={})
    assert recorder.add(TextDelta("stray")) is None
    assert recorder.record is None
    recorder.add(TurnStarted("hi", "local", "m"))
    assert recorder.record is not None and recorder.record.answer == ""


def test_the_recorder_tells_what_each_event_changed_in_its_one_timeline():
    recorder = TurnRecorder(skills={}, paths={})
    started = recorder.add(TurnStarted("hi", "local", "m"))
    assert started is not None and started.entries == ()
    record = started.record
    call = recorder.add(ToolCallStarted(LS))
    finished = recorder.add(ToolCallFinished(LS, LS_RESULT))
    step = recorder.add(ModelStepFinished(1, STEP_2))
    assert call is not None and finished is not None and step is not None
    assert call.record is record and call.entries == (record.timeline.entries[0],)
    assert finished.entries == call.entries and finished.event.result is LS_RESULT
    assert step.entries == () and record.steps == [STEP_2]


def test_an_interrupt_fails_a_turn_once_and_not_one_that_ended():
    recorder = TurnRecorder(skills={}, paths={})
    recorder.add(TurnStarted("hi", "local", "m"))
    recorder.add(ToolCallStarted(LS))
    recorder.interrupted()
    record = recorder.finished()
    assert record is not None and record.error is not None
    assert record.error["error"] == "TurnInterrupted"
    assert record.timeline.tools[0].state == "interrupted"
    ended = TurnRecorder(skills={}, paths={})
    ended.add(TurnStarted("hi", "local", "m"))
    ended.add(TurnEnded("end_turn", "", Usage()))
    ended.interrupted()
    assert ended.finished() is not None and ended.finished().error is None


def test_what_was_sent_reaches_the_record_once_the_turn_is_over():
    recorder = TurnRecorder(skills={}, paths={})
    recorder.sent = "hi, with x = 1"  # learnt before the start was folded, on another thread
    recorder.add(TurnStarted("hi", "local", "m"))
    record = recorder.finished()
    assert record is not None and record.sent == "hi, with x = 1"
    assert TurnRecorder(skills={}, paths={}).finished() is None


def test_a_failed_turn_records_the_error_and_is_not_ok():
    error = ModelError("the API is overloaded", hint="try again")
    record = record_of([*turn_events()[:4], TurnFailed(error)])
    assert record.error == {
        "error": "ModelError",
        "message": "the API is overloaded",
        "hint": "try again",
    }
    assert record.stop_reason is None and not record.ok


def test_a_record_survives_a_json_round_trip():
    record = record_of(turn_events())
    record.replayed = True
    record.drift = [{"tool_use_id": "t1", "name": "bash_tool", "diff": "-a\n+b"}]
    record.skills_changed = ["pdf"]
    data = json.loads(json.dumps(record.to_json()))
    assert data["schema"] == TURN_SCHEMA
    assert TurnRecord.from_json(data) == record


def test_a_failed_record_survives_a_json_round_trip():
    record = record_of([*turn_events()[:4], TurnFailed(ModelError("down"))])
    assert TurnRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_the_saved_json_keeps_durations_to_a_tenth_of_a_millisecond():
    record = record_of(turn_events())
    record.timeline.tools[0].result = ToolResult("t1", "x", duration=1.234567)
    [(_, result), _] = TurnRecord.from_json(record.to_json()).tool_calls
    assert result.duration == 1.2346


def test_a_turn_saved_without_its_steps_keeps_everything_shown():
    """``record = False`` drops the replay data, not the view: answer and tool calls stay."""
    record = dataclasses.replace(record_of(turn_events()), steps=[])
    read = TurnRecord.from_json(json.loads(json.dumps(record.to_json())))
    assert read.timeline == record_of(turn_events()).timeline
    assert read.answer == "Looking. Found it."
    assert read.tool_calls == [(LS, LS_RESULT), (VIEW, VIEW_RESULT)]
    assert read.added_messages() == []


def without(data: dict[str, Any], *path: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return data


def replaced(data: dict[str, Any], value: Any, *path: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


MISSING_KEYS = [
    ("schema",),
    ("message",),
    ("backend",),
    ("model",),
    ("steps",),
    ("timeline",),
    ("steps", 0, "message"),
    ("steps", 0, "stop_reason"),
    ("timeline", 0, "type"),
    ("timeline", 0, "text"),
    ("timeline", 1, "call"),
    ("timeline", 1, "state"),
    ("timeline", 1, "call", "id"),
    ("timeline", 1, "result", "content"),
]


@pytest.mark.parametrize("path", MISSING_KEYS, ids=lambda path: "/".join(map(str, path)))
def test_a_saved_turn_missing_a_key_is_a_recording_error(path):
    with pytest.raises(RecordingError, match="malformed") as raised:
        TurnRecord.from_json(without(saved_turn(), *path))
    assert "re-record" in raised.value.hint
    assert str(path[-1]) in str(raised.value)


WRONG_TYPES = [
    ("schema", "1"),
    ("steps", 5),
    ("steps", ["not a step"]),
    ("timeline", {"type": "text"}),
    ("timeline", [["text", "hi"]]),
    ("timeline", [{"type": "hologram"}]),
    ("timeline", [{"type": "tool", "call": {"id": "t", "name": "x"}, "state": "exploded"}]),
    ("timeline", [{"type": "notice", "text": "hi", "level": "shouting"}]),
    ("timeline", [{"type": "approval", "call": {"id": "t", "name": "x"}, "allowed": "maybe"}]),
    ("usage", {"input_tokens": "lots"}),
    ("skills", 7),
]


@pytest.mark.parametrize(("key", "value"), WRONG_TYPES, ids=lambda value: json.dumps(value)[:30])
def test_a_saved_turn_with_a_wrong_type_is_a_recording_error(key, value):
    with pytest.raises(RecordingError, match="malformed"):
        TurnRecord.from_json(replaced(saved_turn(), value, key))


@pytest.mark.parametrize("data", [None, [], "a turn", 42], ids=repr)
def test_a_saved_turn_that_is_not_an_object_is_a_recording_error(data):
    with pytest.raises(RecordingError, match="malformed"):
        TurnRecord.from_json(data)


@pytest.mark.parametrize(
    "message",
    [{"role": "assistant"}, {"role": "assistant", "content": "text"}, "text"],
    ids=["no content", "string content", "not an object"],
)
def test_a_step_whose_message_cannot_be_replayed_is_rejected_when_read(message):
    """A record that reads without error must also give its history and display."""
    data = replaced(saved_turn(), message, "steps", 0, "message")
    with pytest.raises(RecordingError, match="malformed"):
        TurnRecord.from_json(data)


def test_a_turn_saved_with_a_newer_schema_asks_for_an_upgrade():
    data = replaced(saved_turn(), TURN_SCHEMA + 1, "schema")
    with pytest.raises(RecordingError, match=f"schema {TURN_SCHEMA + 1}, newer than") as raised:
        TurnRecord.from_json(data)
    assert "upgrade conjure-kernel" in raised.value.hint


def test_optional_fields_may_be_absent():
    data = saved_turn()
    for key in ("stop_reason", "usage", "skills", "paths", "error", "replayed", "drift"):
        del data[key]
    record = TurnRecord.from_json(data)
    assert record.stop_reason is None and record.usage == Usage()
    assert record.paths == {} and record.drift == [] and not record.replayed


def test_history_messages_answer_every_tool_use_in_order():
    record = record_of(turn_events())
    assert record.added_messages() == [
        {"role": "user", "content": "find the file"},
        STEP_1.message,
        {"role": "user", "content": [LS_RESULT.to_param(), VIEW_RESULT.to_param()]},
        STEP_2.message,
    ]


def test_history_messages_answer_a_call_without_a_result_as_interrupted():
    record = record_of([*turn_events()[:8], TurnFailed(ModelError("gone"))])
    messages = record.added_messages()
    assert messages[-1] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "t1",
                "content": INTERRUPTED,
                "is_error": True,
            },
            VIEW_RESULT.to_param(),
        ],
    }


def test_a_turn_without_model_steps_adds_no_history():
    record = record_of([TurnStarted("hi", "local", "m"), TurnFailed(ModelError("down"))])
    assert record.added_messages() == []


def test_to_replay_turn_keeps_what_replay_needs():
    record = record_of(turn_events())
    recorded = record.to_replay_turn()
    assert recorded == ReplayTurn(
        "find the file",
        [STEP_1, STEP_2],
        {"t1": ("a.txt\nexit code: 0", False), "t2": ("no such file", True)},
        PATHS,
        SKILLS,
        ran_on={"t1": "local", "t2": "local"},  # the turn's backend: each call ran there
    )
    recorded.paths["workdir"] = "/elsewhere"  # type: ignore[index]
    assert record.paths["workdir"] == "/home/me/project"


def test_replay_learns_which_calls_were_denied_and_which_never_started():
    """A call denied stays denied on replay; one interrupted while its permission was asked
    never started, and is not started either (nor is the denied one, which had no result)."""
    record = record_of(
        [
            TurnStarted("find the file", "local", "claude-test"),
            ModelStepFinished(1, STEP_1),
            ApprovalAsked(LS, "run `ls`"),
            ApprovalAnswered(LS, False, "by the person: no"),
            ApprovalAsked(VIEW, "read a.txt"),
            TurnFailed(TurnInterrupted("interrupted")),
        ]
    )
    recorded = record.to_replay_turn()
    assert recorded.denied == {"t1"}
    assert recorded.unfinished == {"t1", "t2"}


def schema_1(record: TurnRecord) -> dict[str, Any]:
    """The record as conjure-kernel saved it before timelines (schema 1)."""
    data = record.to_json()
    del data["timeline"]
    data["schema"] = 1
    data["answer"] = record.answer
    data["tool_calls"] = [
        {"call": call.to_json(), "result": result.to_json()} for call, result in record.tool_calls
    ]
    return json.loads(json.dumps(data))


def test_a_schema_1_record_is_read_with_its_timeline_rebuilt_from_the_steps():
    record = record_of(turn_events())
    read = TurnRecord.from_json(schema_1(record))
    assert read == record
    assert read.added_messages() == record.added_messages()
    assert read.to_json()["schema"] == TURN_SCHEMA


def test_a_schema_1_record_without_steps_shows_its_tool_calls_then_its_answer():
    data = schema_1(record_of(turn_events()))
    data["steps"] = []
    timeline = TurnRecord.from_json(data).timeline
    assert timeline == Timeline(
        [
            ToolEntry(LS, result=LS_RESULT, state="ok"),
            ToolEntry(VIEW, result=VIEW_RESULT, state="error"),
            TextEntry("Looking. Found it."),
        ]
    )


def test_a_schema_1_call_without_a_result_was_interrupted():
    data = schema_1(record_of(turn_events()))
    data["tool_calls"] = data["tool_calls"][:1]
    [ls, view] = TurnRecord.from_json(data).timeline.tools
    assert (ls.state, view.state, view.result) == ("ok", "interrupted", None)


@pytest.mark.parametrize(
    "path",
    [("tool_calls",), ("tool_calls", 0, "call"), ("tool_calls", 0, "result", "content")],
    ids=lambda path: "/".join(map(str, path)),
)
def test_a_schema_1_record_missing_a_key_is_a_recording_error(path):
    with pytest.raises(RecordingError, match="malformed"):
        TurnRecord.from_json(without(schema_1(record_of(turn_events())), *path))


RUN = ToolCall("s1", "bash_code_execution", {"command": "python chart.py"})
RUN_RESULT = ToolResult("s1", "chart.png", False, 0, 2.0)
RM = ToolCall("t3", "bash_tool", {"command": "rm -rf build"})


def hosted_events() -> list:
    return [
        TurnStarted("draw and clean", "anthropic", "claude-test"),
        Notice("reusing the container"),
        ThinkingDelta("A chart, "),
        ThinkingDelta("then the cleanup."),
        TextDelta("Drawing."),
        ServerToolCallStarted(RUN),
        ServerToolCallFinished(RUN, RUN_RESULT),
        FileCreated("/work/chart.png", "s1"),
        ApprovalAnswered(VIEW, True, "by rule"),
        ToolCallStarted(VIEW),
        ToolCallStarted(RM),
        ApprovalAsked(RM, "delete the build?"),
        ApprovalAnswered(RM, False, "by the person"),
        ToolCallFinished(VIEW, VIEW_RESULT),
        ToolCallFinished(RM, ToolResult("t3", "denied by the person", True)),
        Notice("the download was slow", "warning"),
        TurnEnded("end_turn", "", Usage()),
    ]


def test_the_timeline_keeps_every_kind_of_entry_in_the_order_seen():
    assert record_of(hosted_events()).timeline == Timeline(
        [
            NoticeEntry("reusing the container"),
            ThinkingEntry("A chart, then the cleanup."),
            TextEntry("Drawing."),
            ToolEntry(RUN, server=True, result=RUN_RESULT, state="ok"),
            FileEntry("/work/chart.png", "s1"),
            ApprovalEntry(VIEW, "", True, "by rule"),
            ToolEntry(VIEW, result=VIEW_RESULT, state="error"),
            ToolEntry(RM, result=ToolResult("t3", "denied by the person", True), state="denied"),
            ApprovalEntry(RM, "delete the build?", False, "by the person"),
            NoticeEntry("the download was slow", "warning"),
        ]
    )


def test_a_record_with_every_kind_of_entry_survives_a_json_round_trip():
    record = record_of(hosted_events())
    assert TurnRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_server_calls_are_tool_calls_too():
    record = record_of(hosted_events())
    assert [call.id for call, _ in record.tool_calls] == ["s1", "t2", "t3"]


def test_a_call_denied_before_it_starts_starts_denied():
    timeline = Timeline()
    timeline.add(ApprovalAsked(RM, "delete?"))
    timeline.add(ApprovalAnswered(RM, False, "no"))
    timeline.add(ToolCallStarted(RM))
    timeline.add(TurnEnded("end_turn", "", Usage()))
    assert [tool.state for tool in timeline.tools] == ["denied"]


def test_a_call_finished_without_a_start_still_shows():
    timeline = Timeline()
    timeline.add(ServerToolCallFinished(RUN, RUN_RESULT))
    assert timeline.entries == [ToolEntry(RUN, server=True, result=RUN_RESULT, state="ok")]


@pytest.mark.parametrize(
    "end",
    [TurnFailed(TurnInterrupted("interrupted")), TurnEnded("end_turn", "", Usage())],
    ids=["failed", "ended"],
)
def test_calls_still_running_when_the_turn_ends_were_interrupted(end):
    timeline = Timeline()
    for event in [ToolCallStarted(LS), ToolCallStarted(VIEW), ToolCallFinished(VIEW, VIEW_RESULT)]:
        timeline.add(event)
    assert timeline.add(end) == (timeline.tools[0],)
    assert [tool.state for tool in timeline.tools] == ["interrupted", "error"]
    assert timeline.add(end) == ()


def test_only_what_a_view_shows_counts_as_a_change_and_names_its_entry():
    timeline = Timeline()
    assert timeline.add(TurnStarted("hi", "local", "m")) == ()
    assert timeline.add(ModelStepFinished(1, STEP_2)) == ()
    assert timeline.add(UsageReported(Usage(1, 1))) == ()
    assert timeline.add(TextDelta("")) == ()
    (text,) = timeline.add(TextDelta("a"))
    assert timeline.add(TextDelta("b"))[0] is text
    assert timeline.entries == [text] and text == TextEntry("ab")


def test_a_denial_names_the_approval_and_the_call_it_stopped():
    timeline = Timeline()
    (call,) = timeline.add(ToolCallStarted(RM))
    (asked,) = timeline.add(ApprovalAsked(RM, "delete?"))
    assert timeline.add(ApprovalAnswered(RM, False, "no")) == (asked, call)
    assert call.state == "denied"
    allowed = ToolCall("t8", "bash_tool", {"command": "ls"})
    timeline.add(ToolCallStarted(allowed))
    (answered,) = timeline.add(ApprovalAnswered(allowed, True))
    assert isinstance(answered, ApprovalEntry) and answered.allowed is True


def test_each_steps_thinking_is_a_row_of_its_own_and_never_part_of_the_answer():
    timeline = Timeline()
    for event in [
        ThinkingDelta("Look "),
        ThinkingDelta("first."),
        TextDelta("Looking."),
        ToolCallStarted(LS),
        ThinkingDelta("Found it."),
        ToolCallFinished(LS, ToolResult(LS.id, "a.txt", False, 0)),
        ThinkingDelta(" Now answer."),
        TextDelta("It is a.txt."),
        ThinkingDelta("Anything else?"),
        TextDelta(" Done."),
    ]:
        assert timeline.add(event)
    assert [e.to_json() for e in timeline.entries if not isinstance(e, ToolEntry)] == [
        {"type": "thinking", "text": "Look first."},
        {"type": "text", "text": "Looking."},
        {"type": "thinking", "text": "Found it. Now answer."},
        {"type": "text", "text": "It is a.txt."},
        {"type": "thinking", "text": "Anything else?"},
        {"type": "text", "text": " Done."},
    ]
    assert timeline.answer == "Looking.It is a.txt. Done."
    assert timeline.add(ThinkingDelta("")) == ()


def test_a_record_with_thinking_survives_a_json_round_trip_with_its_label():
    record = record_of([TurnStarted("hi", "local", "m"), ThinkingDelta("Hmm."), TextDelta("Hi.")])
    data = json.loads(json.dumps(record.to_json()))
    assert data["schema"] == TURN_SCHEMA == 4
    assert data["timeline"][0] == {
        "type": "thinking",
        "text": "Hmm.",
        "labels": {"line": "thinking · 1 word"},
    }
    assert TurnRecord.from_json(data) == record
    assert TurnRecord.from_json(data).answer == "Hi."


def test_a_schema_2_record_still_reads_and_has_no_thinking():
    data = record_of(hosted_events()).to_json()
    data["schema"] = 2
    data["timeline"] = [entry for entry in data["timeline"] if entry["type"] != "thinking"]
    read = TurnRecord.from_json(data)
    assert not any(isinstance(entry, ThinkingEntry) for entry in read.timeline.entries)
    assert read.to_json() == {**data, "schema": TURN_SCHEMA}


def test_redacted_replaces_the_secret_in_every_text_and_leaves_the_original():
    secret = "s3cret-value"
    call = ToolCall(f"id-{secret}", "bash_tool", {"command": f"echo {secret}", "env": [secret]})
    step = ModelResponse(
        {"role": "assistant", "content": [{"type": "text", "text": secret}]}, "end_turn"
    )
    record = record_of(
        [
            TurnStarted(f"use {secret}", f"local-{secret}", f"model-{secret}"),
            ThinkingDelta(f"I could use {secret}"),
            TextDelta(f"I used {secret}"),
            ModelStepFinished(1, step),
            Notice(f"note {secret}"),
            ApprovalAsked(call, f"run {secret}?"),
            ApprovalAnswered(call, True, f"rule {secret}"),
            ToolCallStarted(call),
            ToolCallFinished(call, ToolResult(call.id, f"out {secret}", False, 0, 1.0)),
            FileCreated(f"/tmp/{secret}", call.id),
            TurnFailed(ModelError(f"bad {secret}", hint=f"hint {secret}")),
        ]
    )
    record.skills = {"pdf": secret}
    record.paths = {"workdir": f"/home/{secret}"}
    record.drift = [{"tool_use_id": call.id, "name": "bash_tool", "diff": f"-{secret}"}]
    record.skills_changed = [secret]
    before = json.dumps(record.to_json())
    assert before.count(secret) >= 20

    clean = record.redacted(lambda text: text.replace(secret, "[secret]"))
    assert secret not in json.dumps(clean.to_json())
    assert json.dumps(record.to_json()) == before
    assert clean.timeline.tools[0].call.input == {"command": "echo [secret]", "env": ["[secret]"]}
    assert clean.timeline.entries[0] == ThinkingEntry("I could use [secret]")
    assert clean.usage == record.usage and clean.timeline.tools[0].result.duration == 1.0


def test_restore_leaves_out_a_server_call_whose_pause_was_cut_short():
    """A hosted step paused after a server call; the turn was stopped before it went on.

    The API refuses a history with that unanswered call, so restore drops it (and keeps
    the rest of the step) just as the live session did.
    """
    paused = ModelResponse(
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Running it."},
                {
                    "type": "server_tool_use",
                    "id": "srv_1",
                    "name": "bash_code_execution",
                    "input": {"command": "make report"},
                },
            ],
        },
        "pause_turn",
        Usage(1, 1),
    )
    record = record_of(
        [
            TurnStarted("make the report", "anthropic", "claude-test"),
            ModelStepFinished(1, paused),
            TurnFailed(TurnInterrupted("the turn was interrupted by the user")),
        ]
    )
    messages = TurnRecord.from_json(record.to_json()).added_messages()
    assert messages == [
        {"role": "user", "content": "make the report"},
        {"role": "assistant", "content": [{"type": "text", "text": "Running it."}]},
    ]
    assert record.steps[0].message["content"][1]["id"] == "srv_1"  # the recording is untouched


def test_the_recorder_times_the_turn_and_the_time_survives_saving():
    ticks = iter([10.0, 12.5])
    recorder = TurnRecorder(skills={}, paths={}, clock=lambda: next(ticks))
    for event in turn_events():
        recorder.add(event)
    assert recorder.record is not None and recorder.record.duration == 2.5
    assert TurnRecord.from_json(recorder.record.to_json()).duration == 2.5
    older = recorder.record.to_json()
    del older["duration"]
    assert TurnRecord.from_json(older).duration is None  # saved before turns were timed


IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "c2Vj"}}


def test_what_was_sent_is_kept_restored_replayed_and_redacted_but_its_images_whole():
    record = dataclasses.replace(
        record_of(turn_events()), sent=[{"type": "text", "text": "see sec"}, IMAGE]
    )
    data = json.loads(json.dumps(record.to_json()))
    assert data["schema"] == TURN_SCHEMA and data["sent"] == record.sent
    read = TurnRecord.from_json(data)
    assert read.sent == record.sent and read.message == record.message
    assert read.added_messages()[0] == {"role": "user", "content": record.sent}
    assert read.to_replay_turn().sent == record.sent
    hidden = record.redacted(lambda text: text.replace("sec", "***"))
    assert hidden.sent == [{"type": "text", "text": "see ***"}, IMAGE]


def test_a_turn_that_sent_its_message_as_written_saves_no_sent_key():
    data = record_of(turn_events()).to_json()
    assert "sent" not in data  # older readers see exactly what they know
    assert TurnRecord.from_json(data).sent is None
    with pytest.raises(RecordingError, match="malformed"):
        TurnRecord.from_json({**data, "sent": [1]})
