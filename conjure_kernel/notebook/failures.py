"""A failed turn's error, said once: in the turn's saved output, not again as an error output.

A turn that fails (a budget stop, an interrupt, an API error) still fails its cell, so
Run All stops there and nbclient raises; and the turn's saved output already says what
happened (``TurnRecord.error``). Where a widget manager draws that output (JupyterLab,
Notebook 7, VS Code), the error output IPython adds says it a second time. So there the
error goes through IPython's custom exception hook: the execute reply still carries its
name, value and short traceback, and no ``error`` message is published. Elsewhere
(``jupyter console``, nbclient) the error output stays, where a headless run's readers
look for it; a terminal says the error there alone, since the lines it gets of the turn
leave it out (``LiveTurnView.finish``).

Split from magics.py: how a failure is shown is its own concern, beside the chat magic.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ..errors import ConjureError
from .frontends import widget_manager_connected
from .wording import worded_for_notebook

if TYPE_CHECKING:
    from ..conversation.transcript import TurnRecord

__all__ = ["cell_failure"]

_QUIET = (ConjureError,)
_shown: weakref.WeakSet[BaseException] = weakref.WeakSet()
"""Errors that a turn's saved output shows, to raise without an error output."""


def cell_failure(shell: Any, error: BaseException, record: TurnRecord | None) -> BaseException:
    """``error``, the failure of the turn ``record`` (None: it never started), worded for
    the notebook and ready to raise from the cell.

    Where the record shows the error, it takes the hint in the words of the magic that
    helps, since the turn is where it is read; and where a widget manager draws the turn,
    raising ``error`` adds no error output (a shell with a custom exception handler of
    its own keeps it, and the error output too)."""
    error = worded_for_notebook(error)
    recorded = record.error if record is not None else None
    if not recorded:
        return error
    if recorded.get("error") == type(error).__name__ and getattr(error, "hint", ""):
        recorded["hint"] = error.hint
    if (
        isinstance(error, ConjureError)
        and shell is not None
        and widget_manager_connected()
        and shell.custom_exceptions in ((), _QUIET)
    ):
        shell.set_custom_exc(_QUIET, _show_unless_shown)
        _shown.add(error)
    return error


def _show_unless_shown(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
) -> list[str]:
    """IPython's handler for a ``ConjureError`` raised by a cell: one a turn showed only
    gives the execute reply its traceback; any other is shown as IPython shows it."""
    if value in _shown:
        shell._last_traceback = value._render_traceback_()  # what ipykernel's reply carries
        return []
    shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    return []
