"""``%load_ext conjure_kernel``: the same magics in any IPython kernel."""

from __future__ import annotations

from typing import Any

from .frontends import listen_for_widget_manager
from .magics import ConjureMagics

__all__ = ["load_ipython_extension", "magics_of", "unload_ipython_extension"]

_magics: dict[int, ConjureMagics] = {}


def load_ipython_extension(ipython: Any) -> None:
    if id(ipython) in _magics:
        return
    listen_for_widget_manager()
    magics = ConjureMagics(shell=ipython)
    ipython.register_magics(
        magics,
        magics.guard,
        magics.backend_magics,
        magics.skill_magics,
        magics.history_magics,
        magics.context_magics,
        magics.mcp_magics,
    )
    _magics[id(ipython)] = magics


def magics_of(ipython: Any) -> ConjureMagics:
    """The magics loaded into ``ipython`` (the kernel shares their redactor)."""
    return _magics[id(ipython)]


def unload_ipython_extension(ipython: Any) -> None:
    magics = _magics.pop(id(ipython), None)
    if magics is not None:
        magics.close()
