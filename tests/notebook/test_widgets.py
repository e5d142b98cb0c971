"""Widget state: the tool trace follows a scripted turn event by event, the history
follows later turns, the picker applies a choice through the magics' callbacks.

No browser: the assertions read the widgets' values, as the frontend would draw them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from golden.scenarios import EVENTS
from view_feed import ViewFeed

from conjure_kernel.clients.base import ModelResponse, Usage
from conjure_kernel.clients.models import built_in_catalog
from conjure_kernel.clients.pricing import spend_of
from conjure_kernel.conversation.transcript import TurnRecord, TurnRecorder
from conjure_kernel.events import (
    ApprovalAnswered,
    ApprovalAsked,
    Event,
    FileCreated,
    ModelStepFinished,
    Notice,
    TextDelta,
    ThinkingDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolOutput,
    TurnEnded,
    TurnStarted,
    UsageReported,
)
from conjure_kernel.notebook import views
from conjure_kernel.notebook.ansi import ansi_to_html
from conjure_kernel.notebook.display import TURN_MIME_TYPE
from conjure_kernel.notebook.widgets import HistoryView, PickerWidget, TraceWidget
from conjure_kernel.notebook.widgets import history as history_module
from conjure_kernel.notebook.widgets import picker as picker_module
from conjure_kernel.notebook.widgets import trace as trace_module
from conjure_kernel.tools.printed_limits import FOLD_LINES, LIVE_TAIL
from conjure_kernel.tools.values import ToolCall, ToolResult

PRICED = "claude-sonnet-4-5"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
LS = ToolCall("t1", "bash_tool", {"command": "ls --color"})
STEP_USAGE = Usage(input_tokens=100, output_tokens=20, cache_read_input_tokens=50)
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def keep(text: str) -> str:
    return text


def hide_secret(text: str) -> str:
    return text.replace("sk-secret", "[hidden]")


def htmls(widget: widgets.Widget) -> list[str]:
    """Every HTML widget's value under ``widget``, in the order they are drawn."""
    if isinstance(widget, widgets.HTML):
        return [widget.value]
    return [value for child in getattr(widget, "children", ()) for value in htmls(child)]


def shown(widget: widgets.Widget) -> str:
    return "\n".join(htmls(widget))


def find(widget: widgets.Widget, kind: type, **traits: Any) -> list[Any]:
    found = [widget] if isinstance(widget, kind) else []
    if found and any(getattr(widget, name) != value for name, value in traits.items()):
        found = []
    return found + [
        w for child in getattr(widget, "children", ()) for w in find(child, kind, **traits)
    ]


def entries(trace: TraceWidget) -> tuple[widgets.Widget, ...]:
    return trace.widget.children[0].children


def footer(trace: TraceWidget) -> str:
    return trace.widget.children[1].value


def step(model: str, stop_reason: str = "end_turn") -> ModelStepFinished:
    message = {"role": "assistant", "content": [{"type": "text", "text": "…"}]}
    return ModelStepFinished(1, ModelResponse(message, stop_reason, STEP_USAGE, model))


