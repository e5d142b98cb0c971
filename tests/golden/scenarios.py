"""Scripted turns for the golden records: the events a backend would emit, folded into records.

Each scenario is a list of events in the order a person would see them, folded the way
the session folds them (``TurnRecorder``), so a golden record holds exactly what a
notebook would save. ``test_golden.py`` compares the records and their renderings with
the files beside this one; tests/labextension/turn_view.test.mjs holds the JupyterLab
renderer to the same files.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from conjure_kernel.clients.base import ModelResponse, Usage
from conjure_kernel.clients.pricing import Spend
from conjure_kernel.conversation.transcript import TurnRecord, TurnRecorder
from conjure_kernel.errors import BudgetExceeded, ModelError, TurnInterrupted
from conjure_kernel.events import (
    ApprovalAnswered,
    ApprovalAsked,
    Event,
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
from conjure_kernel.tools.output import StreamCapture, format_exec_result
from conjure_kernel.tools.values import ExecResult, ToolCall, ToolResult

__all__ = ["EVENTS", "FOLDER", "SCENARIOS", "record_of"]

VERSION = "golden"
"""Pinned, so a release does not change every golden file."""

MODEL = "claude-golden"

FOLDER = "/home/me/project"
"""The session's workdir and the notebook's folder: created files under it are linked."""

LS = ToolCall("toolu_ls", "bash_tool", {"command": "ls -1", "description": "List the files"})
VIEW = ToolCall("toolu_view", "view", {"path": "page.html"})
WRITE = ToolCall(
    "toolu_write",
    "create_file",
    {"path": "notes.md", "file_text": "# Notes\n\n- one\n", "description": "Write the notes"},
)
SLOW = ToolCall("toolu_slow", "bash_tool", {"command": "sleep 600 && make report"})
HOSTED_RUN = ToolCall(
    "srvtoolu_run", "bash_code_execution", {"command": "python make_chart.py && ls outputs"}
)
HOSTED_EDIT = ToolCall(
    "srvtoolu_edit", "text_editor_code_execution", {"command": "view", "path": "/tmp/data.csv"}
)
READ = ToolCall("toolu_read", "view", {"path": "README.md"})
DELETE = ToolCall(
    "toolu_delete", "bash_tool", {"command": "rm -rf build", "description": "Clean the build"}
)

TESTS = ToolCall(
    "toolu_tests",
    "bash_tool",
    {"command": "python -m pytest --color=yes", "description": "Run the tests"},
)
LISTING = ToolCall(
    "toolu_listing",
    "bash_tool",
    {"command": "ls --color=always && git log --oneline --color=always -2 && ./fetch.sh"},
)
LOG = ToolCall(
    "toolu_log", "bash_tool", {"command": "python make_log.py", "description": "Make the log"}
)

STEP_USAGE = Usage(100, 10)

LS_RESULT = ToolResult(LS.id, "index.html\npage.html\nexit code: 0", False, 0, 0.5)
VIEW_RESULT = ToolResult(VIEW.id, "     1\t<script>alert('x')</script>", True, None, 0.25)


def step(
    *blocks: str | ToolCall | tuple[ToolCall, ToolResult],
    stop_reason: str = "end_turn",
    usage: Usage = STEP_USAGE,
) -> ModelResponse:
    """One model response: text (str), client calls (ToolCall → ``tool_use``), and server
    calls ((call, result) → ``server_tool_use`` and its result block, both in the message)."""
    content: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, str):
            content.append({"type": "text", "text": block})
        elif isinstance(block, ToolCall):
            content.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
            )
        else:
            call, result = block
            content.append(
                {"type": "server_tool_use", "id": call.id, "name": call.name, "input": call.input}
            )
            content.append(
                {
                    "type": f"{call.name}_tool_result",
                    "tool_use_id": call.id,
                    "content": {"stdout": result.content},
                }
            )
    return ModelResponse({"role": "assistant", "content": content}, stop_reason, usage, MODEL)


def plain_answer() -> list[Event]:
    answer = step("Hello! Here is a **short** list:\n\n- one\n- two\n")
    return [
        TurnStarted("Say hello and list two things", "local", MODEL),
        TextDelta("Hello! Here is a **short** list:\n\n"),
        TextDelta("- one\n- two\n"),
        ModelStepFinished(1, answer),
        UsageReported(answer.usage),
        TurnEnded("end_turn", answer.text(), answer.usage),
    ]


def tool_calls() -> list[Event]:
    first = step("Let me look.", LS, VIEW, stop_reason="tool_use", usage=Usage(1000, 20, 0, 500))
    second = step("The page has a `<script>` tag.", usage=Usage(1200, 30))
    return [
        TurnStarted("What is in the folder?", "local", MODEL),
        TextDelta("Let me look."),
        ModelStepFinished(1, first),
        UsageReported(first.usage),
        ToolCallStarted(LS),
        ToolCallStarted(VIEW),
        ToolCallFinished(VIEW, VIEW_RESULT),
        ToolCallFinished(LS, LS_RESULT),
        TextDelta("The page has a `<script>` tag."),
        ModelStepFinished(2, second),
        UsageReported(first.usage + second.usage),
        TurnEnded("end_turn", second.text(), first.usage + second.usage),
    ]


def failed() -> list[Event]:
    """The API fails in the middle of the second step's text."""
    first = step("I'll write the notes first.", WRITE, stop_reason="tool_use")
    error = ModelError(
        "the Messages API is overloaded (529)", hint="wait a minute, then run the cell again"
    )
    return [
        TurnStarted("Write my notes, then summarise them", "local", MODEL),
        TextDelta("I'll write the notes first."),
        ModelStepFinished(1, first),
        UsageReported(first.usage),
        ToolCallStarted(WRITE),
        ToolCallFinished(
            WRITE, ToolResult(WRITE.id, "created notes.md (17 bytes)", duration=0.0125)
        ),
        TextDelta("Now let me summ"),
        TurnFailed(error),
    ]


