"""The local backend: the four skill tools run with bash and files on this machine.

For development and trusted skills: nothing is sandboxed. ``LocalWorkspace`` is the
workspace seam on the host, under the shared ``WorkspaceTools`` dispatcher. Each
command runs in its own process group (``start_new_session``) so that a timeout or a
Jupyter interrupt kills it together with everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import ClassVar

from ..errors import BackendError
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from ..tools.output import StreamCapture
from ..tools.schemas import check_tool_input
from ..tools.values import ExecResult
from ..tools.workspace import PathInfo, WorkspaceTools
from .base import ExecutorBackend, ExecutorSession, SessionOptions
from .settings import Setting

__all__ = ["LocalBackend", "LocalSession", "LocalWorkspace", "check_tool_input", "host_workdir"]

_KILL_GRACE = 1.0
"""Seconds between SIGTERM and SIGKILL, and after SIGKILL before the pipes are closed anyway."""


class LocalWorkspace:
    """The ``Workspace`` on this machine: host paths resolved against ``workdir``, and
    bash with one process group per command.

    File operations are plain blocking calls: on a local disk they take microseconds,
    less than a hop to a worker thread would.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._process_groups: set[int] = set()
        self._closed = False

    def resolve(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.workdir, os.path.expanduser(path)))

    async def stat(self, path: str) -> PathInfo:
        try:
            info = os.stat(self.resolve(path))
        except (FileNotFoundError, NotADirectoryError):
            return PathInfo("missing")
        if S_ISDIR(info.st_mode):
            return PathInfo("directory", info.st_size)
        return PathInfo("file" if S_ISREG(info.st_mode) else "other", info.st_size)

    async def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        with open(self.resolve(path), "rb") as file:
            file.seek(start)
            return file.read(-1 if end is None else max(end - start, 0))

    async def write(self, path: str, data: bytes) -> bool:
        target = Path(self.resolve(path))
        existed = target.exists()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return existed

    async def list_dir(self, path: str) -> list[str]:
        root = Path(self.resolve(path))
        entries: list[str] = []
        for child in _visible_children(root):
            entries.append(_entry_name(child, root))
            if child.is_dir():
                entries += [
                    _entry_name(grandchild, root) for grandchild in _visible_children(child)
                ]
        return entries

    async def exec(self, command: str, *, timeout: float, keep: int) -> ExecResult:
        """Run ``command`` in a new process group; kill the group on timeout or cancel."""
        transport, capture = await _start(command, self.workdir, keep)
        group = transport.get_pid()
        self._process_groups.add(group)
        if self._closed:  # aclose ran while this command was starting, and could not see it
            _signal_group(group, signal.SIGKILL)
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(capture.finished), timeout)
        except asyncio.TimeoutError:
            timed_out = True
            await _stop(group, capture.finished)
        except asyncio.CancelledError:
            await _stop(group, capture.finished)
            raise
        finally:
            self._process_groups.discard(group)
            transport.close()
        exit_code = transport.get_returncode()
        stdout, stdout_gap = capture.streams[1].result()
        stderr, stderr_gap = capture.streams[2].result()
        return ExecResult(
            -signal.SIGKILL if exit_code is None else exit_code,
            stdout,
            stderr,
            timed_out,
            stdout_gap=stdout_gap,
            stderr_gap=stderr_gap,
        )

    async def aclose(self) -> None:
        """Kill every command still running, with everything it started."""
        self._closed = True
        for group in list(self._process_groups):
            _signal_group(group, signal.SIGKILL)


def _visible_children(folder: Path) -> list[Path]:
    try:
        children = list(folder.iterdir())
    except OSError:  # an unreadable folder is listed but not entered
        return []
    visible = (c for c in children if not c.name.startswith(".") and c.name != "node_modules")
    return sorted(visible, key=lambda child: child.name)


def _entry_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root).as_posix()
    return f"{relative}/" if path.is_dir() else relative


async def _start(
    command: str, workdir: Path, keep: int
) -> tuple[asyncio.SubprocessTransport, _Capture]:
    """Start ``bash -c command``; an interrupt during start-up lets it start, then kills it.

    ``loop.subprocess_exec`` rather than ``create_subprocess_exec`` (which wraps it): its
    transport can be closed, freeing the pipes when a process that left the group
    (``setsid``) still holds them. Start-up is shielded because a cancelled
    ``subprocess_exec`` kills bash alone and then waits for its children to close the pipes.
    """
    starting = asyncio.ensure_future(
        asyncio.get_running_loop().subprocess_exec(
            lambda: _Capture(keep),
            "bash",
            "-c",
            command,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    )
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        transport, capture = await starting
        await _stop(transport.get_pid(), capture.finished)
        transport.close()
        raise


class _Capture(asyncio.SubprocessProtocol):
    """Collects a command's output, each stream capped as it arrives; ``finished`` resolves
    once the command exited and its pipes closed."""

    def __init__(self, keep: int) -> None:
        self.streams = {1: StreamCapture(keep), 2: StreamCapture(keep)}
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.streams[fd].feed(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


async def _stop(group: int, finished: asyncio.Future[None]) -> None:
    """SIGTERM the group, then SIGKILL whatever is left after a grace period."""
    _signal_group(group, signal.SIGTERM)
    try:
        await _wait_briefly(finished)
    finally:  # even when a second interrupt cuts the grace period short
        _signal_group(group, signal.SIGKILL)
    await _wait_briefly(finished)


async def _wait_briefly(finished: asyncio.Future[None]) -> None:
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.shield(finished), _KILL_GRACE)


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


@dataclass(kw_only=True)
class LocalSession(ExecutorSession):
    """One conversation's working directory and executor on this machine."""

    backend_type: str = "local"
    timeout: float = 300.0

    def describe(self) -> str:
        return f"local: bash on this machine in {self.workdir} (timeout={self.timeout:g} s)"


class LocalBackend(ExecutorBackend):
    """Runs tools on the host; the seed's local backend."""

    backend_type: ClassVar[str] = "local"
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "workdir", str, "", "folder the tools work in; empty: the kernel's working directory"
        ),
        Setting("timeout", float, 300.0, "seconds before one tool call is killed", positive=True),
    )

    async def open_session(self, skills: Sequence[Skill], options: SessionOptions) -> LocalSession:
        workdir = host_workdir(options.settings.get("workdir"))
        timeout = float(options.settings.get("timeout", 300.0))
        executor = WorkspaceTools(
            LocalWorkspace(workdir), timeout=timeout, max_output_chars=options.max_output_chars
        )
        environment = (
            "Your tools run bash commands and view and edit files on the user's machine, "
            f"in the working directory {workdir}."
        )
        system_prompt = render_system_prompt(
            skills, location=lambda skill: str(skill.skill_md), environment=environment
        )
        return LocalSession(
            workdir=workdir,
            timeout=timeout,
            skills=tuple(skills),
            executor=executor,
            system_prompt=system_prompt,
        )


def host_workdir(setting: str | None) -> Path:
    """The working folder a ``workdir`` setting names (the cwd when empty); it must exist."""
    workdir = Path(setting or Path.cwd()).expanduser().absolute()
    if not workdir.is_dir():
        raise BackendError(
            f"the working directory {workdir} does not exist or is not a folder",
            hint="create it, or choose an existing folder as the working directory",
        )
    return workdir