@pytest.fixture
def displayed(monkeypatch) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The trace's, history's and picker's display calls, kept instead of sent; the trace is made
    at the first event, as for a turn that runs a while (test_quick_turns.py covers the
    turn that ends at once)."""
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
    monkeypatch.setattr(TraceWidget, "start_after", 0.0)

    def record(obj: Any, **kwargs: Any) -> None:
        calls.append((obj, kwargs))

    monkeypatch.setattr(trace_module, "display", record)
    monkeypatch.setattr(history_module, "display", record)
    monkeypatch.setattr(picker_module, "display", record)
    return calls


def record_of(events: Iterable[Event]) -> TurnRecord:
    recorder = TurnRecorder(skills={}, paths={})
    for event in events:
        recorder.add(event)
    assert recorder.record is not None
    return recorder.record


# -- the tool trace -------------------------------------------------------------------------


def test_the_trace_shows_every_event_of_a_turn_in_order(displayed, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plot.png").write_bytes(PNG)
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)

    tell(TurnStarted("list the files", "local", PRICED))
    assert displayed[0][0][WIDGET_VIEW]["model_id"] == trace.widget.model_id
    assert "running…" in footer(trace)

    tell(TextDelta("Let me **look**.\n\n"))
    (text,) = entries(trace)
    assert "<strong>look</strong>" in shown(text)

    tell(ToolCallStarted(LS))
    assert len(entries(trace)) == 2
    row = entries(trace)[1]
    assert 'title="running"' in shown(row) and "bash_tool ls --color · running…" in shown(row)

    tell(ToolOutput("t1", "\x1b[31mred.txt\x1b[0m\n"))
    assert '<span style="color:#e75c58">red.txt</span>' in shown(row)
    tell(ToolOutput("t1", "blue.txt\n"))
    assert "red.txt</span>\nblue.txt" in shown(row)

    tell(ToolCallFinished(LS, ToolResult("t1", "red.txt\nblue.txt", False, 0, 0.25)))
    assert 'title="ok"' in shown(row) and "bash_tool ls --color · exit 0 · 250 ms" in shown(row)
    assert "running" not in shown(row)

    tell(Notice("retrying in 2 s", "warning"))
    assert "warning: retrying in 2 s" in shown(entries(trace)[2])

    tell(FileCreated(str(tmp_path / "plot.png"), "t1"))
    created = entries(trace)[3]
    assert '<a href="plot.png" target="_blank"><code>' in shown(created)
    assert [image.value for image in find(created, widgets.Image)] == [PNG]

    tell(step(PRICED))
    tell(UsageReported(STEP_USAGE))
    assert "150 in (50 cached) / 20 out" in footer(trace)
    assert spend_of(PRICED, STEP_USAGE).short() in footer(trace)

    tell(TextDelta("Found two files."))
    tell(TurnEnded("end_turn", "Found two files.", STEP_USAGE))
    assert len(entries(trace)) == 5
    assert "Found two files." in shown(entries(trace)[4])
    assert "done" in footer(trace)
    drawn = shown(trace.widget)
    order = ["look", "bash_tool ls", "retrying", "plot.png", "Found two", "150 in"]
    assert [drawn.index(piece) for piece in order] == sorted(drawn.index(p) for p in order)


def test_an_unknown_model_shows_tokens_without_a_cost(displayed):
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*[TurnStarted("hi", "local", "my-own-model"), step("my-own-model")])
    tell(*[UsageReported(STEP_USAGE), TurnEnded("end_turn", "", STEP_USAGE)])
    assert "150 in (50 cached) / 20 out" in footer(trace)
    assert "$" not in footer(trace)


def test_streamed_text_renders_each_finished_block_once(displayed):
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*[TurnStarted("hi", "local", PRICED), TextDelta("Hello **wor")])
    (text,) = entries(trace)
    assert htmls(text) == ['<div style="white-space:pre-wrap">Hello **wor</div>']
    tell(TextDelta("ld**\n\nNext"))
    finished, open_block = htmls(text)
    assert "<strong>world</strong>" in finished
    assert "Next" in open_block and "<p>" not in open_block
    tell(TurnEnded("end_turn", "", Usage()))
    assert len(htmls(text)) == 2 and "<p>Next</p>" in htmls(text)[1]


def test_thinking_is_a_muted_row_open_as_it_streams_and_folded_when_the_step_goes_on(
    displayed, monkeypatch
):
    monkeypatch.setattr(views, "REFRESH_SECONDS", 0.0)
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*[TurnStarted("hi", "local", PRICED), ThinkingDelta("Look at ")])
    (row,) = entries(trace)
    [toggle] = find(row, widgets.ToggleButton)
    tell(ThinkingDelta("the <files> first."))
    assert toggle.value is True and "thinking…" in shown(row)
    assert "Look at the &lt;files&gt; first." in shown(row)
    assert all("var(--jp-ui-font-color2)" in value for value in htmls(row))
    tell(*[TextDelta("Let me look."), ToolCallStarted(LS), ThinkingDelta("Done.")])
    assert toggle.value is False and row.children[1].layout.display == "none"
    assert "thinking · 5 words" in shown(row) and "Look at the" in shown(row)
    last = entries(trace)[3]
    assert len(entries(trace)) == 4 and "thinking…" in shown(last)
    tell(TurnEnded("end_turn", "", Usage()))
    assert "thinking · 1 word" in shown(last) and "Look at" not in footer(trace)


def test_the_traces_thinking_rows_read_as_the_golden_plain_lines(displayed):
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*EVENTS["thinking"]())
    golden = Path(__file__).parents[1] / "golden" / "thinking.txt"
    lines = [line[1:-1] for line in golden.read_text().splitlines() if line.startswith("[thinking")]
    rows = [row for row in entries(trace) if "conjure-thinking" in row._dom_classes]
    titles = [re.sub("<[^>]+>", "", row.children[0].children[1].value) for row in rows]
    assert len(lines) == 2 and titles == lines


def test_a_call_cut_off_by_the_turns_end_is_interrupted(displayed):
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*[TurnStarted("hi", "local", PRICED), ToolCallStarted(LS)])
    tell(TurnEnded("end_turn", "", Usage()))
    assert 'title="interrupted"' in shown(entries(trace)[0])


def test_a_denied_call_shows_denied_and_the_decision(displayed):
    rm = ToolCall("t9", "bash_tool", {"command": "rm -rf build"})
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(
        *[
            TurnStarted("clean up", "local", PRICED),
            ToolCallStarted(rm),
            ApprovalAsked(rm, "run it?"),
        ],
    )
    approval = entries(trace)[1]
    assert "approval for bash_tool rm -rf build: run it? · asked" in shown(approval)
    tell(ApprovalAnswered(rm, False, "by a rule"))
    assert "denied (by a rule)" in shown(approval)
    assert " · denied" in shown(entries(trace)[0])
    tell(ToolCallFinished(rm, ToolResult("t9", "denied by the person", True)))
    assert " · denied" in shown(entries(trace)[0])


def test_everything_the_trace_shows_is_redacted(displayed):
    call = ToolCall("t1", "bash_tool", {"command": "curl -H 'key: sk-secret'"})
    trace = TraceWidget(hide_secret)
    tell = ViewFeed(trace)
    tell(
        *[
            TurnStarted("use sk-secret", "local", PRICED),
            ThinkingDelta("Try sk-secret."),
            TextDelta("The key sk-secret works.\n\n"),
            ToolCallStarted(call),
            ToolOutput("t1", "sent sk-secret\n"),
        ],
    )
    assert "sk-secret" not in shown(trace.widget)
    tell(
        *[
            ToolCallFinished(call, ToolResult("t1", "ok sk-secret", False, 0)),
            Notice("sk-secret rotated"),
            TurnEnded("end_turn", "", Usage()),
        ],
    )
    drawn = shown(trace.widget)
    assert "sk-secret" not in drawn and drawn.count("[hidden]") >= 4


def test_live_output_keeps_its_latest_part(displayed):
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*[TurnStarted("hi", "local", PRICED), ToolCallStarted(LS)])
    printed = "".join(f"line {number}\n" for number in range(5_000))
    tell(ToolOutput("t1", printed))
    drawn = shown(entries(trace)[0])
    assert "line 4999" in drawn and "line 0\n" not in drawn
    assert len(drawn) < LIVE_TAIL + 2_000


def test_long_output_folds_behind_show_all(displayed):
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    content = "\n".join(f"line {number}" for number in range(100))
    tell(*[TurnStarted("hi", "local", PRICED), ToolCallStarted(LS)])
    tell(ToolCallFinished(LS, ToolResult("t1", content, True, 1)))
    row = entries(trace)[0]
    drawn = shown(row)
    first, rest = drawn.split('<details class="conjure-more">')
    assert f"line {FOLD_LINES - 1}\n" in first and f"line {FOLD_LINES}\n" not in first
    assert "show all 100 lines</summary>" in rest and "line 99" in rest  # as saved


def test_finish_replaces_the_widget_with_the_saved_bundle(displayed):
    events = [
        TurnStarted("hi", "local", PRICED),
        TextDelta("Done."),
        step(PRICED),
        TurnEnded("end_turn", "Done.", STEP_USAGE),
    ]
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(*events)
    trace.finish(record_of(events))
    (live, first_options), (saved, options) = displayed
    assert WIDGET_VIEW in live
    assert options == {"raw": True, "display_id": first_options["display_id"], "update": True}
    assert saved[TURN_MIME_TYPE]["timeline"] == [{"type": "text", "text": "Done."}]
    assert trace.widget.comm is None


def test_finish_without_a_record_keeps_the_widget(displayed):
    trace = TraceWidget(keep)
    tell = ViewFeed(trace)
    tell(TurnStarted("hi", "local", PRICED))
    trace.finish(None)
    assert len(displayed) == 1 and trace.widget.comm is not None


def test_ansi_colours_become_spans_and_other_sequences_vanish():
    assert ansi_to_html("\x1b[1;92mok\x1b[22m <b>\x1b[39m\x1b[2A.") == (
        '<span style="color:#007427;font-weight:bold">ok</span>'
        '<span style="color:#007427"> &lt;b&gt;</span>.'
    )
    assert ansi_to_html("\x1b[38;5;31mx\x1b[m") == "x"


# -- the session history ----------------------------------------------------------------------


def turn(message: str, model: str = PRICED) -> TurnRecord:
    return record_of(
        [
            TurnStarted(message, "local", model),
            ToolCallStarted(LS),
            ToolCallFinished(LS, ToolResult("t1", "a.txt", False, 0, 1.5)),
            TextDelta("Two files."),
            step(model),
            TurnEnded("end_turn", "Two files.", STEP_USAGE),
        ]
    )


def rows(history: HistoryView) -> list[str]:
    """Each turn's row in the history's HTML."""
    shown_html = history._repr_mimebundle_()["text/html"]
    return re.findall(r'<details class="conjure-history-row">.*?</details>', shown_html, re.S)


def totals(history: HistoryView) -> str:
    (line,) = re.findall(
        r'<div class="conjure-history-total">(.*?)</div>', history._repr_mimebundle_()["text/html"]
    )
    return line


def test_history_rows_show_each_turn_and_open_onto_its_messages():
    history = HistoryView([turn("list the files")], keep, messages=4)
    (row,) = rows(history)
    for cell in ("list the files", "local", PRICED, ">1<", "150 (50) / 20", "1.50 s"):
        assert cell in row
    assert spend_of(PRICED, STEP_USAGE).short() in row
    assert "<pre>list the files</pre>" in row and "bash_tool ls --color" in row
    assert "1 turn(s), 4 message(s) · 1 tool call(s)" in totals(history)


def test_history_refresh_adds_rows_and_updates_the_totals(displayed):
    transcript = [turn("first")]
    history = HistoryView(transcript, keep, messages=2)
    first = rows(history)[0]
    transcript += [turn("second"), turn("third", "my-own-model")]
    history.refresh(transcript, messages=6)
    assert len(rows(history)) == 3 and rows(history)[0] == first
    assert "third" in rows(history)[2]
    assert "3 turn(s), 6 message(s) · 3 tool call(s)" in totals(history)
    assert "450 (150) / 60 tokens" in totals(history)
    assert "unknown price" in totals(history)
    assert displayed == []  # shown without show(): nothing to redraw


def test_history_shows_anew_after_a_reset():
    transcript = [turn("first"), turn("second")]
    history = HistoryView(transcript, keep)
    transcript.clear()
    transcript.append(turn("after the reset"))
    history.refresh(transcript)
    (row,) = rows(history)
    assert "after the reset" in row


def test_history_is_html_and_text_with_no_widget_view(displayed):
    """A saved notebook holds a widget's output as a model id that a restarted kernel no
    longer knows: the history reads from its HTML alone, redacted."""
    history = HistoryView([turn("sk-secret please")], hide_secret, messages=2)
    bundle = history._repr_mimebundle_()
    assert set(bundle) == {"text/html", "text/plain"}
    assert '<div class="conjure-history">' in bundle["text/html"]
    assert "[hidden] please" in bundle["text/html"] and "sk-secret" not in bundle["text/html"]
    assert bundle["text/plain"].startswith("1 turn(s), 2 message(s)")
    assert "sk-secret" not in bundle["text/plain"]


def test_a_shown_history_is_redrawn_on_refresh(displayed):
    transcript = [turn("first")]
    history = HistoryView(transcript, keep)
    history.show()
    history.refresh([*transcript, turn("second")])
    (shown_obj, first), (updated, again) = displayed
    assert shown_obj is history and updated is history
    assert again == {"display_id": first["display_id"], "update": True}
    assert "second" in history._repr_mimebundle_()["text/html"]


# -- the backend and model picker ---------------------------------------------------------------


class Magics:
    """What the magics hand the picker: their own switch and model setters."""

    def __init__(self, refuse: Exception | None = None, warn: str | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.refuse = refuse
        self.warn = warn

    def switch_backend(self, name: str, settings: dict[str, str]) -> str:
        self.calls.append(("backend", (name, settings)))
        if self.refuse is not None:
            raise self.refuse
        return f"{name}: tools run here"

    def set_model(self, model: str) -> str | None:
        self.calls.append(("model", model))
        return self.warn


def picker_for(magics: Magics) -> PickerWidget:
    return PickerWidget(
        "local", PRICED, switch_backend=magics.switch_backend, set_model=magics.set_model
    )


def field(picker: PickerWidget, kind: type, name: str) -> Any:
    (found,) = find(picker.widget, kind, description=name)
    return found


def click(picker: PickerWidget, name: str = "Apply") -> None:
    (button,) = find(picker.widget, widgets.Button, description=name)
    button.click()


def test_the_picker_shows_the_current_backend_and_its_settings():
    picker = picker_for(Magics())
    assert field(picker, widgets.Dropdown, "backend").value == "local"
    assert field(picker, widgets.Combobox, "model").value == PRICED
    assert field(picker, widgets.Text, "timeout").placeholder == "300.0"
    assert "current: local backend" in shown(picker.widget)


def test_the_picker_switches_with_the_settings_filled_in():
    magics = Magics()
    picker = picker_for(magics)
    field(picker, widgets.Dropdown, "backend").value = "native"
    texts = find(picker.widget, widgets.Text)
    assert [w.description for w in texts if not isinstance(w, widgets.Combobox)] == ["workdir"]
    field(picker, widgets.Text, "workdir").value = " /tmp/run "
    click(picker)
    assert magics.calls == [("backend", ("native", {"workdir": "/tmp/run"}))]
    assert "native: tools run here" in shown(picker.widget)
    click(picker)  # nothing new chosen: the same backend and settings again do nothing
    assert len(magics.calls) == 1 and "nothing to change" in shown(picker.widget)


def test_the_picker_offers_a_settings_choices_with_its_default_first():
    picker = picker_for(Magics())
    field(picker, widgets.Dropdown, "backend").value = "docker"
    network = field(picker, widgets.Dropdown, "network")
    assert network.options == (("default (none)", ""), ("none", "none"), ("bridge", "bridge"))
    network.value = "bridge"
    assert picker.settings() == {"network": "bridge"}


def test_the_picker_sets_the_model():
    magics = Magics()
    picker = picker_for(magics)
    field(picker, widgets.Combobox, "model").value = "claude-opus-5"
    click(picker)
    assert magics.calls == [("model", "claude-opus-5")]
    assert picker.model == "claude-opus-5"


def test_the_picker_offers_the_catalogs_models_and_what_it_knows_of_the_chosen_one():
    magics = Magics()
    catalog = built_in_catalog()
    picker = PickerWidget(
        "local",
        "claude-sonnet-5-5",
        switch_backend=magics.switch_backend,
        set_model=magics.set_model,
        models=catalog.usable,
    )
    model = field(picker, widgets.Combobox, "model")
    assert model.options == tuple(entry.id for entry in catalog.usable)
    assert "claude-sonnet-4-5" not in model.options  # retired
    assert (
        "Claude Sonnet 5.5 · context 1M · $2 / $10 per MTok in / out · "
        "supports thinking, effort, context editing?"
    ) in shown(picker.widget)
    model.value = "claude-fable-5-2"
    assert "Claude Fable 5.2 · context unknown · $8 / $40 per MTok in / out" in shown(picker.widget)
    model.value = "claude-my-own-1"  # free text stays possible
    assert "not in the list: the API says whether it exists" in shown(picker.widget)
    click(picker)
    assert magics.calls == [("model", "claude-my-own-1")]


def test_a_models_warning_shows_beside_the_change():
    magics = Magics(warn="warning: claude-nova-1 is not among the models the API lists")
    picker = picker_for(magics)
    field(picker, widgets.Combobox, "model").value = "claude-nova-1"
    click(picker)
    assert picker.model == "claude-nova-1"
    assert (
        "model: claude-nova-1 (warning: claude-nova-1 is not among the models the API lists)"
    ) in shown(picker.widget)


def test_a_refused_switch_shows_a_red_line_and_keeps_the_backend():
    magics = Magics(refuse=ValueError("timeout=soon: expected a finite number"))
    picker = picker_for(magics)
    field(picker, widgets.Text, "timeout").value = "soon"
    click(picker)
    assert magics.calls == [("backend", ("local", {"timeout": "soon"}))]
    assert "timeout=soon: expected a finite number" in shown(picker.widget)
    assert "jp-error-color1" in shown(picker.widget)
    assert picker.backend == "local"


def test_the_picker_carries_an_html_fallback():
    bundle = picker_for(Magics())._repr_mimebundle_()
    assert WIDGET_VIEW in bundle
    assert "backend: local · model: claude-sonnet-4-5" in bundle["text/html"]


def test_an_applied_choice_leaves_the_pickers_lines_in_its_place_and_frees_its_widgets(
    displayed,
):
    """The notebook saves the lines, not a widget view a restarted kernel cannot draw."""
    picker = picker_for(Magics())
    picker.show()
    assert WIDGET_VIEW in picker._repr_mimebundle_()
    field(picker, widgets.Dropdown, "backend").value = "native"
    click(picker)
    (live, shown_with), (lines, updated_with) = displayed
    assert live is picker
    assert updated_with == {"display_id": shown_with["display_id"], "update": True, "raw": True}
    assert set(lines) == {"text/html", "text/plain"}
    assert lines["text/plain"].splitlines() == [
        "backend: native · model: claude-sonnet-4-5 · available: anthropic, docker, hybrid, local, native",
        "native: tools run here",
    ]
    assert all(w.comm is None for w in find(picker.widget, widgets.Widget))
    picker.freeze()  # once frozen, nothing more is sent
    assert len(displayed) == 2


def test_a_refused_choice_keeps_the_picker_live_until_it_is_frozen(displayed):
    picker = picker_for(Magics(refuse=ValueError("timeout=soon: expected a finite number")))
    picker.show()
    field(picker, widgets.Text, "timeout").value = "soon"
    click(picker)
    assert len(displayed) == 1 and "expected a finite number" in shown(picker.widget)
    picker.freeze()  # the next cell runs
    (_, (lines, _)) = displayed
    assert lines["text/plain"] == (
        "backend: local · model: claude-sonnet-4-5 · available: anthropic, docker, hybrid, local, native"
    )
    assert all(w.comm is None for w in find(picker.widget, widgets.Widget))
