"""Say in one line why a path cannot be followed: a symbolic link loop, a link to nothing.

Split from discovery.py: a skills path is searched by the loader, named by hand to
``load_skill`` and checked by the CLI, and each of them should describe the same broken
link in the same words rather than let an ``OSError`` escape as a traceback.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

__all__ = ["describe_unreachable", "link_chain"]

_SHOWN_HOPS = 4
"""Links of a chain spelled out before the rest is elided: enough to show a short loop."""


def describe_unreachable(path: Path, error: OSError) -> str:
    """Why ``path`` could not be opened, from the ``OSError`` that opening it raised."""
    if error.errno == errno.ELOOP:
        hops, looped = _follow(path)
        what = "a symbolic link loop" if looped else "too long a chain of symbolic links"
        return f"is {what} ({' -> '.join(hops)})"
    if error.errno == errno.ENOENT and path.is_symlink():
        return f"is a symbolic link to nothing ({link_chain(path)})"
    if error.errno == errno.ENOENT:
        return "no such file or folder"
    return f"cannot be read: {error.strerror or error}"


def link_chain(path: Path) -> str:
    """``a -> b -> a``: the links followed from ``path``, as written, up to a repeat."""
    return " -> ".join(_follow(path)[0])


def _follow(path: Path) -> tuple[list[str], bool]:
    """The link targets from ``path`` on, and whether they came back to one already seen."""
    hops = [path.name]
    current = Path(os.path.normpath(path))
    seen = {current}
    for _ in range(_SHOWN_HOPS):
        try:
            target = os.readlink(current)
        except OSError:  # not a link (the end of the chain), or gone meanwhile
            return hops, False
        hops.append(target)
        current = Path(os.path.normpath(current.parent / target))
        if current in seen:
            return hops, True
        seen.add(current)
    return [*hops, "…"] if current.is_symlink() else hops, False
