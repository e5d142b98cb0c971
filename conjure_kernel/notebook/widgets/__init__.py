"""Widgets for frontends with a widget manager: the tool trace, the session history and
the backend and model picker. Each also leaves HTML that reads without widgets: the
trace is replaced by the turn's saved bundle, the others carry an HTML fallback."""

from __future__ import annotations

from .history import HistoryWidget
from .picker import PickerWidget
from .trace import TraceWidget

__all__ = ["HistoryWidget", "PickerWidget", "TraceWidget"]
