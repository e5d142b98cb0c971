"""The seam between a running turn and what shows it: the ``TurnView`` protocol.

``ConjureMagics.view_class`` names the class; the chat magic constructs it with the
session's redactor (``view_class(redact)``), hands it every event of the turn, then the
finished record. ``display.LiveTurnView`` (HTML through a display handle, for any
frontend) is the default; a widget view can take its place without the magics changing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..conversation.transcript import TurnRecord
    from ..events import Event

__all__ = ["TurnView"]


@runtime_checkable
class TurnView(Protocol):
    """Shows one turn while it runs, then leaves its saved form in the cell.

    Constructed with the redactor (``Callable[[str], str]``): whatever a view shows or
    saves must pass through it first.
    """

    def update(self, event: Event) -> None:
        """Take the turn's next event, in order; redraw only what changed."""
        ...

    def finish(self, record: TurnRecord | None) -> None:
        """The turn is over: show (and so save) ``record``, or keep what is shown when
        there is none (the turn never started)."""
        ...