def interrupted() -> list[Event]:
    """Ctrl-C while one of two calls still runs; the session records the interruption."""
    first = step("Listing, then building the report.", LS, SLOW, stop_reason="tool_use")
    return [
        TurnStarted("Build the report", "local", MODEL),
        TextDelta("Listing, then building the report."),
        ModelStepFinished(1, first),
        UsageReported(first.usage),
        ToolCallStarted(LS),
        ToolCallStarted(SLOW),
        ToolCallFinished(LS, LS_RESULT),
        TurnFailed(TurnInterrupted("the turn was interrupted by the user")),
    ]


def hosted() -> list[Event]:
    """Server-side calls, a downloaded file, notices, an approval by rule and a denial.

    Durations of 1.125 s and 12.5 ms (``failed``) are ties that Python's own rounding
    would round down; the renderers must both round them up.
    """
    run_result = ToolResult(HOSTED_RUN.id, "chart.png\n", False, 0, 1.125)
    edit_result = ToolResult(HOSTED_EDIT.id, "File not found: /tmp/data.csv", True, None, 0.75)
    first = step(
        "I'll draw the chart in the sandbox.",
        (HOSTED_RUN, run_result),
        (HOSTED_EDIT, edit_result),
        usage=Usage(2000, 80),
    )
    second = step(
        "The chart is ready. Cleaning up needs your permission.",
        READ,
        DELETE,
        stop_reason="tool_use",
        usage=Usage(2100, 40),
    )
    third = step(
        "Done: the chart is in `outputs/chart.png`; the build stays.", usage=Usage(2200, 20)
    )
    total = first.usage + second.usage + third.usage
    denial = 'by the person: "keep the build, I\'m still using it"'
    return [
        TurnStarted("Draw the sales chart and clean up", "anthropic", MODEL),
        Notice("reusing container container_011CYfake (expires 12:30)"),
        TextDelta("I'll draw the chart in the sandbox."),
        ServerToolCallStarted(HOSTED_RUN),
        ServerToolCallFinished(HOSTED_RUN, run_result),
        ServerToolCallStarted(HOSTED_EDIT),
        ServerToolCallFinished(HOSTED_EDIT, edit_result),
        ModelStepFinished(1, first),
        FileCreated("/home/me/project/outputs/chart.png", HOSTED_RUN.id),
        FileCreated("/home/me/project/outputs/sales summary.csv", HOSTED_RUN.id),
        Notice("the Files API was slow; the download was retried once", "warning"),
        TextDelta("The chart is ready. Cleaning up needs your permission."),
        ModelStepFinished(2, second),
        ApprovalAnswered(READ, True, "by rule: view is read-only"),
        ToolCallStarted(READ),
        ToolCallStarted(DELETE),
        ApprovalAsked(DELETE, "Run `rm -rf build`?"),
        ApprovalAnswered(DELETE, False, denial),
        ToolCallFinished(READ, ToolResult(READ.id, "# Sales\n", False, None, 0.0004)),
        ToolCallFinished(DELETE, ToolResult(DELETE.id, f"denied {denial}", True)),
        TextDelta("Done: the chart is in `outputs/chart.png`; the build stays."),
        ModelStepFinished(3, third),
        UsageReported(total),
        TurnEnded("end_turn", third.text(), total),
    ]


