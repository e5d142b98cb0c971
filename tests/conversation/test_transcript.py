"""Turn records: built from events, saved as JSON, read back strictly, replayed as history."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from conjure_kernel._version import __version__
from conjure_kernel.backends.loop import INTERRUPTED
from conjure_kernel.clients.base import ModelResponse, Usage
from conjure_kernel.clients.replay_client import RecordedTurn
from conjure_kernel.conversation.transcript import TURN_SCHEMA, TurnRecord, TurnRecorder
from conjure_kernel.errors import ModelError, RecordingError
from conjure_kernel.events import (
    ModelStepFinished,
    TextDelta,
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
    assert record.tool_calls == [(VIEW, VIEW_RESULT), (LS, LS_RESULT)]
    assert record.usage == Usage(230, 30, 5, 50)
    assert record.stop_reason == "end_turn"
    assert record.skills == SKILLS and record.paths == PATHS
    assert record.error is None and record.ok
    assert record.version == __version__


def test_the_recorder_ignores_events_before_the_turn_started():
    recorder = TurnRecorder(skills={}, paths={})
    recorder.add(TextDelta("stray"))
    assert recorder.record is None
    recorder.add(TurnStarted("hi", "local", "m"))
    assert recorder.record is not None and recorder.record.answer == ""


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
    record.tool_calls = [(LS, ToolResult("t1", "x", duration=1.234567))]
    [(_, result)] = TurnRecord.from_json(record.to_json()).tool_calls
    assert result.duration == 1.2346


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
    ("tool_calls",),
    ("steps", 0, "message"),
    ("steps", 0, "stop_reason"),
    ("tool_calls", 0, "call"),
    ("tool_calls", 0, "result"),
    ("tool_calls", 0, "call", "id"),
    ("tool_calls", 0, "result", "content"),
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
    ("tool_calls", {"call": {}}),
    ("usage", {"input_tokens": "lots"}),
    ("skills", 7),
    ("tool_calls", [["call", "result"]]),
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
    for key in ("answer", "stop_reason", "usage", "skills", "paths", "error", "replayed", "drift"):
        del data[key]
    record = TurnRecord.from_json(data)
    assert record.answer == "" and record.stop_reason is None and record.usage == Usage()
    assert record.paths == {} and record.drift == [] and not record.replayed


def test_history_messages_answer_every_tool_use_in_order():
    record = record_of(turn_events())
    assert record.history_messages() == [
        {"role": "user", "content": "find the file"},
        STEP_1.message,
        {"role": "user", "content": [LS_RESULT.to_param(), VIEW_RESULT.to_param()]},
        STEP_2.message,
    ]


def test_history_messages_answer_a_call_without_a_result_as_interrupted():
    record = record_of([*turn_events()[:8], TurnFailed(ModelError("gone"))])
    messages = record.history_messages()
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
    assert record.history_messages() == []


def test_to_recorded_turn_keeps_what_replay_needs():
    record = record_of(turn_events())
    recorded = record.to_recorded_turn()
    assert recorded == RecordedTurn(
        "find the file",
        [STEP_1, STEP_2],
        {"t1": ("a.txt\nexit code: 0", False), "t2": ("no such file", True)},
        PATHS,
        SKILLS,
    )
    recorded.paths["workdir"] = "/elsewhere"  # type: ignore[index]
    assert record.paths["workdir"] == "/home/me/project"
