"""Whether the frontend draws widgets: JupyterLab, Notebook 7 and VS Code do; nbclient,
papermill, nbconvert and ``jupyter console`` do not.

A widget manager announces itself when it connects to a kernel: it opens a comm to
``jupyter.widget.control`` to ask for the widgets' states. The kernel listens for that
comm from its start, without importing ipywidgets (which would slow the start down by a
fifth of a second); the first open imports it and hands the comm over, so widgets work
as if ipywidgets had been there all along. A frontend that never opens the comm gets the
HTML views, whose saved form needs no widget state.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

__all__ = ["kernel_id", "listen_for_widget_manager", "widget_manager_connected"]

_CONTROL_TARGET = "jupyter.widget.control"
_seen = False


def listen_for_widget_manager() -> None:
    """Register for the control comm, unless ipywidgets already listens itself."""
    if "ipywidgets" in sys.modules:
        return
    import comm

    comm.get_comm_manager().register_target(_CONTROL_TARGET, _control_opened)


def _control_opened(control: Any, message: dict[str, Any]) -> None:
    global _seen
    _seen = True
    from ipywidgets import Widget  # registers ipywidgets' own targets, replacing this one

    Widget.handle_control_comm_opened(control, message)


def widget_manager_connected() -> bool:
    """Whether a widget manager has connected to this kernel (now or before we listened)."""
    if _seen:
        return True
    widgets = sys.modules.get("ipywidgets")
    return widgets is not None and getattr(widgets.Widget, "_control_comm", None) is not None


def kernel_id() -> str:
    """The running kernel's id (from its connection file's name); empty outside a kernel."""
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).stem
    except Exception:  # IPython in a terminal: no kernel, no connection file
        return ""
    return name.removeprefix("kernel-")
