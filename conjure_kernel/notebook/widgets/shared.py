"""Widgets that share their default layout and style, and closing that frees them all.

Every ipywidgets widget is a model with a comm of its own, and so is its default
``Layout`` and, for the classes that have one, its style; closing a widget closes
neither. A chat turn's trace makes a handful of widgets, so it opened three comms per
widget and left two of them open for good: 9 models per plain turn, kept in the kernel
and in the frontend (which is sent all of them again when the page reloads). Widgets
made here share one layout and one style per style class, opened once per kernel and
never closed; a widget whose layout changes (``display`` to fold it) gets its own, and
``close_widgets`` closes that too.

``view_bundle`` is a widget's display bundle without ipywidgets' own ``text/plain``,
which is the ``repr`` of the widget and of everything in it, cut to 110 characters.
"""

from __future__ import annotations

from typing import Any, TypeVar

import ipywidgets as widgets

__all__ = ["WIDGET_VIEW_TYPE", "close_widgets", "make", "view_bundle"]

WIDGET_VIEW_TYPE = "application/vnd.jupyter.widget-view+json"

W = TypeVar("W", bound=widgets.Widget)

_shared: dict[type, widgets.Widget] = {}
"""The shared layout (under ``Layout``) and the shared style of each style class."""


def make(kind: type[W], /, **traits: Any) -> W:
    """A ``kind`` widget on the shared layout and style, unless ``traits`` name its own."""
    defaults = kind.class_traits()
    for name in ("layout", "style"):
        if name in defaults and name not in traits:
            traits[name] = _shared_model(defaults[name].klass)
    return kind(**traits)


def close_widgets(widget: widgets.Widget) -> None:
    """Close a widget, everything in it, and their own layouts and styles: the frontend
    no longer shows them, and neither side keeps their models."""
    for child in getattr(widget, "children", ()):
        close_widgets(child)
    for name in ("layout", "style"):
        model = getattr(widget, name, None)
        if isinstance(model, widgets.Widget) and _shared.get(type(model)) is not model:
            model.close()
    widget.close()


def view_bundle(widget: widgets.Widget, text: str) -> dict[str, Any]:
    """What displays ``widget`` where a widget manager runs, and ``text`` elsewhere."""
    # The view's schema version, as ipywidgets 8 writes it in Widget._repr_mimebundle_.
    view = {"version_major": 2, "version_minor": 0, "model_id": widget.model_id}
    return {"text/plain": text, WIDGET_VIEW_TYPE: view}


def _shared_model(kind: type[W]) -> W:
    """The one model of ``kind`` (a layout or style class), made anew if it was closed
    (``Widget.close_all()``)."""
    model = _shared.get(kind)
    if model is None or model.comm is None:
        model = _shared[kind] = kind()
    return model  # type: ignore[return-value]
