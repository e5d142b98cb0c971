"""A tool's output as a saved turn keeps and shows it: capped, read as a terminal shows
it, folded after its first lines.

Split from labels.py: the saved side of the one cap policy, whose numbers are in
``tools.printed_limits``. The model's own cap (``max_output_chars``) applies before any
of this: a tool result holds at most that much, and the record keeps all of it unless
someone raised that cap past ``RECORD_CHARS``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..tools.output import truncate_output
from ..tools.printed_limits import FOLD_CHARS, FOLD_LINES, RECORD_CHARS
from .terminal import Run, terminal_runs

__all__ = [
    "ShownOutput",
    "saved_content",
    "shown_output",
]

_NOTE_ROOM = 200
"""What ``truncate_output``'s note may add past its limit, kept free within the cap so
a saved result read back and saved again is not cut again."""


def saved_content(content: str) -> str:
    """A tool result's text as the record keeps it: whole, or cut to ``RECORD_CHARS``."""
    if len(content) <= RECORD_CHARS:
        return content
    return truncate_output(content, RECORD_CHARS - _NOTE_ROOM)


@dataclass(frozen=True)
class ShownOutput:
    """An output as shown: its runs, and where it folds (runs before ``fold`` show at
    first, the rest under ``more``)."""

    runs: list[Run]
    fold: int | None = None
    more: str = ""

    def is_verbatim(self, content: str) -> bool:
        """Whether it shows ``content`` as it is: one unstyled run, no fold."""
        return (
            self.fold is None
            and all(not run.style for run in self.runs)
            and ("".join(run.text for run in self.runs) == content)
        )

    def to_json(self) -> dict[str, object]:
        return {
            "runs": [[run.text, run.style] for run in self.runs],
            **({} if self.fold is None else {"fold": self.fold, "more": self.more}),
        }


def shown_output(content: str) -> ShownOutput:
    """``content`` read as a terminal shows it, split into runs at its fold when it is
    longer than ``FOLD_LINES`` lines or ``FOLD_CHARS`` characters."""
    runs = terminal_runs(content)
    text = "".join(run.text for run in runs)
    lines = text.count("\n") + (not text.endswith("\n"))
    cut = _fold_at(text)
    if cut is None:
        return ShownOutput(runs)
    more = (
        f"show all {lines:,} lines" if lines > FOLD_LINES else f"show all {len(text):,} characters"
    )
    head, tail = _split(runs, cut)
    return ShownOutput([*head, *tail], len(head), more)


def _fold_at(text: str) -> int | None:
    """Where the shown part ends: after ``FOLD_LINES`` lines, or at ``FOLD_CHARS`` (on a
    line's end when one is in the second half); None when all of it shows."""
    end = -1
    for _ in range(FOLD_LINES):
        end = text.find("\n", end + 1)
        if end < 0:
            break
    cut = len(text) if end < 0 else end + 1
    if cut > FOLD_CHARS:
        line_end = text.rfind("\n", FOLD_CHARS // 2, FOLD_CHARS)
        cut = FOLD_CHARS if line_end < 0 else line_end + 1
    return cut if cut < len(text) and text[cut:].strip() else None


def _split(runs: list[Run], at: int) -> tuple[list[Run], list[Run]]:
    """The runs before and after character ``at``, a run across it cut in two."""
    head: list[Run] = []
    for index, run in enumerate(runs):
        if at <= 0:
            return head, runs[index:]
        if len(run.text) > at:
            return [*head, Run(run.text[:at], run.style)], [
                Run(run.text[at:], run.style),
                *runs[index + 1 :],
            ]
        head.append(run)
        at -= len(run.text)
    return head, []
