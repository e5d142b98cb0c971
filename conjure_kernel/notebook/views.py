"""The seam between a running turn and what shows it, and the cell outputs a live view draws in.

``ConjureMagics.view_class`` names the class; the chat magic constructs it with the
session's redactor (``view_class(redact)``), has it told of every change of the turn,
then hands it the finished record. A view only lays out: the session's recorder folds
each event into the turn's one timeline, on the kernel's thread, and then tells the view
(a ``TurnChange``: the event, the record, the entries it changed), so a view reads a
timeline no other thread writes and redraws the entries named, nothing else.
``display.LiveTurnView`` (HTML through display areas, for any frontend) is the default;
a widget view can take its place without the magics changing.

Jupyter's messages can add an output to a cell or replace one whole, never grow one; so
a live view whose answer sat in one output would resend the whole answer at every
redraw. ``LiveOutputs`` gives each piece its own output instead (a finished block of
text, the open tail, a tool call's row), so a redraw sends only the piece that changed,
and ``MarkdownBlocks`` cuts streamed Markdown into pieces that render alone.

A terminal (``jupyter console``) prints an output's ``text/plain`` once, when it is
added, and ignores redraws. No message tells a terminal from a notebook (one without the
widget manager allows stdin and opens no widget comm, as a console does), so every
frontend gets the same messages, and a line a terminal must print later gets an output
whose HTML is empty (``LiveOutputs.add_line``): JupyterLab draws it zero pixels high,
and the turn's end clears it with the other live outputs, so no saved notebook holds it.
A failed turn's error is not among the lines a terminal gets of the saved bundle: the
cell raises it, and a terminal prints that (``failures.py``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from time import monotonic
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from IPython import get_ipython
from IPython.display import clear_output, display

from ..conversation.turn import Entry

if TYPE_CHECKING:
    from ..conversation.transcript import TurnChange, TurnRecord

__all__ = [
    "REFRESH_SECONDS",
    "DisplayArea",
    "EntryRow",
    "LiveOutputs",
    "MarkdownBlocks",
    "StartDelay",
    "StreamedMarkdown",
    "Throttle",
    "TurnView",
    "finish_despite_interrupts",
    "redraw_due",
]

Bundle = dict[str, Any]

REFRESH_SECONDS = 0.15
"""Minimum time between two redraws of the block of text being streamed; its first text,
finished blocks and every other change show at once."""

_LONG_BLOCK = 2_000
"""Characters past which the block being streamed is redrawn only once it grew by a
tenth: its redraws then add up to about ten times its length, whatever the pace, so a
block that never ends (one long paragraph or code block) costs in proportion to its
length, not to its square."""

_BLANK: Bundle = {"text/html": ""}
"""What a display area that no longer shows anything holds: no text for a terminal either."""


@runtime_checkable
class TurnView(Protocol):
    """Shows one turn while it runs, then leaves its saved form in the cell.

    Constructed with the redactor (``Callable[[str], str]``): whatever a view shows or
    saves must pass through it first.
    """

    def update(self, change: TurnChange) -> None:
        """The recorder folded the turn's next event: lay out what it changed (the
        entries it names, in ``change.record.timeline``), and nothing else."""
        ...

    def finish(self, record: TurnRecord | None) -> None:
        """The turn is over: show (and so save) ``record``, or keep what is shown when
        there is none (the turn never started)."""
        ...

    # A view may also define ``idle()``: the chat magic then calls it on the kernel's
    # thread whenever the turn waited a moment with no new event.


class DisplayArea:
    """One output of the running cell, redrawn on its own; a redraw that changes nothing
    is not sent.

    A terminal frontend (``jupyter console``) prints an output's ``text/plain`` once, when
    it is added, and ignores redraws: what it should print goes in the first bundle.
    """

    def __init__(self, bundle: Bundle) -> None:
        self._id = uuid.uuid4().hex
        self._shown = bundle
        display(bundle, raw=True, display_id=self._id)

    def show(self, bundle: Bundle) -> None:
        if bundle != self._shown:
            self._shown = bundle
            display(bundle, raw=True, display_id=self._id, update=True)

    def blank(self) -> None:
        """Show nothing: the output stays in the cell (only clearing the cell removes it)."""
        self.show(_BLANK)


class LiveOutputs:
    """The outputs one live turn added to the running cell, and their replacement by the
    turn's saved bundle when it ends."""

    def __init__(self) -> None:
        self._added = False

    def add(self, bundle: Bundle) -> DisplayArea:
        """A new output after every other output of the cell."""
        self._added = True
        return DisplayArea(bundle)

    def add_line(self, line: str) -> None:
        """A line only a terminal shows: its output's HTML is empty."""
        self.add({**_BLANK, "text/plain": line})

    def replace(self, saved: Bundle, lines: str) -> None:
        """Leave ``saved`` as the turn's one output in place of the live ones, if any;
        a terminal prints ``lines`` of it.

        Clearing is the only way to remove outputs, and it clears the whole cell, so the
        saved bundles of the cell's earlier turns (two ``%conjure`` lines in one cell)
        are shown again first; other output the cell showed before the turn is lost.
        The saved bundle is sent as a redraw of a placeholder holding just ``lines`` (after
        a live turn, the footer after any line the terminal still lacks), so a terminal
        prints them, not the answer a second time. When nothing live was shown and
        ``lines`` are the saved text, ``saved`` is simply shown: one message.
        """
        if self._added:
            clear_output(wait=True)
            for earlier in _cell_turns.earlier():
                _show_saved(earlier, _BLANK)
        if self._added or lines != saved.get("text/plain"):
            _show_saved(saved, {"text/plain": lines})
        else:
            DisplayArea(saved)
        _cell_turns.remember(saved)


