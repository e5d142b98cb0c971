"""The session history where the frontend redraws outputs (JupyterLab, Notebook 7, VS Code):
a row per turn that opens onto the turn's messages, and later turns added as they end.

HTML in an output redrawn through its display id, not ipywidgets: a notebook saves a
widget's output as its model's id alone, which no widget manager knows once the kernel
restarted or the notebook was reopened ("Error displaying widget: model not found"), and
which the kernel cannot take back if it died first. HTML reads the same live, saved,
after a restart and without the kernel, and ``<details>`` opens a row without one.

Rows of finished turns never change, so ``refresh`` only draws the rows of new turns and
keeps the totals as running sums: a refresh after each turn draws the same at turn 200 as
at turn 2 (it sends the table again, as any redraw of an output does). The ``text/plain``
is ``%history``'s text table (``notebook.history.HistoryTable``); each row is redacted
when it is drawn.
"""

from __future__ import annotations

import html
import uuid
from collections.abc import Sequence
from typing import Any

from IPython.display import display

from ...clients.pricing import Spend
from ...conversation.budget import turn_spend
from ...conversation.labels import duration as _duration
from ...conversation.labels import tool_title as _tool_title
from ...conversation.transcript import TurnRecord
from ...conversation.turn import Redact, TextEntry, ToolEntry
from ...tools.output import one_line
from ..history import HistoryTable, _tokens
from ..turn_html import answer_html as _answer_html

__all__ = ["HistoryView"]

COLUMNS = (
    "#",
    "message",
    "backend",
    "model",
    "tools",
    "tokens in (cached) / out",
    "cost",
    "tool time",
)
_MESSAGE_WIDTH = 60

_STYLE = """<style>
.conjure-history-row > summary, .conjure-history-head {
  display: grid; grid-template-columns: 2.5em minmax(10em, 1fr) 6em 12em 3.5em 13em 6em 5.5em;
  gap: 0 8px; padding: 2px 4px; border-bottom: 1px solid var(--jp-border-color2, #e0e0e0);
}
.conjure-history-row > summary { cursor: pointer; list-style: none; }
.conjure-history-row > summary::-webkit-details-marker { display: none; }
.conjure-history-row[open] > summary { background: var(--jp-layout-color2, #eeeeee); }
.conjure-history-head { font-weight: bold; }
.conjure-history-turn { padding: 4px 8px 8px 3em; border-bottom: 1px solid var(--jp-border-color2, #e0e0e0); }
.conjure-history-turn pre { white-space: pre-wrap; margin: 2px 0; }
.conjure-history-total { padding: 4px; color: var(--jp-ui-font-color2, #616161); }
.conjure-history-sep { display: none; }
</style>"""
"""Scoped to the history's classes; colours from JupyterLab's theme variables. Where the
style is dropped (an untrusted notebook, GitHub), the separators between cells show."""


