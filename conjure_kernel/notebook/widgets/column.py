"""A column of widgets that grows at its end for the cost of what it gains.

Split from trace.py: a box's children are sent whole whenever they change, so a trace
that put every entry, or every block of a long answer, in one box would resend the ids
of all of them at each new one, and the bytes a turn sends would grow with the square
of its length. A ``Column`` keeps its widgets in a tree of boxes of at most ``FAN_OUT``
children each, all at the same depth: a new widget changes the last box only, and every
``FAN_OUT`` widgets one box more.
"""

from __future__ import annotations

import ipywidgets as widgets

from .shared import make

__all__ = ["COLUMN_CLASS", "Column"]

COLUMN_CLASS = "conjure-column"
"""The CSS class of a column's boxes."""


class Column:
    """Widgets one under the other, added only at the end; ``box`` is what is shown."""

    FAN_OUT = 16

    def __init__(self) -> None:
        self.box = _column_box(())
        self._path = [self.box]
        """The last box of each level, the outermost first: the last one takes new widgets."""

    def extend(self, items: list[widgets.Widget]) -> None:
        """Add ``items`` at the end, in order, filling the last box in one change."""
        while items:
            last = self._path[-1]
            room = self.FAN_OUT - len(last.children)
            if room:
                last.children, items = (*last.children, *items[:room]), items[room:]
            else:
                self._branch(items[0])
                items = items[1:]

    def _branch(self, item: widgets.Widget) -> None:
        """Start a new last box holding ``item``, under the deepest box with room; when no
        box has room, the outer box's children move one level down first."""
        path = self._path
        depth = next((d for d in reversed(range(len(path))) if self._has_room(path[d])), None)
        if depth is None:
            lower = _column_box(self.box.children)
            self.box.children = (lower,)
            path.insert(1, lower)
            depth = 0
        node, chain = item, []
        for _ in range(len(path) - 1 - depth):  # a new box on each level below ``depth``
            node = _column_box((node,))
            chain.insert(0, node)
        path[depth].children = (*path[depth].children, node)
        path[depth + 1 :] = chain

    def _has_room(self, box: widgets.VBox) -> bool:
        return len(box.children) < self.FAN_OUT


def _column_box(children: tuple[widgets.Widget, ...]) -> widgets.VBox:
    return make(widgets.VBox, children=children, _dom_classes=(COLUMN_CLASS,))
