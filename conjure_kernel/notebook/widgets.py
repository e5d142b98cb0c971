"""Widgets for looking at a session: ``HistoryView`` lists its turns, one row each.

ipywidgets, so the view lives in JupyterLab; a plain-text table goes with it for
frontends without widget support (nbconvert, a terminal).
"""

from __future__ import annotations

import html

import ipywidgets as widgets
from IPython.display import display

from ..conversation.session import Session
from ..conversation.transcript import TurnRecord

__all__ = ["HistoryView"]


class HistoryView:
    """A table of the session's turns: message, tools used, tokens, how each ended."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def rows(self) -> list[tuple[str, str, str, str, str]]:
        return [_row(number, turn) for number, turn in enumerate(self.session.transcript, 1)]

    def show(self) -> None:
        rows = self.rows()
        header = (
            f"{len(rows)} turn(s), {len(self.session.messages)} message(s) · model {self.session.model} · "
            f"{self.session.backend_name} backend · {self.session.usage.output_tokens:,} output tokens"
        )
        table = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in rows
        )
        view = widgets.VBox(
            [
                widgets.HTML(f"<b>{html.escape(header)}</b>"),
                widgets.HTML(
                    "<table><tr><th>#</th><th>message</th><th>tools</th><th>tokens in/out</th>"
                    f"<th>ended</th></tr>{table}</table>"
                ),
            ]
        )
        plain = "\n".join([header, *("  ".join(row) for row in rows)])
        view._repr_mimebundle_ = _with_plain(view, plain)  # type: ignore[method-assign]
        display(view)


def _row(number: int, turn: TurnRecord) -> tuple[str, str, str, str, str]:
    message = " ".join(turn.message.split())
    tools = ", ".join(call.name for call, _ in turn.tool_calls) or "-"
    usage = turn.usage
    tokens = f"{usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens}/{usage.output_tokens}"
    ended = turn.error["error"] if turn.error else (turn.stop_reason or "-")
    return (str(number), message[:60] + ("…" if len(message) > 60 else ""), tools, tokens, ended)


def _with_plain(view: widgets.Widget, plain: str):
    """Wrap the widget's bundle so non-widget frontends show the text table."""
    original = view._repr_mimebundle_

    def bundle(**kwargs):
        data = original(**kwargs)
        data["text/plain"] = plain
        return data

    return bundle
