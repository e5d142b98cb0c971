"""Clicks that reach a cell while it runs: a widget's messages handled on a side thread.

A chat turn that asks the person something holds the kernel's main thread until the
answer comes, and ipykernel hands every message of the main shell to that thread: a
click on a button the turn shows would wait for the turn to end, which waits for the
click. JupyterLab 4.4 and later address comm messages to a subshell of their own when
the kernel has subshells (ipykernel 7), yet ipykernel 7.4 sends a comm's messages to
the thread that last sent on it, here the main one; other frontends use the main shell
anyway. ipykernel asks each comm where its messages go (``_reply_subshell_for``, read
with ``getattr`` before each comm message is passed on); the widgets given to
``route_while_busy`` answer: to a subshell made once per kernel for this, whose thread
handles them (their click callbacks run there) while the main thread waits.

This relies on two details of ipykernel 7 (the shell channel thread's subshell manager
and that hook), both checked first: where either is missing, ``route_while_busy`` says
so, and the caller asks another way.
"""

from __future__ import annotations

import threading
from typing import Any

import ipywidgets as widgets

__all__ = ["route_while_busy"]

_CREATE_SECONDS = 10.0
"""How long the shell channel thread may take to start the subshell."""


def route_while_busy(*items: widgets.Widget) -> bool:
    """Have the messages of ``items`` handled on the side subshell from now on, so their
    callbacks run while a cell waits; False (nothing changed) where the kernel cannot."""
    comms = [item.comm for item in items]
    if not all(hasattr(comm, "_reply_subshell_for") for comm in comms):
        return False
    subshell = _side_subshell()
    if subshell is None:
        return False
    for comm in comms:
        comm._reply_subshell_for = lambda data, default: subshell
    return True


_made: list[str] = []
"""The kernel's side subshell, once made: one for the kernel's life."""


def _side_subshell() -> str | None:
    """The id of the kernel's side subshell, started at the first call (on the shell
    channel thread, where ipykernel makes the ones frontends ask for); None without one,
    or while it is not ready yet (a later call finds the one made late)."""
    if _made:
        return _made[0]
    channel = getattr(_kernel(), "shell_channel_thread", None)
    manager = getattr(channel, "manager", None)
    if manager is None or not hasattr(manager, "_create_subshell"):
        return None
    started = threading.Event()

    def create() -> None:  # on the channel thread, one at a time: never two subshells
        try:
            if not _made:
                _made.append(manager._create_subshell())
        finally:
            started.set()

    channel.io_loop.add_callback(create)
    started.wait(_CREATE_SECONDS)
    return _made[0] if _made else None


def _kernel() -> Any:
    from ipykernel.kernelbase import Kernel

    return Kernel.instance() if Kernel.initialized() else None