def _show_saved(saved: Bundle, placeholder: Bundle) -> None:
    DisplayArea(placeholder).show(saved)


class _CellTurns:
    """The saved bundles of the turns run so far by the cell now running."""

    def __init__(self) -> None:
        self._cell: str | None = None
        self._bundles: list[Bundle] = []

    def earlier(self) -> list[Bundle]:
        return list(self._bundles) if _running_cell() == self._cell else []

    def remember(self, saved: Bundle) -> None:
        cell = _running_cell()
        if cell is None:
            return
        if cell != self._cell:
            self._cell, self._bundles = cell, []
        self._bundles.append(saved)


_cell_turns = _CellTurns()


def _running_cell() -> str | None:
    """The id of the request the kernel is answering; None outside a kernel."""
    publisher = getattr(get_ipython(), "display_pub", None)
    header = getattr(publisher, "parent_header", None)
    return header.get("msg_id") if isinstance(header, dict) else None


_FENCE = re.compile(r"\s*(`{3,}|~{3,})")


class MarkdownBlocks:
    """Cuts streamed Markdown into blocks that render alone: paragraphs, lists, tables, code.

    A block ends at a blank line outside a fenced code block. Only the lines after the
    last cut are kept and each line is scanned once, so following an answer costs its
    length however finely it is streamed.
    """

    def __init__(self) -> None:
        self.open = ""
        """The text after the last cut: the block still being written."""
        self._scanned = 0
        self._fence = ""

    def feed(self, text: str) -> list[str]:
        """Add streamed ``text``; the blocks it finished, in order."""
        self.open += text
        finished, start = [], 0
        while (end := self.open.find("\n", self._scanned)) != -1:
            line_start, self._scanned = self._scanned, end + 1
            if self._ends_block(self.open[line_start:end]):
                block = self.open[start:line_start].strip("\n")
                if block.strip():
                    finished.append(block)
                start = self._scanned
        self.open, self._scanned = self.open[start:], self._scanned - start
        return finished

    def close(self) -> str:
        """The text ended: its last block (empty when there is none)."""
        block, self.open, self._scanned, self._fence = self.open.strip("\n"), "", 0, ""
        return block if block.strip() else ""

    def _ends_block(self, line: str) -> bool:
        stripped = line.strip()
        if self._fence:
            if stripped.startswith(self._fence) and not stripped.strip(self._fence[0]):
                self._fence = ""
            return False
        if opening := _FENCE.match(line):
            self._fence = opening.group(1)
            return False
        return not stripped


