"""The rows of the tool trace: a tool call, a step's thinking, an approval, a created file.

Split from trace.py: a tool call's row (its state, its live output, folding) is its own
concern, and a step's thinking folds the same way. Each row redraws itself only when
what it shows changed. A question waiting for the person shows buttons that answer it.
"""

from __future__ import annotations

import html
import mimetypes
import os
import threading
import time
from typing import Any

import ipywidgets as widgets

from ...conversation.file_links import FileLinks as _Files
from ...conversation.file_links import is_image as _is_image
from ...conversation.labels import approval_line as _approval_line
from ...conversation.labels import thinking_line as _thinking_line
from ...conversation.labels import tool_input as _tool_input
from ...conversation.labels import tool_title as _tool_title
from ...conversation.session_gate import Approval, ApprovalRequest
from ...conversation.turn import (
    ApprovalEntry,
    FileEntry,
    Redact,
    ThinkingEntry,
    ToolEntry,
    ToolState,
)
from ...tools.printed_limits import LIVE_TAIL
from ..ansi import ansi_to_html
from ..turn_html import output_html
from ..views import redraw_due
from .clicks import route_while_busy
from .shared import close_widgets, make

__all__ = [
    "MUTED",
    "ApprovalButtons",
    "ApprovalRow",
    "ThinkingRow",
    "ToolRow",
    "file_widget",
]


_REDRAW_CHARS = 2_000
_REDRAW_SECONDS = 0.5
"""Past ``_REDRAW_CHARS`` printed, a running call's output is redrawn when it grew by a
tenth or ``_REDRAW_SECONDS`` passed: a flood of small prints costs in proportion to its
length, not to its square."""

_MAX_IMAGE_BYTES = 5_000_000

_CLICK_POLL_SECONDS = 0.1
"""How often a question's wait looks for a click: short, so Ctrl-C stops it at once."""

_STATE_COLOURS: dict[ToolState, str] = {
    "running": "var(--jp-warn-color1, #f57c00)",
    "ok": "var(--jp-success-color1, #388e3c)",
    "error": "var(--jp-error-color1, #d32f2f)",
    "interrupted": "var(--jp-warn-color2, #ffa726)",
    "denied": "var(--jp-error-color2, #e57373)",
}
"""JupyterLab's theme colours, so the badges read in light and dark themes alike."""

_PRE = (
    "margin:2px 0;padding:4px;white-space:pre-wrap;word-break:break-all;"
    "background:var(--jp-layout-color2);color:var(--jp-content-font-color1);"
    "font-family:var(--jp-code-font-family);font-size:var(--jp-code-font-size)"
)
MUTED = "color:var(--jp-ui-font-color2);font-size:var(--jp-ui-font-size0, 85%)"


class _FoldingRow:
    """A header line (a ▾/▸ toggle and a title) that opens onto a body; open at first."""

    def __init__(self, body: tuple[widgets.Widget, ...], css_class: str) -> None:
        self._toggle = make(
            widgets.ToggleButton,
            value=True,
            description="▾",
            layout=widgets.Layout(width="2.2em", height="1.8em", padding="0"),
        )
        self._title = make(widgets.HTML)
        self._body = make(widgets.VBox, children=body, layout=widgets.Layout(margin="0 0 0 2.4em"))
        self._toggle.observe(self._fold, names="value")
        header = make(widgets.HBox, children=(self._toggle, self._title))
        self.widget = make(widgets.VBox, children=(header, self._body), _dom_classes=(css_class,))

    def _fold(self, change: dict[str, Any]) -> None:
        self._body.layout.display = "" if change["new"] else "none"
        self._toggle.description = "▾" if change["new"] else "▸"


