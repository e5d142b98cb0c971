"""An in-memory ``Workspace``: files in a dict under a made-up root, commands scripted.

It touches nothing on the host (its root does not exist there), so a dispatcher that
works over it assumes no host file system. It records every read, so tests can check
that ``view`` reads only what it shows, and the watch each file operation was given.
"""

from __future__ import annotations

import errno
import os
import posixpath
from collections.abc import Callable

from conjure_kernel.tools.call_watch import UNWATCHED, CallWatch
from conjure_kernel.tools.output import StreamCapture
from conjure_kernel.tools.values import ExecResult
from conjure_kernel.tools.workspace import PathInfo

Command = Callable[[str], tuple[int, bytes, bytes]]
"""A scripted command: its exit code, stdout and stderr."""


def _os_error(code: int, path: str) -> OSError:
    """The exception ``open`` raises, so its text matches a host workspace's."""
    return OSError(code, os.strerror(code), path)


class FakeWorkspace:
    def __init__(self, root: str = "/sandbox/work", command: Command | None = None) -> None:
        self.root = root
        self.files: dict[str, bytes] = {}
        self.folders: set[str] = {"/", root}
        self.command = command or (lambda _: (0, b"", b""))
        self.reads: list[tuple[int, int]] = []
        self.commands: list[tuple[str, float, int]] = []
        self.watches: list[CallWatch] = []
        """The watch of each file operation, in order."""
        self.closed = False

    def put(self, path: str, data: bytes) -> None:
        """Set up a file (and its folders) without going through the tools."""
        full = self.resolve(path)
        self.files[full] = data
        self._make_folders(posixpath.dirname(full))

    def resolve(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.root, path))

    async def stat(self, path: str, *, watch: CallWatch = UNWATCHED) -> PathInfo:
        self.watches.append(watch)
        full = self.resolve(path)
        if full in self.files:
            return PathInfo("file", len(self.files[full]))
        return PathInfo("directory" if full in self.folders else "missing")

    async def read(
        self, path: str, start: int = 0, end: int | None = None, *, watch: CallWatch = UNWATCHED
    ) -> bytes:
        self.watches.append(watch)
        full = self.resolve(path)
        if full in self.folders:
            raise _os_error(errno.EISDIR, full)
        if full not in self.files:
            raise _os_error(errno.ENOENT, full)
        data = self.files[full][start:end]
        self.reads.append((start, start + len(data)))
        return data

    async def write(self, path: str, data: bytes, *, watch: CallWatch = UNWATCHED) -> bool:
        self.watches.append(watch)
        full = self.resolve(path)
        if full in self.folders:
            raise _os_error(errno.EISDIR, full)
        existed = full in self.files
        self._make_folders(posixpath.dirname(full))
        self.files[full] = data
        return existed

    async def list_dir(self, path: str, *, watch: CallWatch = UNWATCHED) -> list[str]:
        self.watches.append(watch)
        root = self.resolve(path)
        entries = []
        for child in self._children(root):
            entries.append(self._entry(child, root))
            if child in self.folders:
                entries += [self._entry(grandchild, root) for grandchild in self._children(child)]
        return entries

    async def exec(
        self, command: str, *, timeout: float, keep: int, watch: CallWatch = UNWATCHED
    ) -> ExecResult:
        """Run the scripted command, its output capped as a real workspace caps it."""
        self.commands.append((command, timeout, keep))
        exit_code, stdout, stderr = self.command(command)
        streams = [StreamCapture(keep), StreamCapture(keep)]
        for stream, data in zip(streams, (stdout, stderr), strict=True):
            for start in range(0, len(data), 65536):  # in pipe-sized pieces
                stream.feed(data[start : start + 65536])
        (out, out_gap), (err, err_gap) = (stream.result() for stream in streams)
        return ExecResult(exit_code, out, err, stdout_gap=out_gap, stderr_gap=err_gap)

    async def aclose(self) -> None:
        self.closed = True

    def _make_folders(self, folder: str) -> None:
        while folder not in self.folders:
            self.folders.add(folder)
            folder = posixpath.dirname(folder)

    def _children(self, folder: str) -> list[str]:
        paths = self.folders | set(self.files)
        names = {
            posixpath.basename(p) for p in paths if p != folder and posixpath.dirname(p) == folder
        }
        visible = sorted(n for n in names if not n.startswith(".") and n != "node_modules")
        return [posixpath.join(folder, name) for name in visible]

    def _entry(self, path: str, root: str) -> str:
        relative = posixpath.relpath(path, root)
        return f"{relative}/" if path in self.folders else relative
