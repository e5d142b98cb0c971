"""What a permission decision fixed for the call it allowed, held for the call's task.

The gate judges a call by what it names: a file tool's path where it led then, a
command's text as a new shell reads it. The tool loop runs the call inside
``decided(...)``, and the workspaces keep to it: the file tools touch only the place
the path led to (``tools.confined``), and a shell kept open between commands runs the
command in a new shell instead, where nothing an earlier command defined (a function
named ``ls``, an alias, ``PATH``) changes what its names run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["Decided", "decided", "pinned_place", "wants_fresh_shell"]


@dataclass(frozen=True)
class Decided:
    """For one allowed call."""

    place: str | None = None
    """Where its path led when it was allowed: the only place it may touch."""
    fresh_shell: bool = False
    """Run its command in a new shell: its rules judged it as one reads it."""


_UNDECIDED = Decided()
_decided: ContextVar[Decided | None] = ContextVar("conjure_decided", default=None)


@contextlib.contextmanager
def decided(decision: Decided) -> Iterator[None]:
    """Keep the file and shell operations of this context (one call's task) to ``decision``."""
    token = _decided.set(decision)
    try:
        yield
    finally:
        _decided.reset(token)


def pinned_place() -> str | None:
    return (_decided.get() or _UNDECIDED).place


def wants_fresh_shell() -> bool:
    return (_decided.get() or _UNDECIDED).fresh_shell