class ToolRow(_FoldingRow):
    """A tool call: a header line (state badge, title, exit code, duration) that opens
    onto its input and output. Open while running; a call that went well folds."""

    def __init__(self, entry: ToolEntry, redact: Redact) -> None:
        self._entry = entry
        self._redact = redact
        self._printed = ""
        self._received = 0
        self._drawn = (0, 0.0)
        """Characters received, and when, at the last redraw of the printed text."""
        self._drawn_state: tuple[Any, ...] = ()
        self._output = make(widgets.HTML)
        call = entry.redacted(redact).call
        given = make(
            widgets.HTML, value=f'<pre style="{_PRE}">{html.escape(_tool_input(call))}</pre>'
        )
        super().__init__((given, self._output), "conjure-tool")
        self.refresh()

    def refresh(self) -> None:
        """Redraw the header, and the output once there is a result, if the state changed."""
        entry = self._entry
        state = (entry.state, entry.result is not None)
        if state == self._drawn_state:
            return
        self._drawn_state = state
        self._title.value = _tool_header(entry.redacted(self._redact))
        if entry.result is not None:
            self._show_result(self._redact(entry.result.content))
            self._toggle.value = entry.state != "ok"

    def add_printed(self, text: str) -> None:
        """Add what the running command printed; ignored once its result is shown."""
        if self._entry.result is not None:
            return
        self._printed = (self._printed + text)[-LIVE_TAIL:]
        self._received += len(text)
        received, drawn_at = self._drawn
        if (
            self._received <= _REDRAW_CHARS
            or self._received >= received * 1.1
            or time.monotonic() - drawn_at >= _REDRAW_SECONDS
        ):
            self._drawn = (self._received, time.monotonic())
            kept = self._printed
            if self._received > len(kept) and "\n" in kept:
                kept = kept[kept.index("\n") + 1 :]  # start on a whole line
            self._output.value = _live_output_html(self._redact(kept))

    def _show_result(self, content: str) -> None:
        self._output.value = output_html(content)


class ThinkingRow(_FoldingRow):
    """A step's thinking, muted: open while it streams, then folded under its length
    (``thinking · 42 words``) once the step goes on."""

    def __init__(self, entry: ThinkingEntry, redact: Redact) -> None:
        self._entry = entry
        self._redact = redact
        self._text = make(widgets.HTML)
        self._drawn = (0.0, 0)
        """When the text was last drawn, and its length then."""
        super().__init__((self._text,), "conjure-thinking")
        self._draw(streaming=True)

    def follow(self) -> None:
        """Redraw the thinking so far, when ``views.redraw_due`` says so."""
        if redraw_due(*self._drawn, len(self._entry.text)):
            self._draw(streaming=True)

    def finish(self) -> None:
        """The step went on: show all the thinking, folded."""
        self._draw(streaming=False)
        self._toggle.value = False

    def _draw(self, *, streaming: bool) -> None:
        clean = self._entry.redacted(self._redact)
        line = html.escape(_thinking_line(clean, streaming=streaming))
        self._title.value = f'<span style="{MUTED}">{line}</span>'
        self._text.value = (
            f'<div class="conjure-thinking-text" style="{MUTED};white-space:pre-wrap">'
            f"{html.escape(clean.text)}</div>"
        )
        self._drawn = (time.monotonic(), len(self._entry.text))


class ApprovalRow:
    """A permission asked for a tool call, redrawn when it is answered; while the question
    waits, buttons under it answer it (``ask``)."""

    def __init__(self, entry: ApprovalEntry, redact: Redact) -> None:
        self._entry = entry
        self._redact = redact
        self._drawn: tuple[Any, ...] = ()
        self._line = make(widgets.HTML)
        self._box = make(widgets.VBox, children=(self._line,)) if entry.allowed is None else None
        """A question's line, and its buttons while it waits."""
        self.widget: widgets.Widget = self._box or self._line
        self.refresh()

    def refresh(self) -> None:
        decision = (self._entry.allowed, self._entry.reason)
        if decision != self._drawn:
            self._drawn = decision
            line = html.escape(_approval_line(self._entry.redacted(self._redact)))
            self._line.value = f'<div style="{MUTED}"><i>{line}</i></div>'

    def ask(self, request: ApprovalRequest) -> Approval | None:
        """The person's answer, from buttons shown under the question until one is
        clicked; None, and no buttons, where a click could not reach the running cell."""
        if self._box is None:
            return None
        buttons = ApprovalButtons(request, self._redact)
        if not route_while_busy(*buttons.inputs):
            close_widgets(buttons.widget)
            return None
        self._box.children = (self._line, buttons.widget)
        try:
            return buttons.wait()
        finally:
            self._box.children = (self._line,)
            close_widgets(buttons.widget)