def hybrid() -> list[Event]:
    """A hybrid session: each call's row names the backend its route sent it to, code
    execution's included."""
    run_result = ToolResult(HOSTED_RUN.id, "chart.png\n", False, 0, 1.125)
    first = step(
        "I'll read the page here, list the sandbox and draw the chart.",
        (HOSTED_RUN, run_result),
        VIEW,
        LS,
        stop_reason="tool_use",
    )
    second = step("All three ran where you routed them.")
    total = first.usage + second.usage
    return [
        TurnStarted("Read, list and draw", "hybrid", MODEL),
        TextDelta("I'll read the page here, list the sandbox and draw the chart."),
        ServerToolCallStarted(HOSTED_RUN, backend="anthropic"),
        ServerToolCallFinished(HOSTED_RUN, run_result),
        ModelStepFinished(1, first),
        ToolCallStarted(VIEW, backend="local"),
        ToolCallStarted(LS, backend="docker"),
        ToolCallFinished(VIEW, ToolResult(VIEW.id, "     1\t<p>hello</p>", False, None, 0.25)),
        ToolCallFinished(LS, LS_RESULT),
        TextDelta("All three ran where you routed them."),
        ModelStepFinished(2, second),
        UsageReported(total),
        TurnEnded("end_turn", second.text(), total),
    ]


def thinking() -> list[Event]:
    """Summarised thinking before each step's text and calls: a folded row per step,
    never part of the answer. The first step's words are split by a blank line, a tab,
    a no-break space and U+0085, the second's is one word, so the Python and TypeScript
    word counts are held to the same edge cases."""
    first_thought = "The person asks about HTML files.\n\nI should list the folder "
    second_thought = "first,\tthen\u00a0count\u0085them."
    first = step("Let me count the files.", LS, stop_reason="tool_use", usage=Usage(900, 60))
    first.message["content"].insert(0, _thinking_block(first_thought + second_thought, "sig1"))
    second = step("There are two: `index.html` and `page.html`.", usage=Usage(1000, 20))
    second.message["content"].insert(0, _thinking_block("Two.", "sig2"))
    total = first.usage + second.usage
    return [
        TurnStarted("How many HTML files are there?", "local", MODEL),
        ThinkingDelta(first_thought),
        ThinkingDelta(second_thought),
        TextDelta("Let me count the files."),
        ModelStepFinished(1, first),
        UsageReported(first.usage),
        ToolCallStarted(LS),
        ToolCallFinished(LS, LS_RESULT),
        ThinkingDelta("Two."),
        TextDelta("There are two: `index.html` and `page.html`."),
        ModelStepFinished(2, second),
        UsageReported(total),
        TurnEnded("end_turn", second.text(), total),
    ]


