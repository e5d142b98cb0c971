"""What a command printed, as a terminal shows it: styled runs of text, escapes resolved.

The one reader of terminal control sequences, for every rendering of a turn: the saved
record carries the runs (so the JupyterLab renderer lays them out and parses nothing),
the HTML renderings colour them (``notebook/ansi.py``), and Markdown and plain text keep
only their text. Colours, bold and underline (SGR, ``ESC[…m``) become a run's style,
named by JupyterLab's own classes (``ansi-green-fg ansi-bold``); a carriage return or a
backspace moves back along the line and what follows overwrites it, so a progress bar
keeps its last state; erasing the line (``ESC[K``) erases; every other sequence (cursor
moves, window titles and links (OSC), 256-colour and RGB colours, stray control
characters) is dropped, so none shows as stray characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Run", "plain_text", "terminal_runs"]


@dataclass(frozen=True)
class Run:
    """A stretch of text in one style: JupyterLab's ANSI class names, space-separated
    (``""`` for the default)."""

    text: str
    style: str = ""


_NEEDS_READING = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Text without any of these (newlines and tabs aside) is shown as it is."""

_TOKEN = re.compile(
    r"(?P<csi>\x1b\[(?P<parameters>[0-?]*)[ -/]*(?P<final>[@-~]))"
    # OSC, DCS, PM, APC, SOS: to their terminator, else to the line's end (at most 4,096
    # characters), so an unterminated one cannot hide the rest of the output
    r"|(?P<string>\x1b[\]P^_X][^\x07\x1b\n]{0,4096}(?:\x07|\x1b\\)?)"
    r"|(?P<escape>\x1b[ -/]*[0-~]?)"
    r"|(?P<newline>\r?\n)"
    r"|(?P<control>[\r\b])"
    r"|(?P<dropped>[\x00-\x08\x0b-\x1f\x7f-\x9f])"
)

_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


def terminal_runs(text: str) -> list[Run]:
    """``text`` as runs of styled text, newlines kept, adjacent runs of a style merged."""
    if not _NEEDS_READING.search(text):
        return [Run(text)] if text else []
    screen = _Screen()
    position = 0
    for match in _TOKEN.finditer(text):
        screen.write(text[position : match.start()])
        position = match.end()
        if match["csi"]:
            screen.control(match["parameters"], match["final"])
        elif match["newline"]:
            screen.new_line()
        elif match["control"] == "\r":
            screen.cursor = 0
        elif match["control"] == "\b":
            screen.cursor = max(screen.cursor - 1, 0)
    screen.write(text[position:])
    return screen.runs()


def plain_text(text: str) -> str:
    """``text`` as a terminal shows it, without its styles: for Markdown and plain text."""
    return "".join(run.text for run in terminal_runs(text))


class _Screen:
    """The lines written so far, each character with its style, and the cursor's column
    on the last line."""

    def __init__(self) -> None:
        self.done: list[Run] = []
        self.characters: list[str] = []
        self.styles: list[str] = []
        self.cursor = 0
        self._style = _Style()

    def write(self, text: str) -> None:
        if not text:
            return
        end = self.cursor + len(text)
        self.characters[self.cursor : end] = text
        self.styles[self.cursor : end] = [self._style.classes()] * len(text)
        self.cursor = end

    def control(self, parameters: str, final: str) -> None:
        if final == "m":
            self._style.apply(parameters)
        elif final == "K":  # erase in line: 0 to its end, 1 to the cursor, 2 all of it
            mode = parameters or "0"
            if mode in ("0", "2"):
                del self.characters[self.cursor :], self.styles[self.cursor :]
            if mode in ("1", "2"):
                blanked = min(self.cursor + (mode == "1"), len(self.characters))
                self.characters[:blanked] = " " * blanked
                self.styles[:blanked] = [""] * blanked

    def new_line(self) -> None:
        """End the line; the newline takes the style then, so a coloured block stays one run."""
        self._flush()
        self.done.append(Run("\n", self._style.classes()))

    def runs(self) -> list[Run]:
        self._flush()
        merged: list[tuple[str, list[str]]] = []  # joined once, so a long output stays linear
        for run in self.done:
            if merged and merged[-1][0] == run.style:
                merged[-1][1].append(run.text)
            elif run.text:
                merged.append((run.style, [run.text]))
        return [Run("".join(pieces), style) for style, pieces in merged]

    def _flush(self) -> None:
        start = 0
        for index in range(1, len(self.characters) + 1):
            if index == len(self.characters) or self.styles[index] != self.styles[start]:
                self.done.append(Run("".join(self.characters[start:index]), self.styles[start]))
                start = index
        self.characters, self.styles, self.cursor = [], [], 0


class _Style:
    """The colours and weight that SGR sequences set, as JupyterLab names them."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.foreground = self.background = ""
        self.bold = self.underline = False

    def apply(self, parameters: str) -> None:
        # a code past six digits means nothing (and int() refuses 4,300 digits or more)
        codes = [_number(code) for code in parameters.split(";")]
        index = 0
        while index < len(codes):
            code = codes[index]
            if code in (38, 48):  # 38;5;N or 38;2;R;G;B, and the background's
                kind = codes[index + 1] if index + 1 < len(codes) else 0
                number = codes[index + 2] if kind == 5 and index + 2 < len(codes) else 16
                if 0 <= number < 16:
                    self._colour(code == 38, number)
                else:  # a colour without a class: shown in the default one
                    setattr(self, "foreground" if code == 38 else "background", "")
                index += {5: 3, 2: 5}.get(kind, 2)
                continue
            self._code(code)
            index += 1

    def _code(self, code: int) -> None:
        if code == 0:
            self.reset()
        elif code in (1, 22):
            self.bold = code == 1
        elif code in (4, 24):
            self.underline = code == 4
        elif code in (39, 49):
            setattr(self, "foreground" if code == 39 else "background", "")
        elif 30 <= code <= 37 or 40 <= code <= 47:
            self._colour(code < 40, code % 10)
        elif 90 <= code <= 97 or 100 <= code <= 107:
            self._colour(code < 100, code % 10 + 8)

    def _colour(self, foreground: bool, number: int) -> None:
        """One of the sixteen colours (8 to 15: the intense ones)."""
        name = _NAMES[number % 8] + ("-intense" if number >= 8 else "")
        if foreground:
            self.foreground = f"ansi-{name}-fg"
        else:
            self.background = f"ansi-{name}-bg"

    def classes(self) -> str:
        flags = ("ansi-bold" if self.bold else "", "ansi-underline" if self.underline else "")
        return " ".join(name for name in (self.foreground, self.background, *flags) if name)


def _number(code: str) -> int:
    """An SGR parameter's value; -1 (no code) for one that is not a short number."""
    return int(code) if code.isdigit() and len(code) <= 6 else (0 if not code else -1)
