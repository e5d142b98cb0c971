"""A turn that ends at once is shown once, in its saved form; one that runs a while is drawn
as it runs, from the moment it has run ``start_after`` seconds (checked while it waits)."""

from __future__ import annotations

import pytest
from golden.scenarios import EVENTS, record_of
from live_frontends import Frontends
from view_feed import ViewFeed

from conjure_kernel.events import ApprovalAsked, ThinkingDelta, TurnStarted
from conjure_kernel.notebook import views
from conjure_kernel.notebook.display import TURN_MIME_TYPE, LiveTurnView, turn_bundle
from conjure_kernel.notebook.widgets import TraceWidget
from conjure_kernel.notebook.widgets import trace as trace_module


@pytest.fixture
def quick(monkeypatch) -> Frontends:
    """The frontends, with the view's own start delay (not the ``frontends`` fixture's 0)."""
    fake = Frontends()
    monkeypatch.setattr(views, "display", fake.display)
    monkeypatch.setattr(views, "clear_output", fake.clear_output)
    return fake


class Clock:
    """``views.monotonic``, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(views, "monotonic", fake)
    return fake


@pytest.fixture
def widget_displays(monkeypatch) -> list[tuple[dict, dict]]:
    calls: list[tuple[dict, dict]] = []
    monkeypatch.setattr(trace_module, "display", lambda obj, **kw: calls.append((obj, kw)))
    return calls


@pytest.mark.parametrize("name", sorted(set(EVENTS) - {"record_off"}))
def test_a_turn_that_ends_at_once_is_one_output_and_a_console_prints_all_but_its_error(
    quick, clock, name
):
    """A turn that went well is one message; a failed one's text reaches a terminal
    without the error, which the cell raises and a terminal prints (test_console.py)."""
    events = EVENTS[name]()
    record = record_of(events)
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events:
        if not isinstance(event, ApprovalAsked):  # an approval is drawn at once: below
            tell(event)
    view.finish(record)
    saved = turn_bundle(record, str)
    assert quick.notebook() == [saved]
    error = saved[TURN_MIME_TYPE]["labels"].get("error", {})
    raised = {f"[{error.get('line')}]", f"[hint: {error.get('hint')}]"}
    printed = quick.console().splitlines()
    assert printed == [line for line in saved["text/plain"].splitlines() if line not in raised]
    assert record.model in printed[-1]  # the footer, last
    kinds = [message.kind for message in quick.messages]
    assert kinds == (["display", "update"] if error else ["display"]), kinds


def test_a_turn_that_waits_starts_drawing_once_it_has_run_a_while(quick, clock):
    events = EVENTS["tool_calls"]()
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    tell(events[0])
    tell(events[1])
    view.idle()
    assert quick.messages == []  # not yet: the turn may still end at once
    clock.now += LiveTurnView.start_after
    view.idle()
    shown = [message.kind for message in quick.messages]
    assert shown and set(shown) == {"display"}  # the status line and what came so far
    assert "running…" in quick.messages[0].bundle["text/plain"]
    for event in events[2:]:
        tell(event)
    view.finish(record_of(events))
    assert quick.notebook() == [turn_bundle(record_of(events), str)]
    assert "clear" in [message.kind for message in quick.messages]


def test_a_view_that_starts_late_shows_finished_thinking_folded_and_the_latest_open(quick, clock):
    events = EVENTS["thinking"]()
    second = max(i for i, event in enumerate(events) if isinstance(event, ThinkingDelta))
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events[: second + 1]:
        tell(event)
    assert quick.messages == []
    clock.now += LiveTurnView.start_after
    view.idle()
    thinking = [out["text/html"] for out in quick.notebook() if "conjure-thinking" in str(out)]
    assert len(thinking) == 2
    summary = '<summary data-label="thinking">thinking · 15 words</summary>'
    assert summary in thinking[0] and " open" not in thinking[0]
    assert ' open><summary data-label="thinking">thinking…</summary>' in thinking[1]
    assert quick.console().count("[thinking · 15 words]") == 1


def test_an_event_after_the_delay_starts_drawing_without_idle(quick, clock):
    events = EVENTS["plain_answer"]()
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    tell(events[0])
    clock.now += LiveTurnView.start_after
    tell(events[1])
    assert quick.messages and "running…" in quick.messages[0].bundle["text/plain"]


def test_a_question_to_the_person_is_drawn_at_once(quick, clock):
    events = EVENTS["hosted"]()
    asked = next(i for i, event in enumerate(events) if isinstance(event, ApprovalAsked))
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    for event in events[:asked]:
        tell(event)
    assert quick.messages == []
    tell(events[asked])
    console = quick.console()
    assert "running…" in console and "approval" in console.lower()


def test_a_turn_that_never_started_shows_nothing(quick, clock):
    view = LiveTurnView(str)
    tell = ViewFeed(view)
    tell(TurnStarted("hi", "local", "m"))
    view.finish(None)
    assert quick.messages == []


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_the_trace_of_a_turn_that_ends_at_once_makes_no_widget(widget_displays, clock):
    events = EVENTS["tool_calls"]()
    trace = TraceWidget(str)
    tell = ViewFeed(trace)
    for event in events:
        tell(event)
    trace.finish(record_of(events))
    assert trace.widget is None
    [(bundle, options)] = widget_displays
    assert bundle == turn_bundle(record_of(events), str) and not options.get("update")


def test_the_trace_of_a_turn_that_waits_is_made_with_all_it_did_so_far(widget_displays, clock):
    events = EVENTS["tool_calls"]()
    trace = TraceWidget(str)
    tell = ViewFeed(trace)
    for event in events[:5]:
        tell(event)
    trace.idle()
    assert trace.widget is None
    clock.now += TraceWidget.start_after
    trace.idle()
    assert trace.widget is not None and WIDGET_VIEW in widget_displays[0][0]
    record = record_of(events[:5])
    texts = [entry.text for entry in record.timeline.entries if hasattr(entry, "text")]
    shown = repr(trace.widget)  # every HTML value is in the widget tree's repr
    assert all(text.split()[0] in shown for text in texts if text.strip())
    for event in events[5:]:
        tell(event)
    trace.finish(record_of(events))
    assert widget_displays[-1][1].get("update") is True


def test_the_trace_is_made_at_once_for_a_question(widget_displays, clock):
    events = EVENTS["hosted"]()
    asked = next(i for i, event in enumerate(events) if isinstance(event, ApprovalAsked))
    trace = TraceWidget(str)
    tell = ViewFeed(trace)
    for event in events[:asked]:
        tell(event)
    assert trace.widget is None
    tell(events[asked])
    assert trace.widget is not None


def test_a_trace_made_late_folds_finished_thinking_and_leaves_the_latest_open(
    widget_displays, clock
):
    events = EVENTS["thinking"]()
    second = max(i for i, event in enumerate(events) if isinstance(event, ThinkingDelta))
    trace = TraceWidget(str)
    tell = ViewFeed(trace)
    for event in events[: second + 1]:
        tell(event)
    clock.now += TraceWidget.start_after
    trace.idle()
    rows = [
        row for row in trace.widget.children[0].children if "conjure-thinking" in row._dom_classes
    ]
    toggles = [row.children[0].children[0].value for row in rows]
    titles = [row.children[0].children[1].value for row in rows]
    assert toggles == [False, True]
    assert "thinking · 15 words" in titles[0] and "thinking…" in titles[1]