PYTEST_PRINTED = (
    "\x1b[1m============================= test session starts ==============================\x1b[0m\n"
    "collected 3 items\n\n"
    "tests/test_words.py \x1b[32m.\x1b[0m\x1b[32m.\x1b[0m\x1b[31mF\x1b[0m\x1b[31m"
    "                                    [100%]\x1b[0m\n\n"
    "\x1b[31m\x1b[1m_________________________________ test_count _________________________________\x1b[0m\n"
    "\x1b[1m\x1b[31mE       assert 3 == 4\x1b[0m\n"
    "\x1b[31m========================= \x1b[31m\x1b[1m1 failed\x1b[0m, \x1b[32m2 passed\x1b[0m"
    "\x1b[31m in 0.02s\x1b[0m\x1b[31m ==========================\x1b[0m\n"
)
LISTING_PRINTED = (
    "\x1b[0m\x1b[01;34mdocs\x1b[0m  notes.md  \x1b[01;32mrun.sh\x1b[0m\n"
    "\x1b[33m1a2b3c4\x1b[m Count words \x1b]8;;https://example.com/pr/7\x1b\\(#7)\x1b]8;;\x1b\\\n"
    "\x1b[33m9f8e7d6\x1b[m Start\n"
    "fetching   10%\rfetching   55%\rfetching  100%\x1b[K\n"
)


def coloured_output() -> list[Event]:
    """Two calls at once whose commands print in colour (pytest, ls, git), a link (OSC 8)
    and a progress bar redrawn with carriage returns: every rendering shows them as a
    terminal would, no escape left in sight."""
    tests = ToolResult(
        TESTS.id, format_exec_result(ExecResult(1, PYTEST_PRINTED, ""), 30_000), True, 1, 1.5
    )
    listing = ToolResult(
        LISTING.id, format_exec_result(ExecResult(0, LISTING_PRINTED, ""), 30_000), False, 0, 0.25
    )
    first = step("Running both.", TESTS, LISTING, stop_reason="tool_use")
    second = step("One test fails: `test_count` expects 4 words.")
    total = first.usage + second.usage
    return [
        TurnStarted("Run the tests and show me the folder", "local", MODEL),
        TextDelta("Running both."),
        ModelStepFinished(1, first),
        ToolCallStarted(TESTS),
        ToolCallStarted(LISTING),
        ToolCallFinished(LISTING, listing),
        ToolCallFinished(TESTS, tests),
        TextDelta("One test fails: `test_count` expects 4 words."),
        ModelStepFinished(2, second),
        UsageReported(total),
        TurnEnded("end_turn", second.text(), total),
    ]


def long_output() -> list[Event]:
    """A command printed 3 MB: the model got its head and tail (the backend's cap, made
    small here), and the saved turn shows its first lines and "show all"."""
    capture = StreamCapture(3_000)
    for number in range(80_000):
        capture.feed(f"{number:07d} {'x' * 30}\n".encode())
    printed, gap = capture.result()
    content = format_exec_result(ExecResult(0, printed, "", stdout_gap=gap), 6_000)
    first = step("Making the log.", LOG, stop_reason="tool_use")
    second = step("The log has 80,000 lines.")
    total = first.usage + second.usage
    return [
        TurnStarted("Make the log", "local", MODEL),
        TextDelta("Making the log."),
        ModelStepFinished(1, first),
        ToolCallStarted(LOG),
        ToolCallFinished(LOG, ToolResult(LOG.id, content, False, 0, 2.0)),
        TextDelta("The log has 80,000 lines."),
        ModelStepFinished(2, second),
        UsageReported(total),
        TurnEnded("end_turn", second.text(), total),
    ]