class StreamedMarkdown:
    """A run of streamed Markdown: each finished block shown once in an area of its own,
    and the block still being written redrawn in an area after them.

    ``draw(block, finished=...)`` makes a block's bundle. When a block is finished, the
    open area is blanked and the block gets a new area, since a frontend without redraws
    prints only what an area holds when it is added; where every frontend redraws
    (``redraws``: widgets), the finished block is drawn in the open area instead, which
    is one message rather than an area blanked, a new one, and their comms.
    """

    def __init__(
        self, outputs: LiveOutputs, draw: Callable[..., Bundle], *, redraws: bool = False
    ) -> None:
        self._outputs = outputs
        self._draw = draw
        self._redraws = redraws
        self._blocks = MarkdownBlocks()
        self._read = 0
        self._open: DisplayArea | None = None
        self._drawn = 0.0
        self._drawn_size = 0

    def follow(self, text: str) -> None:
        """Show what ``text`` (the run so far) gained since the last call."""
        for block in self._blocks.feed(text[self._read :]):
            self._show_finished(block)
        self._read = len(text)
        if self._blocks.open.strip() and self._due():
            self._show_open()

    def end(self) -> None:
        """The run is over: its last block is finished."""
        if block := self._blocks.close():
            self._show_finished(block)

    def _show_finished(self, block: str) -> None:
        bundle = self._draw(block, finished=True)
        if self._open is not None and self._redraws:
            self._open.show(bundle)
        else:
            if self._open is not None:
                self._open.blank()
            self._outputs.add(bundle)
        self._open = None

    def _show_open(self) -> None:
        bundle = self._draw(self._blocks.open, finished=False)
        if self._open is None:
            self._open = self._outputs.add(bundle)
        else:
            self._open.show(bundle)
        self._drawn, self._drawn_size = time.monotonic(), len(self._blocks.open)

    def _due(self) -> bool:
        """A block's first text shows at once, then as ``redraw_due`` says."""
        if self._open is None:
            return True
        return redraw_due(self._drawn, self._drawn_size, len(self._blocks.open))


def redraw_due(drawn_at: float, drawn_size: int, size: int) -> bool:
    """Whether streamed text, now ``size`` characters, that was drawn at ``drawn_at``
    (``time.monotonic``) with ``drawn_size``, is redrawn now: at most every
    ``REFRESH_SECONDS``, and past ``_LONG_BLOCK`` characters once it grew by a tenth."""
    if size > _LONG_BLOCK and size < drawn_size * 1.1:
        return False
    return time.monotonic() - drawn_at >= REFRESH_SECONDS


class StartDelay:
    """When a view starts drawing a turn: once the turn has run ``seconds``, or at once
    when told (the person is asked something). A turn that ends sooner is never drawn
    live, only saved."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._began = monotonic()

    def restart(self) -> None:
        """The turn begins now."""
        self._began = monotonic()

    def due(self, *, now: bool = False) -> bool:
        return now or monotonic() - self._began >= self.seconds


class Throttle:
    """Says yes at most every ``REFRESH_SECONDS``, the first time at once: for redraws
    that may come by the hundred (a command's output)."""

    def __init__(self) -> None:
        self._last = -REFRESH_SECONDS

    def due(self) -> bool:
        now = time.monotonic()
        if now - self._last < REFRESH_SECONDS:
            return False
        self._last = now
        return True


class EntryRow:
    """The display area of a tool call, notice, created file or approval.

    Its ``text/plain`` is the entry's one line; when a redraw changes the line (a call
    ended, an approval was answered), a terminal, which printed the first one, gets the
    new line too, through ``LiveOutputs.add_line``.
    """

    def __init__(self, entry: Entry, outputs: LiveOutputs, bundle: Bundle) -> None:
        self.entry = entry
        self.area = outputs.add(bundle)
        self._outputs = outputs
        self.printed: str = bundle.get("text/plain", "")
        """The line a terminal printed last for this row."""

    def show(self, bundle: Bundle) -> None:
        self.area.show(bundle)
        line = bundle.get("text/plain", "")
        if line and line != self.printed:
            self._outputs.add_line(line)
            self.printed = line


def finish_despite_interrupts(view: TurnView, record: TurnRecord | None) -> None:
    """Leave the turn's saved form in the cell even if ■ is pressed again meanwhile: the
    turn is over by now, and a cell cut short here would show "running…" for good."""
    while True:
        try:
            view.finish(record)
            return
        except KeyboardInterrupt:
            continue
