"""What the widgets cost per turn: the models a trace opens and frees, blocks redrawn in
place, and a history (HTML, no widgets) that follows a long session drawing each turn's
row once.

ipywidgets runs without a frontend here (each model's comm is a stand-in), so the models
counted are those the kernel would open, and keep, with JupyterLab attached.
"""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from ipywidgets.widgets.widget import _instances  # the kernel's open models, by id
from test_widgets import (  # noqa: F401 (displayed is a fixture)
    LS,
    PRICED,
    STEP_USAGE,
    displayed,
    entries,
    keep,
    record_of,
    step,
    turn,
)
from view_feed import ViewFeed

from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.events import (
    ApprovalAnswered,
    ApprovalAsked,
    Event,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    TurnStarted,
    UsageReported,
)
from conjure_kernel.notebook import history as history_table
from conjure_kernel.notebook.widgets import HistoryView, TraceWidget
from conjure_kernel.notebook.widgets import history as history_module
from conjure_kernel.tools.values import ToolResult

pytestmark = pytest.mark.usefixtures("displayed")  # display calls are kept, not sent


def plain_turn(text: str = "ok") -> list[Event]:
    return [
        TurnStarted("hi", "local", PRICED),
        TextDelta(text),
        step(PRICED),
        UsageReported(STEP_USAGE),
        TurnEnded("end_turn", text, STEP_USAGE),
    ]


def run_turn(events: list[Event]) -> TraceWidget:
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*events)
    trace.finish(record_of(events))
    return trace


def test_a_plain_turns_trace_opens_one_model_per_widget():
    run_turn(plain_turn())  # the shared layout and style are opened once, here
    before = set(_instances)
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*plain_turn())
    # the trace, its entries, its footer, the run of text and its one block
    assert len(set(_instances) - before) == 5


def test_a_finished_turn_frees_every_model_its_trace_opened():
    events = [
        TurnStarted("clean up", "local", PRICED),
        TextDelta("First this.\n\nThen that."),
        ToolCallStarted(LS),
        ApprovalAsked(LS, "run it?"),
        ApprovalAnswered(LS, True, "by a rule"),
        ToolCallFinished(LS, ToolResult("t1", "a.txt", False, 0, 0.1)),
        step(PRICED),
        UsageReported(STEP_USAGE),
        TurnEnded("end_turn", "", STEP_USAGE),
    ]
    run_turn(events)  # opens the shared layout and styles, once
    before = set(_instances)
    run_turn(events)
    assert set(_instances) == before


def test_a_block_that_ends_is_redrawn_in_its_own_widget():
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*[TurnStarted("hi", "local", PRICED), TextDelta("Hello **wor")])
    (text,) = entries(trace)
    (block,) = text.children
    tell(TextDelta("ld**\n\nNext"))
    assert text.children[0] is block and "<strong>world</strong>" in block.value


def test_showing_a_trace_or_a_history_reprs_none_of_their_widgets(monkeypatch):
    """ipywidgets' own bundle holds the repr of the widget and all it holds: a history's
    every row, at every turn."""
    monkeypatch.setattr(widgets.Widget, "__repr__", lambda self: pytest.fail("a widget's repr"))
    ViewFeed(TraceWidget(keep))(TurnStarted("hi", "local", PRICED))
    history = HistoryView([turn("first")], keep)
    assert "first" in history._repr_mimebundle_()["text/plain"]


def test_a_history_following_a_session_draws_each_turns_row_once(monkeypatch):
    drawn: list[int] = []
    opened: list[str] = []
    draw, draw_turn = history_table._row, history_module._turn_html

    def counted(number: int, *args: object) -> tuple[str, ...]:
        drawn.append(number)
        return draw(number, *args)

    def counted_turn(clean: TurnRecord) -> str:
        opened.append(clean.message)
        return draw_turn(clean)

    monkeypatch.setattr(history_table, "_row", counted)
    monkeypatch.setattr(history_module, "_turn_html", counted_turn)
    transcript = [turn("first")]
    history = HistoryView(transcript, keep)
    history.show()
    for number in range(2, 6):
        transcript.append(turn(f"turn {number}"))
        history.refresh(transcript, messages=2 * number)
        saved = history._repr_mimebundle_()  # what each refresh's display sends
    assert drawn == [1, 2, 3, 4, 5]
    assert opened == ["first", "turn 2", "turn 3", "turn 4", "turn 5"]
    assert "5 turn(s), 10 message(s)" in saved["text/plain"] and "turn 5" in saved["text/html"]
