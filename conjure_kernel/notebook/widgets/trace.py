"""The tool trace: one chat turn as a widget, updated as its events arrive.

A ``TurnView`` (see ``views.py``) for frontends with a widget manager. It lays out the
recorder's timeline, each entry in a widget of its own, and redraws the entries each
change names, nothing else: the answer's text through the same block streaming
as the HTML view (``views.StreamedMarkdown``), a muted row per step's thinking (open as
it streams, folded once the step goes on), a collapsible row per tool call with its
state, duration, exit code and output, and a line per notice, created file and approval;
a question waiting for the person has buttons that answer it (``ask``). Tokens and the
estimated cost are at the bottom. When the turn ends, the saved bundle
replaces the widget's output, so the notebook keeps no widget state.

As the HTML view does, the trace makes no widget for a turn that ends within
``start_after`` seconds (the saved bundle is its one output); it is made once the turn
has run that long (``idle`` is called while the turn waits), or at once for an approval.
"""

from __future__ import annotations

import html
import os
import uuid
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from ...clients.base import Usage
from ...clients.pricing import Spend, spend_of
from ...conversation.file_links import FileLinks as _Files
from ...conversation.labels import notice_line as _notice_line
from ...conversation.session_gate import Approval, ApprovalRequest
from ...conversation.timeline import Timeline
from ...conversation.transcript import TurnChange, TurnRecord
from ...conversation.turn import (
    Entry,
    FileEntry,
    NoticeEntry,
    Redact,
    TextEntry,
    ThinkingEntry,
    ToolEntry,
)
from ...events import (
    ApprovalAsked,
    ModelStepFinished,
    TextDelta,
    ThinkingDelta,
    ToolOutput,
    TurnEnded,
    TurnFailed,
    TurnStarted,
    UsageReported,
)
from ..display import turn_bundle
from ..turn_html import live_answer_html as _live_answer_html
from ..views import REFRESH_SECONDS, StartDelay, StreamedMarkdown
from .column import Column
from .rows import MUTED, ApprovalRow, ThinkingRow, ToolRow, file_widget
from .shared import close_widgets, make, view_bundle

__all__ = ["TraceWidget"]

_Row = ToolRow | ApprovalRow

_FOOTER_UNCHANGED = (TextDelta, ThinkingDelta, ModelStepFinished)
"""Events after which the footer is not redrawn: streamed text changes nothing in it,
and a step's cost is drawn with its usage, which every backend reports next."""


