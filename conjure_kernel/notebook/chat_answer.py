"""A chat turn's answer as a Python value: what ``%%conjure -o NAME`` and ``_conjure`` hold."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..conversation.transcript import TurnRecord

__all__ = ["LAST_ANSWER", "ChatAnswer", "code_blocks"]

LAST_ANSWER = "_conjure"
"""The user-namespace name that always holds the last answer."""

_FENCED = re.compile(
    r"^ {0,3}(`{3,}|~{3,})[ \t]*([\w+.#-]*)[^\n]*\n(.*?)^ {0,3}\1[ \t]*$", re.M | re.S
)

_PYTHON_NAMES = {"python", "py", "python3", "ipython", "ipython3"}
_ALIASES = dict.fromkeys(_PYTHON_NAMES, _PYTHON_NAMES)
"""The names a fence may give one language."""


@dataclass
class ChatAnswer:
    """The answer of one chat turn: its text, the code in it, the files the turn made."""

    text: str
    code_blocks: list[tuple[str, str]] = field(default_factory=list)
    """(language, code) of each fenced block of ``text``, in order; language may be ''."""
    files: list[str] = field(default_factory=list)
    """Paths on this machine of the files the turn made or changed in the workdir (by any
    tool: a command's too), and of those downloaded from a hosted sandbox."""
    record: TurnRecord | None = field(default=None, repr=False)
    """The whole turn (tool calls, usage, steps), for those who want more."""

    @classmethod
    def of(cls, record: TurnRecord, files: list[str]) -> ChatAnswer:
        return cls(record.answer, code_blocks(record.answer), files, record)

    def code(self, language: str = "python") -> str:
        """The first code block in ``language`` (or one of its other names: ``py`` for
        ``python``), else the first with no language, else ''. An answer that quotes a
        traceback in a plain fence before its ``python`` block offers the Python."""
        names = _ALIASES.get(language.lower(), {language.lower()})
        labelled = [code for block, code in self.code_blocks if block.lower() in names]
        plain = [code for block, code in self.code_blocks if not block]
        return (labelled or plain or [""])[0]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        shown = self.text if len(self.text) <= 60 else self.text[:59] + "…"
        return f"ChatAnswer({shown!r}, {len(self.code_blocks)} code block(s), files={self.files!r})"

    def _repr_markdown_(self) -> str:
        return self.text


def code_blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of Markdown ``text`` as (language, code)."""
    return [(match.group(2), match.group(3)) for match in _FENCED.finditer(text)]
