"""Commands in process groups of their own on this machine: start one, capture its output,
let it settle, stop it with everything it started, and list what a group still runs.

Split from local.py: the local workspace decides what runs and when a call ends; this is
how a process group is started, watched and ended (``start_new_session``, so a timeout
or a Jupyter interrupt kills a command together with everything it started).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Collection
from pathlib import Path

from ..tools.call_watch import UNWATCHED, CallWatch, OutputEcho
from ..tools.output import StreamCapture

__all__ = [
    "SETTLE",
    "CommandCapture",
    "StatusPipe",
    "group_processes",
    "settle",
    "signal_group",
    "start_command",
    "stop_group",
]

_KILL_GRACE = 1.0
"""Seconds between SIGTERM and SIGKILL, and after SIGKILL before the pipes are closed anyway."""
SETTLE = 0.2
"""Seconds the processes a command leaves behind get to end before they count as running
in the background: bash does not wait for a process substitution or a short ``&`` job."""
_SETTLE_POLL = 0.01
"""Seconds between looks at the process group while it settles; a process may close its
output (``cat`` does) a moment before it ends."""
_PROC = Path("/proc")
"""Where Linux lists processes; elsewhere ``ps`` does."""


def _hide_none(command_line: str) -> bool:
    """Hides no process."""
    return False


async def start_command(
    argv: list[str],
    workdir: Path,
    environment: dict[str, str],
    keep: int,
    status: StatusPipe | None = None,
    watch: CallWatch = UNWATCHED,
) -> tuple[asyncio.SubprocessTransport, CommandCapture]:
    """Start ``argv`` (bash, or bwrap and bash); an interrupt during start-up lets it
    start, then kills it. A sandbox gets the write end of ``status``; what the command
    prints goes to ``watch`` as it arrives.

    ``loop.subprocess_exec`` rather than ``create_subprocess_exec`` (which wraps it): its
    transport can be closed, freeing the pipes when a process that left the group
    (``setsid``) still holds them. Start-up is shielded because a cancelled
    ``subprocess_exec`` kills bash alone and then waits for its children to close the pipes.
    """
    starting = asyncio.ensure_future(
        asyncio.get_running_loop().subprocess_exec(
            lambda: CommandCapture(keep, watch),
            *argv,
            cwd=workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=() if status is None else (status.write_fd,),
        )
    )
    try:
        transport, capture = await asyncio.shield(starting)
    except asyncio.CancelledError:
        transport, capture = await starting
        await stop_group(transport.get_pid(), capture.finished)
        transport.close()
        raise
    if status is not None:
        status.listen(capture.exited)
    return transport, capture


class StatusPipe:
    """Where a sandboxed command's bash reports its exit status, which ends the call while
    bwrap runs on for what the command left running. Closing it closes both ends."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.code: int | None = None
        self._said = b""
        self._loop: asyncio.AbstractEventLoop | None = None

    def listen(self, exited: asyncio.Future[None]) -> None:
        """Keep the read end only (the sandbox has the other); the status resolves ``exited``."""
        os.close(self.write_fd)
        self.write_fd = -1
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.read_fd, self._read, exited)

    def _read(self, exited: asyncio.Future[None]) -> None:
        chunk = os.read(self.read_fd, 64)
        self._said += chunk
        if chunk and not self._said.endswith(b"\n"):
            return
        self._stop_listening()
        with contextlib.suppress(ValueError):  # none: bwrap failed, its exit ends the call
            self.code = int(self._said)
            if not exited.done():
                exited.set_result(None)

    def _stop_listening(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self.read_fd)
            self._loop = None

    def __enter__(self) -> StatusPipe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop_listening()
        for fd in (self.read_fd, self.write_fd):
            if fd >= 0:
                os.close(fd)


class CommandCapture(asyncio.SubprocessProtocol):
    """Collects a command's output, each stream capped as it arrives.

    ``exited`` resolves when bash exits; ``finished`` once its pipes closed too, which
    a process it left in the background delays for as long as that process runs.
    """

    def __init__(self, keep: int, watch: CallWatch = UNWATCHED) -> None:
        self.streams = {1: StreamCapture(keep), 2: StreamCapture(keep)}
        self.echo = OutputEcho(watch)
        loop = asyncio.get_running_loop()
        self.exited: asyncio.Future[None] = loop.create_future()
        self.finished: asyncio.Future[None] = loop.create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd in self.streams:
            self.streams[fd].feed(data)
            self.echo.feed(fd, data)

    def process_exited(self) -> None:
        if not self.exited.done():  # a sandbox's status may have come first
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def drop_output(self) -> None:
        """From now on read output only to drop it: the call that wanted it is over."""
        self.streams.clear()


async def settle(group: int, finished: asyncio.Future[None]) -> None:
    """Wait up to ``SETTLE`` seconds for the pipes to close and the group to empty after
    bash exited, so that short leftovers end inside the call, with their output.

    This is also the drain: what the command itself printed is in the pipes when bash
    exits, and the loop reads it (and hands it on) before this wait returns, even when
    a background process holds the pipes open.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SETTLE
    while (left := deadline - loop.time()) > 0:
        if not finished.done():
            await asyncio.wait([finished], timeout=left)
        elif group_processes([group]):
            await asyncio.sleep(min(left, _SETTLE_POLL))
        else:
            return


def group_processes(
    groups: Collection[int], hidden: Callable[[str], bool] = _hide_none
) -> dict[int, list[tuple[int, str]]]:
    """The live processes of each of ``groups`` that has any, as (pid, command line),
    without those ``hidden`` names by their command line (a sandbox's own).

    Zombies do not count: where nothing reaps orphans (a container without an init)
    they linger, though they run no more.
    """
    groups = {group for group in groups if _group_exists(group)}
    if not groups:  # the usual case, and it spares a scan of every process
        return {}
    found: dict[int, list[tuple[int, str]]] = {}
    for pid, group, state, command in _processes():
        if group in groups and not state.startswith("Z") and not hidden(command):
            found.setdefault(group, []).append((pid, command))
    return {group: sorted(processes) for group, processes in found.items()}


def _group_exists(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except (ProcessLookupError, PermissionError):  # PermissionError: the number was reused
        return False
    return True


def _processes() -> list[tuple[int, int, str, str]]:
    """Every process as (pid, process group, state, command line): from /proc on Linux,
    from ``ps`` where there is no /proc (macOS), which takes some milliseconds."""
    if not _PROC.is_dir():
        listing = subprocess.run(
            ["ps", "-A", "-o", "pid=,pgid=,stat=,args="], capture_output=True, text=True
        ).stdout
        rows = (line.split(None, 3) for line in listing.splitlines())
        return [(int(row[0]), int(row[1]), row[2], row[3]) for row in rows if len(row) == 4]
    processes = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, _parent, group = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").strip()
        except (OSError, ValueError):  # it ended while it was read
            continue
        if not command:  # exiting (its memory is gone already), or a kernel thread
            continue
        processes.append((int(entry.name), int(group), state, command.decode(errors="replace")))
    return processes


async def stop_group(group: int, finished: asyncio.Future[None]) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after a grace period."""
    signal_group(group, signal.SIGTERM)
    try:
        await _wait_briefly(finished)
    finally:  # even when a second interrupt cuts the grace period short
        signal_group(group, signal.SIGKILL)
    await _wait_briefly(finished)


async def _wait_briefly(finished: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(finished), _KILL_GRACE)


def signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)