class TraceWidget:
    """Shows one turn live as widgets, then leaves the turn's saved bundle in its place."""

    start_after = REFRESH_SECONDS

    def __init__(self, redact: Redact) -> None:
        self._redact = redact
        self._timeline: Timeline | None = None
        """The recorder's, once the turn started: laid out here, never folded into."""
        self._files = _Files("", os.getcwd())
        self._entries: Column | None = None
        self.widget: widgets.VBox | None = None
        """The entries above a footer; made after the first event, when the footer's
        first line is known, and shown then."""
        self._footer: widgets.HTML | None = None
        self._rows: dict[int, _Row] = {}
        """The rows of calls and approvals by the ``id`` of their entry, which the
        timeline keeps while the turn runs."""
        self._questions: dict[str, ApprovalRow] = {}
        """The rows of the approvals asked, by the id of their call."""
        self._text: StreamedMarkdown | None = None
        self._thinking: ThinkingRow | None = None
        self._seen = 0
        """How many of the timeline's entries have their widgets."""
        self._header = ""
        self._model = ""
        self._usage = Usage()
        self._spend = Spend()
        self._status = "running…"
        self._display_id = uuid.uuid4().hex
        self._delay = StartDelay(self.start_after)

    def update(self, change: TurnChange) -> None:
        event = change.event
        if isinstance(event, TurnStarted):
            self._timeline = change.record.timeline
            self._header = self._redact(f"{event.model} · {event.backend} backend")
            self._model = event.model
            self._delay.restart()
        elif isinstance(event, ModelStepFinished):
            response = event.response
            self._spend = self._spend + spend_of(response.model or self._model, response.usage)
        elif isinstance(event, UsageReported):
            self._usage = event.usage
        elif isinstance(event, ToolOutput):
            for call in change.entries:  # a row made later is drawn from the call's tail
                if isinstance(row := self._rows.get(id(call)), ToolRow):
                    row.add_printed(event.text)
            return
        elif change.entries and self.widget is not None:
            self._follow(change.entries, streamed=isinstance(event, TextDelta | ThinkingDelta))
        if isinstance(event, TurnEnded | TurnFailed):
            self._end_runs()
            if isinstance(event, TurnEnded):
                self._status, self._usage = "done", event.usage
            else:
                self._status = f"failed: {type(event.error).__name__}"
        if self._footer is not None and not isinstance(event, _FOOTER_UNCHANGED):
            self._footer.value = self._footer_html()
        elif self._footer is None:
            self._start(now=isinstance(event, ApprovalAsked))

    def ask(self, request: ApprovalRequest) -> Approval | None:
        """The person's answer from the buttons of the question's row (shown since it was
        asked); None where they cannot answer it, and the question is asked another way."""
        row = self._questions.get(request.call.id)
        return row.ask(request) if row is not None else None

    def idle(self) -> None:
        """The turn is waiting (for the model, a command): make the trace if it is time."""
        if self._footer is None:
            self._start()

    def finish(self, record: TurnRecord | None) -> None:
        """Replace the widget's output with the saved bundle and free the widgets."""
        if record is None:
            return
        bundle = turn_bundle(record, self._redact)
        display(bundle, raw=True, display_id=self._display_id, update=self.widget is not None)
        if self.widget is not None:
            close_widgets(self.widget)

    def _start(self, *, now: bool = False) -> None:
        """Make and show the trace with what the turn did so far, once it is time."""
        if self._delay.due(now=now):
            self._show()
            self._follow((), streamed=False)

    def _show(self) -> None:
        self._entries = Column()
        self._footer = make(widgets.HTML, value=self._footer_html())
        self.widget = make(
            widgets.VBox,
            children=(self._entries.box, self._footer),
            _dom_classes=("conjure-trace",),
        )
        bundle = view_bundle(self.widget, "conjure turn (tool trace)")
        display(bundle, raw=True, display_id=self._display_id)

    def _follow(self, changed: tuple[Entry, ...], *, streamed: bool) -> None:
        """Give new entries their widgets; redraw the text, and the rows of the
        ``changed`` entries (a streamed delta changes no row)."""
        entries = self._timeline.entries if self._timeline is not None else []
        added = []
        for entry in entries[self._seen :]:
            added.append(self._widget_for(entry))
            if self._text is not None and isinstance(entry, TextEntry):
                self._text.follow(entry.text)  # all of it, when the trace starts late
        if added and self._entries is not None:
            self._entries.extend(added)
        self._seen = len(entries)
        last = entries[-1] if entries else None
        if self._text is not None and isinstance(last, TextEntry):
            self._text.follow(last.text)
        if self._thinking is not None and isinstance(last, ThinkingEntry):
            self._thinking.follow()
        if not streamed:
            for entry in changed:
                if row := self._rows.get(id(entry)):
                    row.refresh()  # a row made just now finds nothing to redraw

    def _widget_for(self, entry: Entry) -> widgets.Widget:
        self._end_runs()
        if isinstance(entry, TextEntry):
            column = Column()
            self._text = StreamedMarkdown(_Blocks(column), self._draw_block, redraws=True)
            return column.box
        if isinstance(entry, ThinkingEntry):
            self._thinking = ThinkingRow(entry, self._redact)
            return self._thinking.widget
        if isinstance(entry, NoticeEntry):
            line = html.escape(_notice_line(entry.redacted(self._redact)))
            colour = "var(--jp-warn-color1)" if entry.level == "warning" else "inherit"
            return make(widgets.HTML, value=f'<div style="{MUTED};color:{colour}">{line}</div>')
        if isinstance(entry, FileEntry):
            return file_widget(entry, self._redact, self._files)
        row: _Row = (
            ToolRow(entry, self._redact)
            if isinstance(entry, ToolEntry)
            else ApprovalRow(entry, self._redact)
        )
        if isinstance(row, ToolRow):
            if entry.printed and entry.result is None:  # printed before the trace was made
                row.add_printed(entry.printed)
        elif entry.allowed is None:
            self._questions[entry.call.id] = row
        self._rows[id(entry)] = row
        return row.widget

    def _end_runs(self) -> None:
        """The text or thinking being streamed is over: another entry starts, or the turn ends."""
        if self._text is not None:
            self._text.end()
            self._text = None
        if self._thinking is not None:
            self._thinking.finish()
            self._thinking = None

    def _draw_block(self, block: str, *, finished: bool) -> dict[str, Any]:
        """A finished block of the answer as Markdown, rendered once; the block being
        written as plain text, which is cheap to redraw."""
        clean = self._redact(block)
        if finished:
            return {"text/html": _live_answer_html(clean)}
        return {"text/html": f'<div style="white-space:pre-wrap">{html.escape(clean)}</div>'}

    def _footer_html(self) -> str:
        usage = self._usage
        parts = [self._header, self._status] if self._header else [self._status]
        parts.append(
            f"{usage.all_input:,} in ({usage.cache_read_input_tokens:,} cached)"
            f" / {usage.output_tokens:,} out"
        )
        if self._spend.tokens and (self._spend.dollars or not self._spend.unpriced):
            parts.append(f"≈ {self._spend.short()}")
        text = html.escape(" · ".join(parts))
        return f'<div class="conjure-trace-footer" style="{MUTED}">{text}</div>'


class _Blocks:
    """Where ``StreamedMarkdown`` puts a run of text: an HTML widget per block, in a
    column, in place of the HTML view's display areas. Widgets always redraw, so a block
    that ends is redrawn finished in its own widget."""

    def __init__(self, column: Column) -> None:
        self._column = column

    def add(self, bundle: dict[str, Any]) -> _Block:
        return _Block(self._column, bundle)


class _Block:
    """One block's widget."""

    def __init__(self, column: Column, bundle: dict[str, Any]) -> None:
        self._html = make(widgets.HTML, value=bundle["text/html"])
        column.extend([self._html])

    def show(self, bundle: dict[str, Any]) -> None:
        self._html.value = bundle["text/html"]  # traitlets send nothing when it is unchanged
