"""What ``%history`` shows: the session's turns as a table that reads the same everywhere.

Plain HTML with a text twin rather than a widget, so the saved notebook shows it in
nbconvert, on GitHub and in a terminal alike. Every cell is redacted, since the table
is saved with the notebook.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence

from ..clients.base import Usage
from ..clients.pricing import Spend
from ..conversation.budget import turn_spend
from ..conversation.transcript import TurnRecord
from ..tools.output import one_line

__all__ = ["HistoryTable", "history_bundle"]

COLUMNS = (
    "#",
    "message",
    "backend",
    "model",
    "tools",
    "tokens in (cached) / out",
    "spend",
    "ended",
)
_MESSAGE_WIDTH = 60


def history_bundle(
    turns: Sequence[TurnRecord],
    redact: Callable[[str], str],
    *,
    messages: int,
    spent: Spend | None = None,
) -> dict[str, str]:
    """``text/html`` and ``text/plain`` for the turns; ``messages`` is the history's length,
    ``spent`` what the notebook has spent (what its budget counts; the turns' sum if None)."""
    table = HistoryTable(redact)
    table.extend(turns)
    return table.bundle(messages=messages, spent=spent)


class HistoryTable:
    """The table of a growing list of turns: each row is drawn once, when its turn is
    added, so a table that follows a session costs per turn what one row costs."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        self._redact = redact
        self._html_rows: list[str] = []
        self._text_rows: list[str] = []
        self.usage = Usage()
        self.spent = Spend()
        """The turns' usage and spend, summed as they are added."""

    def extend(self, turns: Iterable[TurnRecord]) -> None:
        for turn in turns:
            spend = turn_spend(turn)
            row = _row(len(self._text_rows) + 1, turn, spend, self._redact)
            self._text_rows.append("  ".join(row))
            self._html_rows.append(
                "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            )
            self.usage = self.usage + turn.usage
            self.spent = self.spent + spend

    def bundle(self, *, messages: int, spent: Spend | None = None) -> dict[str, str]:
        """The table of the turns added so far (see ``history_bundle``)."""
        spent = self.spent if spent is None else spent
        header = (
            f"{len(self._text_rows)} turn(s), {messages} message(s) · {_tokens(self.usage)}"
            f" tokens in total · {spent.short()} spent in this notebook"
            if self._text_rows
            else "no turns yet in this session"
        )
        heading = "".join(f"<th>{html.escape(name)}</th>" for name in COLUMNS)
        return {
            "text/html": f'<div class="conjure-history"><b>{html.escape(header)}</b>'
            f"<table><tr>{heading}</tr>{''.join(self._html_rows)}</table></div>",
            "text/plain": "\n".join([header, *self._text_rows]),
        }


def _row(
    number: int, turn: TurnRecord, spend: Spend, redact: Callable[[str], str]
) -> tuple[str, ...]:
    message = one_line(redact(" ".join(turn.message.split())), _MESSAGE_WIDTH)
    tools = ", ".join(call.name for call, _ in turn.tool_calls) or "-"
    ended = turn.error["error"] if turn.error else (turn.stop_reason or "-")
    return (
        str(number),
        message,
        _backend(turn),
        turn.model,
        tools,
        _tokens(turn.usage),
        "replayed" if turn.replayed else spend.short(),
        ended,
    )


def _backend(turn: TurnRecord) -> str:
    """The turn's backend; a hybrid turn's with the backends its calls ran on, in order."""
    used = list(dict.fromkeys(tool.backend for tool in turn.timeline.tools if tool.backend))
    return f"{turn.backend} ({', '.join(used)})" if used else turn.backend


def _tokens(usage: Usage) -> str:
    """Input as the API bills it (uncached + cache writes + cache reads), cache reads apart."""
    return f"{usage.all_input:,} ({usage.cache_read_input_tokens:,}) / {usage.output_tokens:,}"
