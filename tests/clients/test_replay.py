"""Replay and its recorded model: recorded answers by message and step, mapped paths, drift."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from conjure_kernel.clients.base import ModelRequest, ModelResponse, TextChunk, Usage
from conjure_kernel.clients.recorded_model import RecordedModel
from conjure_kernel.clients.replay import UNFINISHED, Drift, Replay, ReplayTurn
from conjure_kernel.errors import RecordingMismatch
from conjure_kernel.tools.values import ToolCall, ToolResult


def answer(text: str, stop: str = "end_turn", *tool_uses: dict[str, Any]) -> ModelResponse:
    content = ([{"type": "text", "text": text}] if text else []) + list(tool_uses)
    return ModelResponse({"role": "assistant", "content": content}, stop, Usage(3, 2), "m", "msg")


def tool_use(id_: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": arguments}


def stream(replay: Replay, messages: list[dict[str, Any]]) -> list:
    model = RecordedModel(replay)

    async def collect() -> list:
        return [item async for item in model.stream(ModelRequest("m", "s", messages))]

    return asyncio.run(collect())


def results_message(*ids: str) -> dict[str, Any]:
    return {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": i, "content": "x"} for i in ids],
    }


LONG = "This answer is long enough to arrive in several streamed chunks, as it did live."
TWO_STEPS = ReplayTurn(
    "list the files",
    [answer(LONG, "tool_use", tool_use("t1", "bash_tool", command="ls")), answer("Two files.")],
    {"t1": ("a.txt\nb.txt", False)},
)


def test_prepare_turn_picks_the_turn_with_the_same_message_ignoring_outer_whitespace():
    turns = [ReplayTurn("first", [answer("1")]), ReplayTurn("second", [answer("2")])]
    replay = Replay(turns)
    assert replay.prepare_turn("  second\n", {}) is turns[1]
    assert replay.current is turns[1]


def test_a_repeated_message_takes_the_next_unused_recording():
    turns = [
        ReplayTurn("again", [answer("first time")]),
        ReplayTurn("other", [answer("other")]),
        ReplayTurn("again", [answer("second time")]),
    ]
    replay = Replay(turns)
    assert replay.prepare_turn("again", {}) is turns[0]
    assert replay.prepare_turn("again", {}) is turns[2]


def test_the_search_wraps_around_to_earlier_turns():
    turns = [ReplayTurn("a", [answer("A")]), ReplayTurn("b", [answer("B")])]
    replay = Replay(turns)
    assert replay.prepare_turn("b", {}) is turns[1]
    assert replay.prepare_turn("a", {}) is turns[0]
    assert replay.prepare_turn("b", {}) is turns[1]


def test_an_unrecorded_message_is_a_mismatch_that_says_how_to_re_record(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    replay = Replay([ReplayTurn("hello", [answer("hi")])], source="demo.ipynb")
    with pytest.raises(RecordingMismatch) as raised:
        replay.prepare_turn("hello, edited", {})
    assert str(raised.value) == (
        "no recorded turn matches this message in demo.ipynb "
        "(the cell was edited since it was recorded): 'hello, edited'"
    )
    assert raised.value.hint.startswith("set ANTHROPIC_API_KEY, turn replay off")
    assert "record it afresh" in raised.value.hint
    assert replay.current is None


def test_with_a_key_set_the_mismatch_offers_to_record_afresh(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    replay = Replay([ReplayTurn("hello", [answer("hi")])])
    with pytest.raises(RecordingMismatch) as raised:
        replay.prepare_turn("something else", {})
    assert raised.value.hint.startswith("an API key is set: turn replay off")


def test_streaming_without_a_prepared_turn_is_a_mismatch():
    replay = Replay([TWO_STEPS])
    with pytest.raises(RecordingMismatch, match="prepare_turn"):
        stream(replay, [{"role": "user", "content": "list the files"}])


def test_stream_yields_text_chunks_then_the_recorded_response_of_the_first_step():
    replay = Replay([TWO_STEPS])
    replay.prepare_turn("list the files", {})
    items = stream(replay, [{"role": "user", "content": "list the files"}])
    chunks, last = items[:-1], items[-1]
    assert len(chunks) > 1 and all(isinstance(c, TextChunk) for c in chunks)
    assert "".join(c.text for c in chunks) == LONG
    assert last == TWO_STEPS.responses[0]


def test_the_step_is_counted_from_the_turns_own_user_message():
    """Earlier turns in the history, with their own tool steps, do not count."""
    replay = Replay([TWO_STEPS])
    replay.prepare_turn("list the files", {})
    earlier_turn = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": [tool_use("t0", "view", path=".")]},
        results_message("t0"),
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
    ]
    this_turn = [
        {"role": "user", "content": "list the files"},
        TWO_STEPS.responses[0].message,
        results_message("t1"),
    ]
    items = stream(replay, earlier_turn + this_turn)
    assert items == [TextChunk("Two files."), TWO_STEPS.responses[1]]


def test_asking_past_the_recorded_steps_is_a_mismatch():
    replay = Replay([TWO_STEPS])
    replay.prepare_turn("list the files", {})
    messages = [
        {"role": "user", "content": "list the files"},
        TWO_STEPS.responses[0].message,
        results_message("t1"),
        TWO_STEPS.responses[1].message,
        results_message("t2"),
    ]
    with pytest.raises(RecordingMismatch, match="has 2 model step") as raised:
        stream(replay, messages)
    assert "drift" in raised.value.hint


def mapped_turn(paths: dict[str, str], **arguments: Any) -> ReplayTurn:
    return ReplayTurn(
        "go", [answer("", "tool_use", tool_use("t1", "bash_tool", **arguments))], paths=paths
    )


def replayed_input(turn: ReplayTurn, current: dict[str, str]) -> dict[str, Any]:
    replay = Replay([turn])
    replay.prepare_turn("go", current)
    [response] = stream(replay, [{"role": "user", "content": "go"}])
    return response.tool_uses()[0]["input"]


def test_recorded_paths_are_mapped_to_the_current_ones_in_tool_inputs():
    turn = mapped_turn({"workdir": "/old/wd"}, command="cat /old/wd/a.txt > /old/wd/b.txt")
    assert replayed_input(turn, {"workdir": "/new/wd"}) == {
        "command": "cat /new/wd/a.txt > /new/wd/b.txt"
    }
    assert turn.responses[0].tool_uses()[0]["input"]["command"].startswith("cat /old/wd")


def test_the_longest_recorded_path_is_mapped_first():
    turn = mapped_turn(
        {"workdir": "/old", "skill:pdf": "/old/skills/pdf"},
        command="cat /old/skills/pdf/SKILL.md > /old/notes.md",
    )
    current = {"workdir": "/new/wd", "skill:pdf": "/opt/skills/pdf"}
    assert replayed_input(turn, current) == {
        "command": "cat /opt/skills/pdf/SKILL.md > /new/wd/notes.md"
    }


def test_a_mapped_path_is_not_mapped_a_second_time():
    """Skills kept inside the project folder: the new skill path contains the old workdir."""
    turn = mapped_turn(
        {"workdir": "/work", "skill:pdf": "/skills/pdf"},
        command="cat /skills/pdf/SKILL.md > /work/notes.md",
    )
    current = {"workdir": "/home/me/work", "skill:pdf": "/work/skills/pdf"}
    assert replayed_input(turn, current) == {
        "command": "cat /work/skills/pdf/SKILL.md > /home/me/work/notes.md"
    }


def test_paths_that_did_not_change_or_are_unknown_now_are_left_alone():
    turn = mapped_turn(
        {"workdir": "/same", "skill:gone": "/old/gone"}, command="ls /same /old/gone"
    )
    assert replayed_input(turn, {"workdir": "/same"}) == {"command": "ls /same /old/gone"}


def drift_of(
    recorded: tuple[str, bool], now: ToolResult, current: dict[str, str] | None = None
) -> list[Drift]:
    turn = ReplayTurn("go", [answer("done")], {"t1": recorded}, {"workdir": "/old/wd"})
    replay = Replay([turn])
    replay.prepare_turn("go", current or {"workdir": "/old/wd"})
    return replay.drift([(ToolCall("t1", "bash_tool", {}), now)], steps=1)


def test_a_result_equal_but_for_the_mapped_path_is_no_drift():
    now = ToolResult("t1", "wrote /new/wd/out.txt\nexit code: 0")
    recorded = ("wrote /old/wd/out.txt\nexit code: 0", False)
    assert drift_of(recorded, now, {"workdir": "/new/wd"}) == []


def test_changed_content_is_drift_with_a_unified_diff():
    now = ToolResult("t1", "alpha\nBETA\ngamma")
    [drift] = drift_of(("alpha\nbeta\ngamma", False), now)
    assert (drift.tool_use_id, drift.name) == ("t1", "bash_tool")
    assert drift.diff.splitlines() == [
        "--- recorded",
        "+++ re-run",
        "@@ -1,3 +1,3 @@",
        " alpha",
        "-beta",
        "+BETA",
        " gamma",
    ]
    assert drift.to_json() == {"tool_use_id": "t1", "name": "bash_tool", "diff": drift.diff}


def test_a_changed_error_flag_is_drift_even_with_the_same_content():
    [drift] = drift_of(("exit code: 1", False), ToolResult("t1", "exit code: 1", is_error=True))
    assert drift.diff == "error flag: recorded False, re-run True"


def test_calls_missing_from_the_recording_and_unprepared_replays_report_no_drift():
    assert drift_of(("same", False), ToolResult("t1", "same")) == []
    replay = Replay([TWO_STEPS])
    result = (ToolCall("t1", "bash_tool", {}), ToolResult("t1", "changed"))
    assert replay.drift([result], steps=2) == []
    replay.prepare_turn("list the files", {})
    new_call = (ToolCall("t9", "view", {}), ToolResult("t9", "new"))
    assert replay.drift([new_call], steps=len(TWO_STEPS.responses)) == []


def test_a_turn_that_ends_before_its_recorded_steps_drifted():
    """Hosted calls replayed on a backend that cannot run them end the turn early."""
    replay = Replay([TWO_STEPS])
    replay.prepare_turn("list the files", {})
    [drift] = replay.drift([], steps=1)
    assert drift.to_json() == {
        "tool_use_id": "",
        "name": "the turn",
        "diff": "the turn ended after 1 of its 2 recorded model steps",
    }


def test_changed_skills_names_skills_whose_hash_differs_or_that_are_gone():
    turn = ReplayTurn("go", [answer("ok")], skills={"pdf": "h1", "csv": "h2", "xlsx": "h3"})
    replay = Replay([turn])
    assert replay.changed_skills({"pdf": "h1"}) == []
    replay.prepare_turn("go", {})
    assert replay.changed_skills({"pdf": "h1", "csv": "other", "new": "h9"}) == ["csv", "xlsx"]


INTERRUPTED = ReplayTurn(
    "wait",
    [answer("Waiting.", "tool_use", tool_use("t1", "bash_tool", command="sleep 120"))],
    failure={"error": "TurnInterrupted", "message": "the turn was interrupted by the user"},
    unfinished=frozenset({"t1"}),
)


def test_a_call_unfinished_when_recorded_is_not_run_again():
    replay = Replay([INTERRUPTED])
    replay.prepare_turn("wait", {})
    assert replay.unfinished() == {"t1": UNFINISHED}
    assert UNFINISHED.startswith("not run on replay: this call had not finished")


def test_the_replay_of_an_interrupted_turn_ends_where_the_recording_did():
    from conjure_kernel.errors import ReplayedFailure

    replay = Replay([INTERRUPTED])
    replay.prepare_turn("wait", {})
    first = [{"role": "user", "content": "wait"}]
    assert stream(replay, first)[-1].stop_reason == "tool_use"
    after_tools = [*first, INTERRUPTED.responses[0].message, results_message("t1")]
    with pytest.raises(ReplayedFailure) as raised:
        stream(replay, after_tools)
    assert str(raised.value) == (
        "the recording ends here: this turn was interrupted when it was recorded "
        "(TurnInterrupted: the turn was interrupted by the user)"
    )
    assert not isinstance(raised.value, RecordingMismatch)
