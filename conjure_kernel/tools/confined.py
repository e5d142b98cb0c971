"""Host file access for the file tools, confined to the folders a sandbox can see.

A sandbox sees some host folders at paths of its own (a container's ``/workspace``, a
bubblewrap sandbox's private ``/tmp``): its mount table. The kernel reads and writes
those folders on the host for speed, and a hostile process in the sandbox may swap any
entry in them for a symbolic link at any moment. So a path is never checked and then
opened by name: it is walked one component at a time from a directory handle, each
step opened without following links. A link met on the way is read and its target
resolved again through the mount table, as the sandbox would resolve it, so a link to
``/etc`` leads to the sandbox's ``/etc`` (outside every mount: ``OutsideMounts``),
never to the host's. Every open is non-blocking and checked with ``fstat``, so a file
swapped for a FIFO cannot hang the kernel, and reads stop at the size the open file had.
The single steps of that walk are in no_follow.py.

A permission decision on a path is made on where it leads (``leads_to``); the tool loop
runs the call pinned to that place (``tools.decisions``), and a walk that lands anywhere
else (a link swapped in after the decision) is refused, so what was allowed is what is
touched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .decisions import pinned_place
from .no_follow import (
    CREATE,
    DIRECTORY,
    MAX_RETRIES,
    NOFOLLOW,
    LinkMet,
    opened,
    pread_all,
    raise_if_link,
    require_regular,
    step_into,
    visible_children,
    write_all,
)
from .workspace import PathInfo

__all__ = ["Confined", "Mount", "OutsideMounts", "PathChanged", "inside"]

_T = TypeVar("_T")
_MAX_LINKS = 40
"""Symbolic links followed in one path before giving up, as Linux's ``ELOOP`` does."""
_LOOKUP = getattr(os, "O_PATH", os.O_RDONLY) | NOFOLLOW
"""How the last component is opened to ``stat`` it: ``O_PATH`` opens nothing (a device
or FIFO is not touched), where the system has it."""


@dataclass(frozen=True)
class Mount:
    """A folder as the tools see it, and what is behind it on the host."""

    path: str
    """Absolute and normalised, as the tools name it (``/workspace``)."""
    host: Path | None
    """The host folder it shows; None masks the path: the file tools may not touch it."""
    writable: bool = False


class OutsideMounts(OSError):
    """The path (or a link on its way) leads outside every mount: it exists only inside
    the sandbox, if at all, and must be reached from there."""


class PathChanged(PermissionError):
    """The path leads elsewhere than when the call was allowed: a link changed since."""


