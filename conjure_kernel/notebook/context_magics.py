"""``%context`` and ``%compact``: how full the model's window is, and making room now.

A notebook is one long conversation; the session fits it in the window by itself
(conversation/context.py). These magics show where it stands and let the person
compact ahead of that, say before a long task. Neither loses a turn: ``%history`` and
the notebook keep all of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import magic_arguments, parse_argstring

if TYPE_CHECKING:
    from .magics import ConjureMagics

__all__ = ["ContextMagics"]


@magics_class
class ContextMagics(Magics):
    """The context window of the session that ``ConjureMagics`` runs."""

    def __init__(self, shell: Any = None, *, conjure: ConjureMagics, **kwargs: Any) -> None:
        self.conjure = conjure
        super().__init__(shell=shell, **kwargs)

    @magic_arguments()
    @line_magic
    def context(self, line: str) -> None:
        """Show how full the model's context window is, what fills it, and what was done
        to make room (old tool results cleared, earlier turns compacted)."""
        parse_argstring(self.context, line)  # --help, and no stray words
        session = self.conjure.session
        print("\n".join(session.context.describe(session.model)))

    @magic_arguments()
    @line_magic
    def compact(self, line: str) -> None:
        """Compact the turns so far into a digest the model reads from the next turn on;
        ``%history`` and the notebook keep every turn."""
        parse_argstring(self.compact, line)
        session = self.conjure.session
        print(session.context.compact_now(session.messages, session.model))
