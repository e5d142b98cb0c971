"""What ``%history`` shows: the session's turns as a table that reads the same everywhere.

Plain HTML with a text twin rather than a widget, so the saved notebook shows it in
nbconvert, on GitHub and in a terminal alike. Every cell is redacted, since the table
is saved with the notebook.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

from ..clients.base import Usage
from ..clients.pricing import Spend
from ..conversation.budget import turn_spend
from ..conversation.transcript import TurnRecord
from ..tools.output import one_line

__all__ = ["history_bundle"]

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
    rows = [_row(number, turn, redact) for number, turn in enumerate(turns, 1)]
    total = sum((turn.usage for turn in turns), Usage())
    if spent is None:
        spent = sum((turn_spend(turn) for turn in turns), Spend())
    header = (
        f"{len(turns)} turn(s), {messages} message(s) · {_tokens(total)} tokens in total"
        f" · {spent.short()} spent in this notebook"
        if turns
        else "no turns yet in this session"
    )
    table = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    heading = "".join(f"<th>{html.escape(name)}</th>" for name in COLUMNS)
    return {
        "text/html": f'<div class="conjure-history"><b>{html.escape(header)}</b>'
        f"<table><tr>{heading}</tr>{table}</table></div>",
        "text/plain": "\n".join([header, *("  ".join(row) for row in rows)]),
    }


def _row(number: int, turn: TurnRecord, redact: Callable[[str], str]) -> tuple[str, ...]:
    message = one_line(redact(" ".join(turn.message.split())), _MESSAGE_WIDTH)
    tools = ", ".join(call.name for call, _ in turn.tool_calls) or "-"
    ended = turn.error["error"] if turn.error else (turn.stop_reason or "-")
    spend = turn_spend(turn).short() if not turn.replayed else "replayed"
    return (
        str(number),
        message,
        turn.backend,
        turn.model,
        tools,
        _tokens(turn.usage),
        spend,
        ended,
    )


def _tokens(usage: Usage) -> str:
    """Input as the API bills it (uncached + cache writes + cache reads), cache reads apart."""
    return f"{usage.all_input:,} ({usage.cache_read_input_tokens:,}) / {usage.output_tokens:,}"
