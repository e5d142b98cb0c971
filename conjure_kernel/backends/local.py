"""The local backend: the four skill tools run with bash and files on this machine.

For development and trusted skills: nothing is sandboxed. Each command runs in its
own process group (``start_new_session``) so that a timeout or a Jupyter interrupt
kills it together with everything it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import BackendError
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from ..tools.files import replace_once, view_path, write_file
from ..tools.output import format_exec_result, truncate_output
from ..tools.schemas import SKILL_TOOLS, check_tool_input
from ..tools.values import ExecResult, ToolCall, ToolResult
from .base import ExecutorBackend, ExecutorSession, SessionOptions
from .settings import Setting

if TYPE_CHECKING:
    from anthropic.types import ToolParam

__all__ = ["LocalBackend", "LocalExecutor", "LocalSession", "check_tool_input", "host_workdir"]

_KILL_GRACE = 1.0
"""Seconds between SIGTERM and SIGKILL, and after SIGKILL before the pipes are closed anyway."""
_TOOLS_BY_NAME = {tool["name"]: tool for tool in SKILL_TOOLS}


class LocalExecutor:
    """Runs ``view``, ``bash_tool``, ``create_file`` and ``str_replace`` in ``workdir``."""

    def __init__(self, *, workdir: Path, timeout: float, max_output_chars: int) -> None:
        self.workdir = workdir
        self.timeout = timeout
        self.max_output_chars = max_output_chars
        self._process_groups: set[int] = set()
        self._file_tools: dict[str, Callable[[dict[str, Any]], str]] = {
            "view": self._view,
            "create_file": self._create_file,
            "str_replace": self._str_replace,
        }

    @property
    def tools(self) -> Sequence[ToolParam]:
        return SKILL_TOOLS

    async def run(self, call: ToolCall) -> ToolResult:
        """Run one call; bad input and file-system faults come back as error results."""
        tool = _TOOLS_BY_NAME.get(call.name)
        if tool is None:
            return ToolResult(call.id, f"unknown tool {call.name!r}", is_error=True)
        problem = check_tool_input(tool, call.input)
        if problem:
            return ToolResult(call.id, problem, is_error=True)
        try:
            if call.name == "bash_tool":
                return await self._bash(call)
            text = self._file_tools[call.name](call.input)
        except (OSError, ValueError) as error:
            return ToolResult(call.id, str(error), is_error=True)
        return ToolResult(call.id, truncate_output(text, self.max_output_chars))

    async def aclose(self) -> None:
        """Kill every command still running, with everything it started."""
        for group in list(self._process_groups):
            _signal_group(group, signal.SIGKILL)

    def _resolve(self, path: str) -> Path:
        return Path(os.path.normpath(self.workdir / Path(path).expanduser()))

    def _view(self, arguments: dict[str, Any]) -> str:
        return view_path(self._resolve(arguments["path"]), arguments.get("view_range"))

    def _create_file(self, arguments: dict[str, Any]) -> str:
        return write_file(self._resolve(arguments["path"]), arguments["file_text"])

    def _str_replace(self, arguments: dict[str, Any]) -> str:
        path = self._resolve(arguments["path"])
        return replace_once(path, arguments["old_str"], arguments.get("new_str") or "")

    async def _bash(self, call: ToolCall) -> ToolResult:
        result = await self._run_command(call.input["command"])
        return ToolResult(
            call.id,
            format_exec_result(result, self.max_output_chars, timeout=self.timeout),
            is_error=result.exit_code != 0 or result.timed_out,
            exit_code=result.exit_code,
        )

    async def _run_command(self, command: str) -> ExecResult:
        """Run ``command`` in a new process group; kill the group on timeout or cancel."""
        transport, capture = await _start(command, self.workdir)
        group = transport.get_pid()
        self._process_groups.add(group)
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(capture.finished), self.timeout)
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
        return ExecResult(
            -signal.SIGKILL if exit_code is None else exit_code,
            capture.text(1),
            capture.text(2),
            timed_out,
        )


async def _start(command: str, workdir: Path) -> tuple[asyncio.SubprocessTransport, _Capture]:
    """Start ``bash -c command``; an interrupt during start-up lets it start, then kills it.

    ``loop.subprocess_exec`` rather than ``create_subprocess_exec`` (which wraps it): its
    transport can be closed, freeing the pipes when a process that left the group
    (``setsid``) still holds them. Start-up is shielded because a cancelled
    ``subprocess_exec`` kills bash alone and then waits for its children to close the pipes.
    """
    starting = asyncio.ensure_future(
        asyncio.get_running_loop().subprocess_exec(
            _Capture,
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
    """Collects a command's output; ``finished`` resolves once it exited and its pipes closed."""

    def __init__(self) -> None:
        self.output = {1: bytearray(), 2: bytearray()}
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        self.output[fd] += data

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def text(self, fd: int) -> str:
        return self.output[fd].decode("utf-8", errors="replace")


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
        executor = LocalExecutor(
            workdir=workdir, timeout=timeout, max_output_chars=options.max_output_chars
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
