"""Terminal colours as HTML: what a command printed, in colour in every HTML rendering.

The text is read once, by ``conversation.terminal`` (the runs the saved record carries);
this draws the runs as spans whose inline styles use JupyterLab's own ANSI palette (the
colours its ``ansi-*`` classes give, chosen there to read on light and dark themes), so
they show alike in the live trace, the saved ``text/html`` and wherever JupyterLab's
stylesheet is not loaded (nbviewer, an exported page).
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from ..conversation.terminal import Run, terminal_runs

__all__ = ["ansi_to_html", "runs_html"]

_PALETTE = {
    "black": ("#3e424d", "#282c36"),
    "red": ("#e75c58", "#b22b31"),
    "green": ("#00a250", "#007427"),
    "yellow": ("#ddb62b", "#b27d12"),
    "blue": ("#208ffb", "#0065ca"),
    "magenta": ("#d160c4", "#a03196"),
    "cyan": ("#60c6c8", "#258f8f"),
    "white": ("#c5c1b4", "#a1a6b2"),
}
"""Each colour's normal and intense shade, as JupyterLab's rendermime stylesheet has them."""


def ansi_to_html(text: str) -> str:
    """``text`` escaped for HTML, its styled stretches in spans."""
    return runs_html(terminal_runs(text))


def runs_html(runs: Iterable[Run]) -> str:
    return "".join(_span(run) for run in runs)


def _span(run: Run) -> str:
    escaped = html.escape(run.text, quote=False)
    if not run.style:
        return escaped
    style = ";".join(_declaration(name) for name in run.style.split())
    return f'<span style="{style}">{escaped}</span>'


def _declaration(name: str) -> str:
    """The CSS of one class: ``ansi-green-intense-fg`` → ``color:#007427``."""
    if name == "ansi-bold":
        return "font-weight:bold"
    if name == "ansi-underline":
        return "text-decoration:underline"
    _, colour, *shade, layer = name.split("-")
    value = _PALETTE[colour][1 if shade else 0]
    return f"{'color' if layer == 'fg' else 'background-color'}:{value}"