def interrupted_while_asking() -> list[Event]:
    """Ctrl-C while the person was asked whether a call may run: the question stays
    asked, the call interrupted."""
    first = step("Cleaning up.", DELETE, stop_reason="tool_use")
    return [
        TurnStarted("Clean up", "local", MODEL),
        TextDelta("Cleaning up."),
        ModelStepFinished(1, first),
        ToolCallStarted(DELETE),
        ApprovalAsked(DELETE, "Run `rm -rf build` ($((6*7)) files)?"),
        TurnFailed(TurnInterrupted("the turn was interrupted by the user")),
    ]


def budget_stop() -> TurnRecord:
    """The cell's spending limit stops the turn before its second model call."""
    first = step("Running the tests first.", TESTS, stop_reason="tool_use", usage=Usage(4000, 300))
    limit = BudgetExceeded(
        "this cell has spent $0.051 of its $0.05 limit",
        scope="cell",
        limit="$0.05",
        raise_to="$0.10",
    )
    record = record_of(
        [
            TurnStarted("Fix the failing test", "local", MODEL),
            TextDelta("Running the tests first."),
            ModelStepFinished(1, first),
            UsageReported(first.usage),
            ToolCallStarted(TESTS),
            ToolCallFinished(
                TESTS, ToolResult(TESTS.id, "1 failed, 2 passed\nexit code: 1", True, 1, 1.25)
            ),
            TurnFailed(limit),
        ]
    )
    record.spend = Spend(0.0512, 4300)
    record.total_spend = Spend(0.0987, 8100)
    return record


def _thinking_block(text: str, signature: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": signature}


def record_of(events: list[Event]) -> TurnRecord:
    """The record the session would save: folded by ``TurnRecorder``, version pinned."""
    ticks = iter(range(0, 1000, 2))  # each turn "takes" two seconds, whatever the machine
    recorder = TurnRecorder(
        skills={"word-stats": "c0ffee"}, paths={"workdir": FOLDER}, clock=lambda: next(ticks)
    )
    for event in events:
        recorder.add(event)
    assert recorder.record is not None
    recorder.record.version = VERSION
    return recorder.record


def record_off() -> TurnRecord:
    """``%config ConjureMagics.record = False``: the chat magic drops the steps, only them."""
    return dataclasses.replace(record_of(tool_calls()), steps=[])


def replayed() -> TurnRecord:
    """A replay that drifted, with a changed skill, cut off at max_tokens."""
    record = record_of(tool_calls())
    record.replayed = True
    record.stop_reason = "max_tokens"
    record.drift = [
        {
            "tool_use_id": LS.id,
            "name": "bash_tool",
            "diff": "--- recorded\n+++ re-run\n@@ -1,2 +1,2 @@\n-index.html\n+main.html\n page.html",
        }
    ]
    record.skills_changed = ["word-stats"]
    # A model without a price this turn; a notebook total whose cents are a tie (.125,
    # exact in binary) that both renderers must round to even, as Python's format does.
    record.spend = Spend(0.0, 2460, unpriced=True)
    record.total_spend = Spend(1234.125, 12_345_678, unpriced=True)
    return record


EVENTS: dict[str, Callable[[], list[Event]]] = {
    "plain_answer": plain_answer,
    "tool_calls": tool_calls,
    "failed": failed,
    "interrupted": interrupted,
    "hosted": hosted,
    "hybrid": hybrid,
    "thinking": thinking,
    "coloured_output": coloured_output,
    "long_output": long_output,
    "interrupted_while_asking": interrupted_while_asking,
}
"""Scenarios that are nothing but their events (a live view can be fed them too)."""

SCENARIOS: dict[str, Callable[[], TurnRecord]] = {
    **{name: (lambda events=events: record_of(events())) for name, events in EVENTS.items()},
    "record_off": record_off,
    "replayed": replayed,
    "budget_stop": budget_stop,
}
"""Golden name → the record saved for it."""
