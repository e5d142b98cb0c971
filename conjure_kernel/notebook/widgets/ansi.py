"""Terminal colours as HTML: what a command printed, shown in colour in the tool trace.

Only the colour and bold codes of SGR (``ESC[…m``) are drawn; every other escape
sequence (cursor moves, line erasing, 256-colour and RGB colours) is dropped, so it
never shows as stray characters.
"""

from __future__ import annotations

import html
import re

__all__ = ["ansi_to_html"]

_CSI = re.compile(r"\x1b\[([0-?]*)[ -/]*([@-~])")
"""A control sequence: its parameters and its final letter (``m`` for colours)."""

_COLOURS = (
    ("#3e424d", "#282c36"),
    ("#e75c58", "#b22b31"),
    ("#00a250", "#007427"),
    ("#ddb62b", "#b27d12"),
    ("#208ffb", "#0065ca"),
    ("#d160c4", "#a03196"),
    ("#60c6c8", "#258f8f"),
    ("#c5c1b4", "#a1a6b2"),
)
"""Black, red, green, yellow, blue, magenta, cyan, white (normal, bright): JupyterLab's own
ANSI palette, chosen there to read on light and dark themes."""

_EXTENDED = {38, 48}
"""``38;5;N`` and ``38;2;R;G;B`` (and the background ones): their numbers are not codes."""


def ansi_to_html(text: str) -> str:
    """``text`` escaped for HTML, its coloured and bold stretches in styled spans."""
    parts: list[str] = []
    colour, bold = "", False
    position = 0
    for match in _CSI.finditer(text):
        parts.append(_span(text[position : match.start()], colour, bold))
        position = match.end()
        if match.group(2) == "m":
            colour, bold = _apply(match.group(1), colour, bold)
    parts.append(_span(text[position:], colour, bold))
    return "".join(parts)


def _apply(parameters: str, colour: str, bold: bool) -> tuple[str, bool]:
    """The colour and weight after one SGR sequence (``ESC[m`` resets, as ``ESC[0m``)."""
    codes = [int(code) if code.isdigit() else 0 for code in parameters.split(";")]
    index = 0
    while index < len(codes):
        code = codes[index]
        if code in _EXTENDED:
            kind = codes[index + 1] if index + 1 < len(codes) else 0
            index += {5: 3, 2: 5}.get(kind, 2)
            continue
        if code == 0:
            colour, bold = "", False
        elif code == 1:
            bold = True
        elif code == 22:
            bold = False
        elif code == 39:
            colour = ""
        elif 30 <= code <= 37:
            colour = _COLOURS[code - 30][0]
        elif 90 <= code <= 97:
            colour = _COLOURS[code - 90][1]
        index += 1
    return colour, bold


def _span(text: str, colour: str, bold: bool) -> str:
    escaped = html.escape(text, quote=False)
    if not text or not (colour or bold):
        return escaped
    style = (f"color:{colour};" if colour else "") + ("font-weight:bold" if bold else "")
    return f'<span style="{style.rstrip(";")}">{escaped}</span>'
