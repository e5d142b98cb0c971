"""Turn events into cell output: a live view while the turn runs, a saved bundle after.

Both draw the same turn model, the record's one ``conversation.timeline.Timeline``: the
live view lays it out as the session's recorder folds each event in and tells it what
changed, the bundle reads it once the turn is over. The saved bundle
holds the turn's record under ``TURN_MIME_TYPE`` (versioned, read by replay and by the
JupyterLab renderer) plus ``text/html``, ``text/markdown`` and ``text/plain``
fallbacks, so the notebook reads well anywhere, before any extension is installed.

The renderings are beside this module: turn_html.py (the live rows and the saved
``text/html``) and turn_text.py (``text/markdown`` and ``text/plain``). Their labels
are worded by ``conversation.labels``, which the saved record carries too, so the
JupyterLab renderer in ``labextension/src`` lays them out without wording any;
tests/golden holds every rendering to the same labels.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from ..clients.pricing import Spend, spend_of
from ..conversation.file_links import FileLinks
from ..conversation.labels import footer_line
from ..conversation.timeline import Timeline
from ..conversation.transcript import TurnChange, TurnRecord
from ..conversation.turn import Entry, Redact, TextEntry, ThinkingEntry
from ..events import (
    ApprovalAsked,
    ModelStepFinished,
    TextDelta,
    ThinkingDelta,
    ToolOutput,
    TurnStarted,
)
from .turn_html import (
    entry_html,
    footer_html,
    live_answer_html,
    live_html,
    problems_html,
    thinking_html,
    timeline_html,
)
from .turn_text import (
    emphasis,
    entry_plain,
    problems_markdown,
    timeline_markdown,
    turn_plain,
)
from .views import (
    REFRESH_SECONDS,
    DisplayArea,
    EntryRow,
    LiveOutputs,
    StartDelay,
    StreamedMarkdown,
    Throttle,
    redraw_due,
)

__all__ = ["TURN_MIME_TYPE", "LiveTurnView", "turn_bundle"]

TURN_MIME_TYPE = "application/vnd.conjure.turn.v1+json"

_GOES_ON = ("tool_use", "pause_turn")
"""Stop reasons after which the turn makes another model call: the spend line is redrawn
then, not after the last call, whose saved bundle replaces it at once."""


class LiveTurnView:
    """Shows a running turn as it happens, then leaves the saved bundle in its place.

    A ``TurnView`` (see ``views.py``): it lays out the recorder's timeline and redraws
    the entries each change names. Each piece has its own display area, so a redraw
    sends what changed, never the turn so far: a status line; each finished block of
    text, its Markdown rendered once; the block being streamed, redrawn at most every
    ``views.REFRESH_SECONDS``; a step's thinking, muted, shown as it streams and folded
    once the step goes on; and a row per tool call, notice, created file and approval,
    redrawn when its state changes. A frontend without redraws (``jupyter console``)
    prints the status line, each block of text once it is finished, a line per step's
    thinking once it is over, a line per tool call as it starts and another, in the
    saved record's words, once it ended (exit code and duration, denied, interrupted),
    then the footer. A failed turn's error is left to the error the cell raises.

    A turn that ends within ``start_after`` seconds is never drawn live: only its saved
    bundle is shown, as one output (a console prints its text, the footer last). The view starts
    drawing once the turn has run that long (``idle`` is called while the turn waits,
    so a quiet turn starts too), or at once when the person is asked something.
    """

    start_after = REFRESH_SECONDS

    def __init__(self, redact: Redact) -> None:
        self._redact = redact
        self._timeline: Timeline | None = None
        """The recorder's, once the turn started: laid out here, never folded into."""
        self._outputs = LiveOutputs()
        self._files = FileLinks("", os.getcwd())
        self._header = ""
        self._model = ""
        self._spend = Spend()
        self._status: DisplayArea | None = None
        self._rows: dict[int, EntryRow] = {}
        """The rows by the ``id`` of their entry, which the timeline keeps while the turn runs."""
        self._text: StreamedMarkdown | None = None
        self._thinking: _LiveThinking | None = None
        self._seen = 0
        """How many of the timeline's entries have their display areas."""
        self._printing = Throttle()
        self._held: dict[int, Entry] = {}
        """Calls whose printed output the throttle kept from their rows so far, by ``id``."""
        self._delay = StartDelay(self.start_after)

    def update(self, change: TurnChange) -> None:
        event = change.event
        if isinstance(event, TurnStarted):
            self._timeline = change.record.timeline
            self._header = f"{event.model} · {event.backend} backend"
            self._model = event.model
            self._delay.restart()
            self._go_live()
        elif isinstance(event, ModelStepFinished):
            response = event.response
            self._spend = self._spend + spend_of(response.model or self._model, response.usage)
            if self._live and response.stop_reason in _GOES_ON:
                self._show_status()
        elif not change.entries:
            return
        elif not self._live:
            self._go_live(now=isinstance(event, ApprovalAsked))
        elif isinstance(event, ToolOutput):
            self._print(change.entries)
        else:
            self._follow(change.entries, streamed=isinstance(event, TextDelta | ThinkingDelta))

    def idle(self) -> None:
        """The turn is waiting (for the model, a command): start drawing if it is time,
        else show what a command printed that the throttle held back."""
        if not self._live:
            self._go_live()
        elif self._held:
            self._print(())

    def finish(self, record: TurnRecord | None) -> None:
        """Replace the live view with the turn's saved bundle. A terminal gets the lines
        of it that it lacks, the footer last, and not the error, which the cell raises."""
        self._end_runs()
        if record is None:
            return
        clean = record.redacted(self._redact)
        if self._live:
            lines = [*self._lines_not_printed(clean), footer_line(clean)]
        else:
            lines = turn_plain(clean, error=False)
        self._outputs.replace(_bundle(clean, os.getcwd()), "\n".join(lines))

    def _lines_not_printed(self, clean: TurnRecord) -> list[str]:
        """The saved lines of the turn's rows that a terminal lacks, in order: a call
        that an interrupt ended changed in the record, with no event to redraw its row."""
        printed = Counter(row.printed for row in self._rows.values())
        left = []
        for entry in clean.timeline.entries:
            if isinstance(entry, TextEntry | ThinkingEntry):
                continue
            line = entry_plain(entry)
            if printed[line]:
                printed[line] -= 1
            else:
                left.append(line)
        return left

    @property
    def _live(self) -> bool:
        """Whether the turn is drawn as it runs: its status line shows from then on."""
        return self._status is not None

    def _go_live(self, *, now: bool = False) -> None:
        if self._delay.due(now=now):
            self._show_status()
            self._follow((), streamed=False)

    def _print(self, calls: tuple[Entry, ...]) -> None:
        """Redraw the rows of ``calls``, which printed, and of those held back before: at
        most every ``views.REFRESH_SECONDS``."""
        self._held.update((id(call), call) for call in calls)
        if self._printing.due():
            held = tuple(self._held.values())
            self._held.clear()
            self._follow(held, streamed=False)

    def _follow(self, changed: tuple[Entry, ...], *, streamed: bool) -> None:
        """Give new entries their areas; redraw the text, and the rows of the ``changed``
        entries drawn before (a streamed delta changes no row)."""
        entries = self._timeline.entries if self._timeline is not None else []
        made: set[int] = set()
        for entry in entries[self._seen :]:
            self._end_runs()
            if isinstance(entry, TextEntry):
                self._text = StreamedMarkdown(self._outputs, self._block_bundle)
                self._text.follow(entry.text)  # all of it, when the view starts late
            elif isinstance(entry, ThinkingEntry):
                self._thinking = _LiveThinking(self._outputs, entry, self._thinking_bundle)
            else:
                self._rows[id(entry)] = EntryRow(entry, self._outputs, self._row_bundle(entry))
                made.add(id(entry))
        self._seen = len(entries)
        last = entries[-1] if entries else None
        if self._text is not None and isinstance(last, TextEntry):
            self._text.follow(last.text)
        if self._thinking is not None and isinstance(last, ThinkingEntry):
            self._thinking.follow()
        if streamed:
            return
        for entry in changed:
            row = self._rows.get(id(entry))
            if row is not None and id(entry) not in made:
                row.show(self._row_bundle(entry))
                self._held.pop(id(entry), None)

    def _end_runs(self) -> None:
        """The text or thinking being streamed is over: another entry starts, or the turn ends."""
        if self._text is not None:
            self._text.end()
            self._text = None
        if self._thinking is not None:
            self._thinking.end()
            self._thinking = None

    def _block_bundle(self, block: str, *, finished: bool) -> dict[str, Any]:
        """A block of the answer; only a finished one has ``text/plain``, so a terminal
        prints each block once, whole."""
        clean = self._redact(block)
        bundle = {"text/html": live_answer_html(clean)}
        if finished:
            bundle["text/plain"] = clean + "\n"  # a blank line after it, as in Markdown
        return bundle

    def _thinking_bundle(self, entry: ThinkingEntry, *, streaming: bool) -> dict[str, Any]:
        """A step's thinking; only folded has it ``text/plain``, one line for a terminal."""
        clean = entry.redacted(self._redact)
        bundle = {"text/html": live_html(thinking_html(clean, streaming=streaming))}
        if not streaming:
            bundle["text/plain"] = entry_plain(clean)
        return bundle

    def _row_bundle(self, entry: Entry) -> dict[str, Any]:
        clean = entry.redacted(self._redact)
        html_row = entry_html(clean, self._files, running=True)
        return {"text/html": live_html(html_row), "text/plain": entry_plain(clean)}

    def _show_status(self) -> None:
        spent = f" · {self._spend.short()} so far" if self._spend.tokens else ""
        line = self._redact(self._header) + f" · running…{spent}"
        bundle = {"text/html": live_html(footer_html(line)), "text/plain": line}
        if self._status is None:
            self._status = self._outputs.add(bundle)
        else:
            self._status.show(bundle)