class ApprovalButtons:
    """Allow once, Always, and Deny with a box for the reason Claude is given: the answers
    the stdin question takes (``y``, ``a``, ``n: REASON``), the first click deciding."""

    def __init__(self, request: ApprovalRequest, redact: Redact) -> None:
        self._answer: Approval | None = None
        self._answered = threading.Event()
        once = make(widgets.Button, description="Allow once", button_style="success")
        always = make(widgets.Button, description="Always")
        self._reason = make(widgets.Text, placeholder="why not (Claude reads it)")
        deny = make(widgets.Button, description="Deny", button_style="danger")
        once.on_click(lambda _button: self._give(Approval(True)))
        always.on_click(lambda _button: self._give(Approval(True, always=True)))
        deny.on_click(
            lambda _button: self._give(Approval(False, reason=self._reason.value.strip()))
        )
        allows = html.escape(redact(request.allows))
        note = make(
            widgets.HTML, value=f'<div style="{MUTED}">Always allows {allows} from now on</div>'
        )
        self.inputs = (once, always, self._reason, deny)
        """The widgets the person acts on."""
        self.widget = make(widgets.VBox, children=(make(widgets.HBox, children=self.inputs), note))

    def wait(self) -> Approval:
        """Wait for a click: its callback runs on another thread (``clicks``) and hands
        the answer over; Ctrl-C interrupts the wait as it does ``input()``."""
        while not self._answered.wait(_CLICK_POLL_SECONDS):
            pass
        assert self._answer is not None
        return self._answer

    def _give(self, answer: Approval) -> None:
        if self._answer is None:
            self._answer = answer
            self._answered.set()


def _tool_header(tool: ToolEntry) -> str:
    """A mark in the state's colour, then the call's title as every rendering words it."""
    mark = (
        f'<span title="{tool.state}" style="display:inline-block;width:0.7em;height:0.7em;'
        f'border-radius:50%;background:{_STATE_COLOURS[tool.state]};margin-right:6px"></span>'
    )
    return f"{mark}<code>{html.escape(_tool_title(tool))}</code>"


def _output_html(text: str) -> str:
    return f'<pre class="conjure-tool-result" style="{_PRE}">{ansi_to_html(text)}</pre>'


def _live_output_html(text: str) -> str:
    """The printed text in a box that stays scrolled to its end (``column-reverse``)."""
    return (
        '<div style="max-height:24em;overflow:auto;display:flex;flex-direction:column-reverse">'
        f"{_output_html(text)}</div>"
    )


def file_widget(entry: FileEntry, redact: Redact, files: _Files) -> widgets.Widget:
    """``created PATH``: a link when the file is in the notebook's folder, and the image
    itself for an image (sent as bytes: an image URL would need the server's file route)."""
    path = redact(entry.path)
    link = files.link(path)
    code = f"<code>{html.escape(path)}</code>"
    shown = code if link is None else f'<a href="{html.escape(link)}" target="_blank">{code}</a>'
    line = make(widgets.HTML, value=f'<div class="conjure-file">created {shown}</div>')
    image = _image_of(entry.path)
    return line if image is None else make(widgets.VBox, children=(line, image))


def _image_of(path: str) -> widgets.Image | None:
    kind = mimetypes.guess_type(path)[0] or ""
    if not (_is_image(path) and kind.startswith("image/") and os.path.isabs(path)):
        return None
    try:
        if os.path.getsize(path) > _MAX_IMAGE_BYTES:
            return None
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    return widgets.Image(value=data, format=kind.split("/", 1)[1], layout={"max_width": "100%"})
