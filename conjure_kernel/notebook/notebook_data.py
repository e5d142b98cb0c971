"""The notebook's own data in the chat: its variables in a message, the answer back in a
variable, and the last Python error sent for a fix.

``NotebookData`` is what ``ConjureMagics`` asks for each of these, so the chat magic
stays about running turns. It reads the shell (the user namespace, IPython's formatters,
the last error) and writes to it (``-o NAME``, ``_conjure``, the next cell).
"""

from __future__ import annotations

import keyword
import re
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from ..errors import ConjureError
from .cell_variables import Content, expand_message
from .chat_answer import LAST_ANSWER, ChatAnswer
from .turn_files import WorkdirListing

if TYPE_CHECKING:
    from ..conversation.session import Session
    from ..conversation.transcript import TurnRecord

__all__ = ["FIX_COMMAND", "NotebookData", "chat_options"]

FIX_COMMAND = "fix"
MAX_TRACEBACK_CHARS = 6_000
"""The most of a traceback a fix request sends: its end, where the error is."""
MAX_SOURCE_CHARS = 8_000
"""The most of the failing cell a fix request sends: its start."""
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PYTHON_MARKER = "%%python"


class NotebookData:
    """Reads and writes the user namespace for chat turns, on one IPython shell."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.last_error: tuple[str, str] | None = None
        """(cell source, formatted traceback) of the last cell that raised in Python."""
        self._failed_cell: tuple[str | None, str] = (None, "")
        """(frontend cell id, source) of that cell: running it again without error
        forgets the error, and so does running the code a fix offered."""
        self._offered = ""
        self._listing: WorkdirListing | None = None
        if shell is not None:
            shell.events.register("post_run_cell", self._remember_error)

    def close(self) -> None:
        if self.shell is not None:
            self.shell.events.unregister("post_run_cell", self._remember_error)

    def filled(self, message: str) -> Content:
        """``message`` with its ``{name}`` and ``{expression}`` filled from the namespace."""
        return expand_message(message, self._evaluate, self._plain_text)

    def fix_request(self, extra: str = "") -> str:
        """The message asking for a fix of the last error: the cell that raised, its
        traceback, and ``extra`` instructions."""
        if self.last_error is None:
            raise UsageError("no Python error to fix yet: run a cell that fails, then %conjure fix")
        source, traceback = self.last_error
        parts = [
            "This notebook cell raised the error below. Say in a sentence or two what went "
            "wrong, then give the corrected cell as one complete ```python block.",
            "The cell:\n" + _fenced(_cut(source, MAX_SOURCE_CHARS), "python"),
            "The error:\n" + _fenced(_cut(traceback, MAX_TRACEBACK_CHARS, keep_end=True)),
        ]
        return "\n\n".join([*parts, *([extra.strip()] if extra.strip() else [])])

    def list_workdir(self, session: Session) -> None:
        """Note the workdir's files before a turn, to tell which the turn made."""
        self._listing = WorkdirListing.of(session)

    def keep_answer(self, record: TurnRecord, name: str | None) -> ChatAnswer:
        """Put the turn's answer in ``_conjure``, and in ``name`` when one is given."""
        files = self._listing.made_by(record) if self._listing is not None else []
        answer = ChatAnswer.of(record, files)
        namespace = self.shell.user_ns
        namespace[LAST_ANSWER] = answer
        if name:
            namespace[name] = answer
        return answer

    def offer_code(self, answer: ChatAnswer) -> bool:
        """Offer the answer's Python code as the next cell (a frontend that supports
        ``set_next_input`` puts it below); False when there is none."""
        code = answer.code("python")
        if not code:
            return False
        self._offered = code.strip()
        kernel = getattr(self.shell, "kernel", None)
        if getattr(kernel, "implementation", "") == "conjure":
            code = f"{_PYTHON_MARKER}\n{code}"  # else the Conjure kernel would chat it
        self.shell.set_next_input(code.rstrip("\n"), replace=False)
        return True

    def _evaluate(self, source: str) -> Any:
        code = compile(source, f"{{{source}}}", "eval")
        return eval(code, self.shell.user_global_ns, self.shell.user_ns)

    def _plain_text(self, value: Any) -> str:
        return self.shell.display_formatter.formatters["text/plain"](value)

    def _remember_error(self, result: Any) -> None:
        """After each cell: remember it if Python raised, at compile time (a SyntaxError)
        or while running; forget the error when its cell, or the code a fix offered, runs
        without one. A chat turn's or a magic's usage error is Conjure's, not the code's."""
        info = result.info
        source = info.raw_cell if info is not None else ""
        if source.lstrip().startswith(_PYTHON_MARKER):
            source = source.lstrip().split("\n", 1)[1] if "\n" in source.lstrip() else ""
        cell_id = getattr(info, "cell_id", None)
        error = result.error_before_exec or result.error_in_exec
        if error is None:
            if self.last_error is not None and self._reruns_failed(cell_id, source):
                self.last_error = None
            return
        if isinstance(error, UsageError | ConjureError | KeyboardInterrupt):
            return
        if isinstance(error, SyntaxError) and result.error_before_exec is error:
            # as IPython shows it: the line and the caret, not IPython's own frames
            lines = self.shell.SyntaxTB.structured_traceback(type(error), error, [])
        else:
            lines = self.shell.InteractiveTB.structured_traceback(
                type(error), error, error.__traceback__
            )
        self.last_error = (source, _ANSI.sub("", "\n".join(lines)))
        self._failed_cell = (cell_id, source)

    def _reruns_failed(self, cell_id: str | None, source: str) -> bool:
        """Whether a cell is the one that failed (the same frontend cell, or the same
        source where the frontend names no cell) or the code a fix offered."""
        failed_id, failed_source = self._failed_cell
        same_cell = cell_id == failed_id if cell_id and failed_id else source == failed_source
        return same_cell or (bool(self._offered) and source.strip() == self._offered)


def chat_options(line: str) -> tuple[str | None, bool, str]:
    """A chat magic's line read as ``[-o NAME] [fix] [MESSAGE]``: (NAME, fix, the rest).
    After ``fix`` the rest is further instructions, as the body of ``%%conjure fix`` is."""
    words = line.split(maxsplit=2)
    name = None
    if words[:1] in (["-o"], ["--output"]):
        if len(words) < 2 or not words[1].isidentifier() or keyword.iskeyword(words[1]):
            raise UsageError("-o needs a Python name for the answer: %%conjure -o answer")
        name, line = words[1], (words[2] if len(words) > 2 else "")
    first, *rest = line.split(maxsplit=1)[:2] or [""]
    if first == FIX_COMMAND:
        return name, True, "".join(rest).strip()
    return name, False, line


def _cut(text: str, limit: int, *, keep_end: bool = False) -> str:
    if len(text) <= limit:
        return text
    cut = f"[… {len(text) - limit} characters cut …]"
    return f"{cut}\n{text[-limit:]}" if keep_end else f"{text[:limit]}\n{cut}"


def _fenced(text: str, language: str = "") -> str:
    """``text`` in a code fence longer than any run of backticks inside it."""
    runs = [len(run) for run in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"
