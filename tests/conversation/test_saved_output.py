"""A tool's output as a saved turn keeps and shows it: capped, and folded after its first lines."""

from __future__ import annotations

from conjure_kernel.clients.base import Usage
from conjure_kernel.conversation.saved_output import saved_content, shown_output
from conjure_kernel.conversation.terminal import Run
from conjure_kernel.conversation.transcript import TurnRecord, TurnRecorder
from conjure_kernel.events import ToolCallFinished, ToolCallStarted, TurnEnded, TurnStarted
from conjure_kernel.tools.printed_limits import FOLD_CHARS, FOLD_LINES, RECORD_CHARS
from conjure_kernel.tools.values import ToolCall, ToolResult

CALL = ToolCall("t1", "bash_tool", {"command": "make"})


def lines(count: int) -> str:
    return "".join(f"line {number}\n" for number in range(count))


def test_a_result_within_the_cap_is_kept_whole_and_a_longer_one_keeps_its_head_and_tail():
    assert saved_content("short") == "short"
    long = lines(400_000)
    kept = saved_content(long)
    assert len(kept) <= RECORD_CHARS
    assert kept.startswith("line 0\n") and kept.endswith("line 399999\n")
    assert "characters (" in kept and "lines) cut" in kept
    assert saved_content(kept) == kept  # saved again, not cut again


def test_the_recorder_keeps_a_3_mb_result_as_the_record_keeps_it():
    recorder = TurnRecorder(skills={}, paths={})
    huge = "x" * 3_000_000
    for event in [
        TurnStarted("go", "local", "m"),
        ToolCallStarted(CALL),
        ToolCallFinished(CALL, ToolResult(CALL.id, huge, False, 0, 1.0)),
        TurnEnded("end_turn", "", Usage()),
    ]:
        recorder.add(event)
    assert recorder.record is not None
    [(_, result)] = recorder.record.tool_calls
    assert result.content == saved_content(huge) and len(result.content) <= RECORD_CHARS
    assert TurnRecord.from_json(recorder.record.to_json()).tool_calls == recorder.record.tool_calls


def test_a_short_output_shows_whole_and_as_it_is():
    shown = shown_output("a\nb\n")
    assert shown == shown_output("a\nb\n") and shown.fold is None
    assert shown.is_verbatim("a\nb\n")
    assert not shown_output("\x1b[32mok\x1b[0m").is_verbatim("\x1b[32mok\x1b[0m")


def test_a_long_output_shows_its_first_lines_then_show_all():
    text = lines(100)
    shown = shown_output(text)
    head = "".join(run.text for run in shown.runs[: shown.fold])
    assert head == lines(FOLD_LINES)
    assert "".join(run.text for run in shown.runs) == text
    assert shown.more == "show all 100 lines"
    assert not shown.is_verbatim(text)
    assert shown_output(lines(FOLD_LINES)).fold is None
    assert shown_output(lines(FOLD_LINES) + "\n \n").fold is None  # nothing left to show


def test_a_few_long_lines_fold_after_fold_chars_at_a_line_end():
    text = ("y" * 1500 + "\n") * 5
    shown = shown_output(text)
    head = "".join(run.text for run in shown.runs[: shown.fold])
    assert head == ("y" * 1500 + "\n") * 2 and len(head) <= FOLD_CHARS
    one_line = "z" * 10_000
    shown = shown_output(one_line)
    assert shown.runs[: shown.fold] == [Run("z" * FOLD_CHARS)]
    assert shown.more == "show all 10,000 characters"


def test_the_fold_cuts_a_coloured_run_in_two_and_keeps_its_style():
    text = "\x1b[31m" + lines(60) + "\x1b[0m"
    shown = shown_output(text)
    assert shown.runs[: shown.fold] == [Run(lines(FOLD_LINES), "ansi-red-fg")]
    assert shown.runs[shown.fold :] == [Run(lines(60)[len(lines(FOLD_LINES)) :], "ansi-red-fg")]
    assert shown.to_json()["fold"] == 1
