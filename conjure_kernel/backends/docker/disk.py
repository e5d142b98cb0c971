"""The workspace's disk limit (``disk=``), kept while the sandbox runs.

On a local engine the workspace is a host folder bind-mounted into the container, so no
engine quota applies to it. Two guards instead. No file can grow past the limit: the
container's ``fsize`` limit (``sandbox.py``) stops the writer at once. And a watcher
polls the free space of the workspace's file system (``statvfs``, a few microseconds):
only when the free space has dropped by more than what is left of the allowance since it
last looked does it measure what the workspace really grew by, since other programs on
this machine may be writing too. That measure is the size of the files, folders and
links created or changed in the workspace since the session began, plus files deleted
but still held open by a sandbox process; each counts at least one block, so a flood of
empty files counts as well. When it reaches the limit, the workspace says who to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

__all__ = ["DiskWatch"]

POLL = 0.1
"""Seconds between two looks at the free space, while the limit is far."""
_NEAR_POLL = 0.005
"""The least time between two looks, when the writes come close to the limit: so much is
written in a tenth of a second that the limit would be passed by tens of megabytes."""
_SLACK = 8 << 20
"""Bytes the free space may drop, once the workspace is at its limit, before it is measured
again: small writes (a cache file) by anything on this machine do not cost a walk each."""
_ENTRY = 4096
"""The least room a file, folder or link takes, in bytes: one block, however empty."""
_CLOCK_SLACK = 2.0
"""Seconds before the session's start from which a file counts as its: file systems keep
coarse times."""


class DiskWatch:
    """The growth of one session's workspace against its limit.

    ``held_open`` returns the files a sandbox process holds open after deleting them (an
    inode number and its size for each): no walk of the folder can see those.
    """

    def __init__(
        self,
        workdir: Path,
        limit: int,
        held_open: Callable[[], Awaitable[dict[int, int]]],
    ) -> None:
        self.workdir = workdir
        self.limit = limit
        self.grown = 0
        """What the workspace had grown by when it was last measured."""
        self.passed = 0
        """What it had grown by when it was last found past its limit."""
        self._held_open = held_open
        self._since = time.time() - _CLOCK_SLACK
        self._reference: tuple[int, int] | None = None
        """The free space when the workspace was last measured, or the session began:
        taken now, before any command can write."""
        with contextlib.suppress(OSError):  # the folder is made later: looked at then
            self._reference = _free(workdir)
        self._last = (0.0, 0)
        """When the free space was last looked at, and what the file system had lost then."""
        self.pause = POLL
        """How long the watcher waits before its next look."""
        self._lock = asyncio.Lock()

    async def check(self) -> bool:
        """Whether the workspace has just reached its limit while it grew: the writer
        must be stopped. Cheap unless the free space dropped by more than the allowance."""
        async with self._lock:
            now = await asyncio.to_thread(_free, self.workdir)
            if self._reference is None:
                self._reference = now
            lost, allowance = _cost(self._reference, now), max(self.limit - self.grown, _SLACK)
            self._pace(lost, allowance)
            if lost < allowance:  # a file stopped at the cap may lose exactly the allowance
                return False
            grown = await self._measure()
            reached = grown >= self.limit and grown > self.grown
            self.grown, self._reference, self._last = grown, now, (time.monotonic(), 0)
            if reached:
                self.passed = grown
            return reached

    def _pace(self, lost: int, allowance: int) -> None:
        """Look again sooner as the writes, at the rate they go, come close to the limit."""
        at, before = time.monotonic(), self._last
        rate = (lost - before[1]) / max(at - before[0], 1e-3)
        self._last = (at, lost)
        left = allowance - lost
        self.pause = POLL if rate <= 0 else min(POLL, max(_NEAR_POLL, left / rate / 2))

    async def watch(self, on_reached: Callable[[], Awaitable[None]]) -> None:
        """Check every ``POLL`` seconds, for as long as the sandbox lives (background
        processes write between commands too); call ``on_reached`` when it is time."""
        while True:
            await asyncio.sleep(self.pause)
            with contextlib.suppress(OSError):  # the folder went: nothing more to fill
                if await self.check():
                    await on_reached()

    async def _measure(self) -> int:
        seen, total = await asyncio.to_thread(_grown_files, self.workdir, self._since)
        if total >= self.limit:  # enough to stop the writer: no time for an exec
            return total
        held = await self._held_open()
        return total + sum(max(size, _ENTRY) for inode, size in held.items() if inode not in seen)


def _free(path: Path) -> tuple[int, int]:
    """Free bytes and free inodes of the file system holding ``path``."""
    found = os.statvfs(path)
    return found.f_bfree * found.f_frsize, found.f_ffree


def _cost(before: tuple[int, int], after: tuple[int, int]) -> int:
    """What the file system lost between two looks, each inode counting as a block."""
    return (before[0] - after[0]) + (before[1] - after[1]) * _ENTRY


def _grown_files(workdir: Path, since: float) -> tuple[set[int], int]:
    """The inodes under ``workdir`` (on its file system) changed since ``since``, and the
    room they take: hard links count once, and an entry at least one block.

    The change time (``ctime``) is the kernel's: a program can set a file's modification
    time back, but not that one.
    """
    device = os.stat(workdir).st_dev
    seen: set[int] = set()
    total = 0
    folders = [str(workdir)]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:  # removed or unreadable meanwhile
            continue
        for entry in entries:
            try:
                found = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if found.st_dev != device:
                continue
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)
            if found.st_ctime >= since and found.st_ino not in seen:
                seen.add(found.st_ino)
                total += max(found.st_blocks * 512, _ENTRY)
    return seen, total
