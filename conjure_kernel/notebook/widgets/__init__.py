"""Views for frontends with a widget manager: the tool trace, the session history and
the backend and model picker. None leaves a widget view in the saved notebook: the trace
is replaced by the turn's saved bundle, the history is HTML redrawn in place, and the
picker leaves its line once used or when the next cell runs."""

from __future__ import annotations

from .history import HistoryView
from .picker import PickerWidget
from .trace import TraceWidget

__all__ = ["HistoryView", "PickerWidget", "TraceWidget"]