class Confined:
    """Race-free host file operations beneath a sandbox's mount table.

    Paths are the tools' absolute, normalised paths. A path under a masked mount, or in
    a read-only mount for a write, raises ``PermissionError``; one outside every mount
    raises ``OutsideMounts``. ``group_writable`` makes what a write creates writable by
    its group (a root kernel's sandbox user writes through group 0).
    """

    def __init__(self, mounts: Sequence[Mount], *, group_writable: bool = False) -> None:
        self.mounts = sorted(mounts, key=lambda mount: len(mount.path), reverse=True)
        self.group_writable = group_writable

    # -- operations ---------------------------------------------------------------------

    def stat(self, path: str) -> PathInfo:
        """What is at ``path``, links followed within the mounts; ``missing`` when nothing."""
        try:
            with _named(path):
                info = self._walk(path, _stat_entry)
        except (FileNotFoundError, NotADirectoryError):
            return PathInfo("missing")
        if stat.S_ISDIR(info.st_mode):
            return PathInfo("directory", info.st_size)
        return PathInfo("file" if stat.S_ISREG(info.st_mode) else "other", info.st_size)

    def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` of a regular file; never past the size it had when
        opened, so a file that grows while it is read cannot flood the kernel."""
        with _named(path):
            fd = self._walk(path, _open_regular)
        try:
            size = os.fstat(fd).st_size
            stop = size if end is None else min(end, size)
            return pread_all(fd, max(stop - start, 0), start)
        finally:
            os.close(fd)

    def write(self, path: str, data: bytes, *, add_mode: int = 0) -> bool:
        """Create or overwrite a regular file, making its folders; True when it existed.
        ``add_mode`` adds permission bits (a script copied back stays executable)."""
        with _named(path):
            self._require_writable(path)
            fd, existed = self._walk(path, self._create_alone, make_folders=True)
        try:
            if add_mode or (existed and self.group_writable):
                mode = os.fstat(fd).st_mode
                os.fchmod(fd, mode | add_mode | (0o020 if self.group_writable else 0))
            os.ftruncate(fd, 0)
            write_all(fd, data)
        finally:
            os.close(fd)
        return existed

    def leads_to(self, path: str) -> str:
        """Where ``path`` leads, links followed as the walk follows them (the innermost
        link out of the mounts gives where it points); what a decision is made on."""
        trail: list[str] = []
        with contextlib.suppress(OSError):
            self._walk(path, _follow_last, trail=trail)
        return trail[-1] if trail else path

    def list_dir(self, path: str) -> list[str]:
        """The folder two levels deep, hidden entries and ``node_modules`` skipped; each
        folder (``name/``) followed by its entries. Links are listed, never entered."""
        with _named(path):
            fd = self._walk(path, _open_directory)
        try:
            entries: list[str] = []
            for name, is_dir in visible_children(fd):
                entries.append(f"{name}/" if is_dir else name)
                if not is_dir:
                    continue
                with contextlib.suppress(OSError), opened(name, DIRECTORY, fd) as child:
                    entries += [
                        f"{name}/{grandchild}/" if child_is_dir else f"{name}/{grandchild}"
                        for grandchild, child_is_dir in visible_children(child)
                    ]
            return entries
        finally:
            os.close(fd)

    # -- the walk -----------------------------------------------------------------------

    def _walk(
        self,
        path: str,
        last: Callable[..., _T],
        *,
        make_folders: bool = False,
        trail: list[str] | None = None,
    ) -> _T:
        """Open each folder of ``path`` beneath its mount and hand the last component to
        ``last(folder_fd, name, mount)``; a link met anywhere restarts from its target.
        ``trail`` collects each path walked (the last is where it led)."""
        for _ in range(_MAX_LINKS + 1):
            if trail is not None:
                trail.append(path)
            mount = self._mount(path)
            assert mount.host is not None
            parts = _parts(path, mount.path)
            folder = os.open(mount.host, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                if not parts:  # the path is the mount itself
                    _require_pinned(path, trail)
                    return last(folder, ".", mount)
                walked = mount.path
                for index, name in enumerate(parts):
                    try:
                        if index == len(parts) - 1:
                            _require_pinned(path, trail)
                            return last(folder, name, mount)
                        make = make_folders and mount.writable
                        folder = step_into(folder, name, make, self.group_writable)
                    except LinkMet as link:  # relative to the folder that holds the link
                        rest = parts[index + 1 :]
                        path = posixpath.normpath(posixpath.join(walked, link.target, *rest))
                        break
                    walked = posixpath.join(walked, name)
            finally:
                os.close(folder)
        raise OSError(errno.ELOOP, "Too many levels of symbolic links", path)

    def _mount(self, path: str) -> Mount:
        """The innermost mount that holds ``path``, which the file tools may touch."""
        mount = next((m for m in self.mounts if inside(path, m.path)), None)
        if mount is None:
            raise OutsideMounts(errno.ENOENT, "not in a folder shared with this machine", path)
        if mount.host is None:
            raise PermissionError(errno.EACCES, "the file tools may not touch this path", path)
        return mount

    def _require_writable(self, path: str) -> None:
        if not self._mount(path).writable:
            raise OSError(errno.EROFS, "Read-only file system", path)

    def _create_alone(self, folder: int, name: str, mount: Mount) -> tuple[int, bool]:
        """``_create`` for a file about to be overwritten; one with other hard links (one
        may be outside the mounts, where no write may go) is replaced by a new file under
        its name, so the write changes this name only."""
        fd, existed = self._create(folder, name, mount)
        info = os.fstat(fd)
        if not existed or info.st_nlink < 2:
            return fd, existed
        os.close(fd)
        fresh = f".{name}.conjure-{secrets.token_hex(4)}"
        alone = os.open(fresh, CREATE, 0o600, dir_fd=folder)
        os.fchmod(alone, stat.S_IMODE(info.st_mode))
        os.rename(fresh, name, src_dir_fd=folder, dst_dir_fd=folder)
        os.set_blocking(alone, True)
        return alone, True

    def _create(self, folder: int, name: str, mount: Mount) -> tuple[int, bool]:
        """Open ``name`` for writing, creating it; a link is followed (within the mounts),
        anything but a regular file refused."""
        if name == ".":
            raise IsADirectoryError(errno.EISDIR, "Is a directory", mount.path)
        if not mount.writable:
            raise OSError(errno.EROFS, "Read-only file system", name)
        for _ in range(MAX_RETRIES):
            try:
                fd = os.open(name, CREATE, 0o666, dir_fd=folder)
            except FileExistsError:
                pass
            else:
                os.set_blocking(fd, True)
                if self.group_writable:
                    os.fchmod(fd, os.fstat(fd).st_mode | 0o020)
                return fd, False
            try:
                fd = os.open(name, os.O_WRONLY | NOFOLLOW, dir_fd=folder)
            except FileNotFoundError:
                continue  # removed between the two opens: create it again
            except OSError as error:
                raise_if_link(error, folder, name)
                raise
            require_regular(fd, name)
            return fd, True
        raise OSError(errno.EAGAIN, "the file keeps changing", name)


def _require_pinned(path: str, trail: list[str] | None) -> None:
    """Refuse to touch ``path`` when this call was allowed for another place (``leads_to``
    itself, with its ``trail``, only looks)."""
    place = pinned_place()
    if trail is None and place is not None and path != place:
        raise PathChanged(
            errno.EACCES,
            f"it was allowed when it led to {place}, and a link now leads it to {path}",
            path,
        )


def _follow_last(folder: int, name: str, mount: Mount) -> None:
    """For ``leads_to``: a link as the last component is followed too."""
    try:
        target = os.readlink(name, dir_fd=folder)
    except OSError:
        return
    raise LinkMet(target)


@contextlib.contextmanager
def _named(path: str) -> Iterator[None]:
    """Errors name the path the tool asked for, not the component a step failed on."""
    try:
        yield
    except OSError as error:
        if error.filename == path or error.errno is None:
            raise
        raise type(error)(error.errno, error.strerror, path) from None


def _stat_entry(folder: int, name: str, mount: Mount) -> os.stat_result:
    try:
        fd = os.open(name, _LOOKUP, dir_fd=folder)
    except OSError as error:
        raise_if_link(error, folder, name)
        raise
    try:
        info = os.fstat(fd)
        if stat.S_ISLNK(info.st_mode):  # O_PATH opened the link itself
            raise LinkMet(os.readlink(name, dir_fd=folder))
        return info
    finally:
        os.close(fd)


def _open_regular(folder: int, name: str, mount: Mount) -> int:
    if name == ".":
        raise IsADirectoryError(errno.EISDIR, "Is a directory", mount.path)
    try:
        fd = os.open(name, os.O_RDONLY | NOFOLLOW, dir_fd=folder)
    except OSError as error:
        raise_if_link(error, folder, name)
        raise
    require_regular(fd, name)
    return fd


def _open_directory(folder: int, name: str, mount: Mount) -> int:
    try:
        return os.open(name, DIRECTORY, dir_fd=folder)
    except OSError as error:
        raise_if_link(error, folder, name)
        raise


def _parts(path: str, root: str) -> list[str]:
    relative = posixpath.relpath(path, root)
    return [] if relative == "." else relative.split("/")


def inside(path: str, folder: str) -> bool:
    """Whether the absolute, normalised ``path`` is ``folder`` or lies beneath it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")