class HistoryView:
    """Every turn of a session with its cost; ``refresh`` follows later turns."""

    def __init__(
        self,
        transcript: Sequence[TurnRecord],
        redact: Redact,
        *,
        messages: int = 0,
        spent: Spend | None = None,
    ) -> None:
        self._redact = redact
        self._turns: list[TurnRecord] = []
        self._rows: list[str] = []
        """Each turn's row, drawn once."""
        self._table = HistoryTable(redact)
        self._tools = 0
        self._seconds = 0.0
        """The turns' tool calls and time, summed as they are added."""
        self._messages = messages
        self._spent = spent
        self._display_id: str | None = None
        self.refresh(transcript, messages=messages, spent=spent)

    def refresh(
        self,
        transcript: Sequence[TurnRecord],
        *,
        messages: int | None = None,
        spent: Spend | None = None,
    ) -> None:
        """Add rows for turns not shown yet and redraw the totals; a transcript that no
        longer starts with the turns shown (reset, restore) is shown anew."""
        known = len(self._turns)
        if len(transcript) < known or any(
            old is not new for old, new in zip(self._turns, transcript, strict=False)
        ):
            self._start_afresh()
            known = 0
        self._add(list(transcript[known:]))
        self._messages = self._messages if messages is None else messages
        self._spent = self._spent if spent is None else spent
        if self._display_id is not None:
            display(self, display_id=self._display_id, update=True)

    def show(self) -> None:
        """Display it with a display id, so that each ``refresh`` redraws it."""
        self._display_id = uuid.uuid4().hex
        display(self, display_id=self._display_id)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        head = _cells(COLUMNS)
        rows = "".join(self._rows)
        return {
            "text/html": f'<div class="conjure-history">{_STYLE}'
            f'<div class="conjure-history-head">{head}</div>{rows}{self._totals_html()}</div>',
            "text/plain": self._table.bundle(messages=self._messages, spent=self._spent)[
                "text/plain"
            ],
        }

    def _add(self, turns: list[TurnRecord]) -> None:
        """Count ``turns`` in: their rows, the text table, the totals."""
        known = len(self._turns)
        self._rows += [self._row(number, turn) for number, turn in enumerate(turns, known + 1)]
        self._turns.extend(turns)
        self._table.extend(turns)
        self._tools += sum(len(turn.timeline.tools) for turn in turns)
        self._seconds += sum(_turn_time(turn) for turn in turns)

    def _start_afresh(self) -> None:
        """Forget the turns shown: the transcript was reset or restored."""
        self._turns, self._rows, self._table = [], [], HistoryTable(self._redact)
        self._tools, self._seconds = 0, 0.0

    def _row(self, number: int, turn: TurnRecord) -> str:
        clean = turn.redacted(self._redact)
        cells = (
            str(number),
            one_line(clean.message, _MESSAGE_WIDTH),
            clean.backend,
            clean.model,
            str(len(clean.timeline.tools)),
            _tokens(clean.usage),
            "replayed" if turn.replayed else turn_spend(turn).short(),
            _duration(_turn_time(clean)),
        )
        return (
            f'<details class="conjure-history-row"><summary>{_cells(cells)}</summary>'
            f'<div class="conjure-history-turn">{_turn_html(clean)}</div></details>'
        )

    def _totals_html(self) -> str:
        spent = self._spent or self._table.spent
        line = (
            f"{len(self._turns)} turn(s), {self._messages} message(s) · {self._tools} tool"
            f" call(s) · {_tokens(self._table.usage)} tokens · {spent.short()} spent in this"
            f" notebook · {_duration(self._seconds)} in all"
        )
        return f'<div class="conjure-history-total">{html.escape(line)}</div>'


def _cells(texts: Sequence[str]) -> str:
    """A row's cells, escaped, with separators that show only where the style is dropped."""
    separator = '<span class="conjure-history-sep"> · </span>'
    return separator.join(f"<span>{html.escape(text)}</span>" for text in texts)


def _turn_time(turn: TurnRecord) -> float:
    """Seconds the turn took; for a turn saved before turns were timed, its tools' time."""
    if turn.duration is not None:
        return turn.duration
    return sum(result.duration for _, result in turn.tool_calls)


def _turn_html(clean: TurnRecord) -> str:
    """What was asked, then the answer's text and a line per tool call, in order."""
    parts = [f"<div><b>you</b><pre>{html.escape(clean.message)}</pre></div>"]
    for entry in clean.timeline.entries:
        if isinstance(entry, TextEntry):
            parts.append(_answer_html(entry.text))
        elif isinstance(entry, ToolEntry):
            parts.append(f"<div><code>{html.escape(_tool_title(entry))}</code></div>")
    if clean.error:
        error, message = clean.error["error"], clean.error["message"]
        parts.append(f"<div><b>{html.escape(error)}</b>: {html.escape(message)}</div>")
    return "".join(parts)
