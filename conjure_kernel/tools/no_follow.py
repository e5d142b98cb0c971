"""One step of the confined walk: open an entry beneath a folder's handle, never through a link.

Split from confined.py, which walks a path through a sandbox's mount table: here are
the opens it is made of (``O_NOFOLLOW``, non-blocking, relative to a directory handle),
which report a symbolic link met as ``LinkMet`` instead of following it, and the reads,
writes and listings done on what was opened.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

__all__ = [
    "CREATE",
    "DIRECTORY",
    "MAX_RETRIES",
    "NOFOLLOW",
    "LinkMet",
    "opened",
    "pread_all",
    "raise_if_link",
    "require_regular",
    "step_into",
    "visible_children",
    "write_all",
]

MAX_RETRIES = 100
"""Times one step is tried again when the entry changes between two looks at it."""
_CHUNK = 1 << 20
NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | NOFOLLOW
CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW


class LinkMet(Exception):
    """The step met a symbolic link; the walk starts again from its target."""

    def __init__(self, target: str) -> None:
        self.target = target


def step_into(folder: int, name: str, make: bool, group_writable: bool) -> int:
    """Open the folder ``name`` beneath ``folder`` (closed here) without following a link;
    ``make`` creates it when it is missing."""
    for _ in range(MAX_RETRIES):
        try:
            child = os.open(name, DIRECTORY, dir_fd=folder)
        except FileNotFoundError:
            if not make:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=folder)
                if group_writable:
                    with opened(name, DIRECTORY, folder) as made:
                        os.fchmod(made, os.fstat(made).st_mode | 0o020)
            continue
        except OSError as error:
            raise_if_link(error, folder, name)
            raise
        os.close(folder)
        return child
    raise OSError(errno.EAGAIN, "the folder keeps changing", name)


def raise_if_link(error: OSError, folder: int, name: str) -> None:
    """Turn a no-follow open's failure on a symbolic link into ``LinkMet``."""
    if error.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return
    try:
        target = os.readlink(name, dir_fd=folder)
    except OSError:
        return  # not a link (a file where a folder was expected), or gone
    raise LinkMet(target) from None


def require_regular(fd: int, name: str) -> None:
    """Close ``fd`` and refuse unless it is a regular file; clear ``O_NONBLOCK`` if it is."""
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "Is a directory", name)
        raise OSError(errno.EINVAL, "not a regular file", name)
    os.set_blocking(fd, True)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def pread_all(fd: int, count: int, offset: int) -> bytes:
    parts = []
    while count > 0:
        chunk = os.pread(fd, min(count, _CHUNK), offset)
        if not chunk:
            break  # the file shrank
        parts.append(chunk)
        count -= len(chunk)
        offset += len(chunk)
    return b"".join(parts)


def visible_children(folder: int) -> list[tuple[str, bool]]:
    """Visible entries of an open folder, sorted, with whether each is a real folder."""
    with os.scandir(folder) as entries:
        found = [
            (entry.name, entry.is_dir(follow_symlinks=False))
            for entry in entries
            if not entry.name.startswith(".") and entry.name != "node_modules"
        ]
    return sorted(found)


@contextlib.contextmanager
def opened(name: str, flags: int, folder: int) -> Iterator[int]:
    fd = os.open(name, flags, dir_fd=folder)
    try:
        yield fd
    finally:
        os.close(fd)