class _LiveThinking:
    """A step's thinking in the live view: one area, drawn open and redrawn as the
    thinking streams (paced by ``views.redraw_due``); once the step goes on, blanked and
    followed by the folded row, which a terminal prints as one line."""

    def __init__(
        self, outputs: LiveOutputs, entry: ThinkingEntry, draw: Callable[..., dict[str, Any]]
    ) -> None:
        self._outputs = outputs
        self._entry = entry
        """The timeline's own entry, which grows as the thinking streams."""
        self._draw = draw
        self._open: DisplayArea | None = None
        self._drawn = (0.0, 0)
        """When the open area was last drawn, and how many characters it showed."""

    def follow(self) -> None:
        """Show the thinking so far: at once the first time, then when it is due."""
        size = len(self._entry.text)
        if self._open is None:
            self._open = self._outputs.add(self._draw(self._entry, streaming=True))
        elif redraw_due(*self._drawn, size):
            self._open.show(self._draw(self._entry, streaming=True))
        else:
            return
        self._drawn = (time.monotonic(), size)

    def end(self) -> None:
        if self._open is not None:
            self._open.blank()
        self._outputs.add(self._draw(self._entry, streaming=False))


def turn_bundle(record: TurnRecord, redact: Redact, *, folder: str | None = None) -> dict[str, Any]:
    """The MIME bundle saved for a finished (or failed) turn, with secrets removed.

    The record is redacted once, as values, before anything is serialised or escaped,
    so every part of the bundle is drawn from the same clean copy. Files the turn
    created under ``folder`` (the notebook's folder; by default the kernel's working
    directory, which JupyterLab sets to it) are linked relative to it, images inline.
    """
    return _bundle(record.redacted(redact), os.getcwd() if folder is None else folder)


def _bundle(clean: TurnRecord, folder: str) -> dict[str, Any]:
    """``turn_bundle`` of a record already redacted."""
    files = FileLinks(clean.paths.get("workdir", ""), folder)
    footer = footer_line(clean)
    html_body = (
        timeline_html(clean.timeline, files, running=False)
        + problems_html(clean)
        + footer_html(footer)
    )
    markdown = "\n\n".join(
        [*timeline_markdown(clean.timeline, files), *problems_markdown(clean), emphasis(footer)]
    )
    return {
        TURN_MIME_TYPE: clean.to_json(folder=folder),
        "text/html": f'<div class="conjure-turn">{html_body}</div>',
        "text/markdown": markdown + "\n",
        "text/plain": "\n".join(turn_plain(clean)),
    }
