"""The local backend: the four skill tools run with bash and files on this machine.

Commands run in a bubblewrap sandbox (``bwrap``: the host read-only but the workspace
and a private ``/tmp``, no network, their own processes) and the file tools keep to the
same mounts; ``sandbox=off`` runs them straight on the host, for trusted skills, with a
warning. ``LocalWorkspace`` is the workspace seam on the host, under the shared
``WorkspaceTools`` dispatcher. Each
command runs in its own process group (``start_new_session``) so that a timeout or a
Jupyter interrupt kills it together with everything it started. A call ends when bash
does: what it started in the background (a dev server) runs on in that group until the
workspace closes. Commands see the kernel's environment without its secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..clients.base import CREDENTIAL_ENV_VARS
from ..errors import BackendError
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from ..tools.confined import Confined, Mount
from ..tools.live_output import OutputEcho
from ..tools.output import StreamCapture
from ..tools.schemas import check_tool_input
from ..tools.values import ExecResult
from ..tools.workspace import PathInfo, WorkspaceTools
from .base import ExecutorBackend, ExecutorSession, SessionOptions
from .bwrap import START_TRIES, Sandbox, did_not_start, private_tmp, sandbox_for
from .gate import PermissionMode
from .host_versions import describe_programs, host_versions
from .settings import Setting

__all__ = ["LocalBackend", "LocalSession", "LocalWorkspace", "check_tool_input", "host_workdir"]

_KILL_GRACE = 1.0
"""Seconds between SIGTERM and SIGKILL, and after SIGKILL before the pipes are closed anyway."""
_SETTLE = 0.2
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


class LocalWorkspace:
    """The ``Workspace`` on this machine: host paths resolved against ``workdir``, and
    bash with one process group per command.

    File operations are plain blocking calls: on a local disk they take microseconds,
    less than a hop to a worker thread would. They keep to ``mounts`` (a sandbox's
    view of the host; the whole host, writable, when None), resolved and opened in
    one step (``tools.confined``). Commands run without the environment
    variables named in ``hidden_env`` (a live set, read at each command) or the kernel's
    API credentials, except those named in ``pass_env``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        hidden_env: AbstractSet[str] = frozenset(),
        pass_env: AbstractSet[str] = frozenset(),
        mounts: Sequence[Mount] | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.workdir = workdir
        self.sandbox = sandbox
        """Where commands run (None: straight on the host); its private /tmp goes at aclose."""
        self.files = Confined([Mount("/", Path("/"), True)] if mounts is None else mounts)
        self.hidden_env = hidden_env
        self.pass_env = pass_env
        self._running: set[int] = set()
        self._background: dict[int, asyncio.SubprocessTransport] = {}
        """Process groups of finished commands that left processes running, with their
        transports, which keep reading (and dropping) those processes' output."""
        self._closed = False

    def resolve(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.workdir, os.path.expanduser(path)))

    def leads_to(self, path: str) -> str:
        return self.files.leads_to(self.resolve(path))

    async def stat(self, path: str) -> PathInfo:
        return self.files.stat(self.resolve(path))

    async def read(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        return self.files.read(self.resolve(path), start, end)

    async def write(self, path: str, data: bytes) -> bool:
        return self.files.write(self.resolve(path), data)

    async def list_dir(self, path: str) -> list[str]:
        return self.files.list_dir(self.resolve(path))

    async def exec(self, command: str, *, timeout: float, keep: int) -> ExecResult:
        """Run ``command`` in a new process group until bash exits.

        The group is killed on timeout or cancel. Processes the command left running in
        it outlive the call: the result lists them, their output is read and dropped (so
        a server that logs neither blocks on a full pipe nor dies of SIGPIPE), and
        ``aclose`` kills them. In the sandbox the call ends when the command's bash reports
        its exit status (see ``bwrap``): bwrap stays for what it left running.
        """
        self._forget_ended_groups()
        if self.sandbox is None:
            return await self._run(command, timeout, keep, None)
        for _ in range(START_TRIES):
            with _StatusPipe() as status:
                result = await self._run(command, timeout, keep, status)
            if status.code is not None or not did_not_start(result):
                break
        return result

    async def _run(
        self, command: str, timeout: float, keep: int, status: _StatusPipe | None
    ) -> ExecResult:
        argv = ["bash", "-c", command]
        if self.sandbox is not None and status is not None:  # one goes with the other
            argv = self.sandbox.argv(command, status.write_fd)
        transport, capture = await _start(argv, self.workdir, self._environment(), keep, status)
        group = transport.get_pid()
        self._running.add(group)
        if self._closed:  # aclose ran while this command was starting, and could not see it
            _signal_group(group, signal.SIGKILL)
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(capture.exited), timeout)
            if self.sandbox is None:
                await _settle(group, capture.finished)
            else:  # bwrap ends once nothing of the command's runs on (see bwrap)
                await asyncio.wait([capture.finished], timeout=_SETTLE)
        except asyncio.TimeoutError:
            timed_out = True
            await _stop(group, capture.finished)
        except BaseException:  # cancelled, or an unforeseen fault: nothing may outlive it
            await _stop(group, capture.finished)
            transport.close()
            raise
        finally:
            self._running.discard(group)
        exit_code = status.code if status is not None else None
        exit_code = transport.get_returncode() if exit_code is None else exit_code
        stdout, stdout_gap = capture.streams[1].result()
        stderr, stderr_gap = capture.streams[2].result()
        left = [] if timed_out or self._closed else self._left_running(group, capture)
        if left:
            capture.drop_output()
            self._background[group] = transport
        else:  # also frees pipes still held by a process that left the group (setsid)
            transport.close()
        return ExecResult(
            -signal.SIGKILL if exit_code is None else exit_code,
            stdout,
            stderr,
            timed_out,
            stdout_gap=stdout_gap,
            stderr_gap=stderr_gap,
            background=tuple(left),
        )

    async def aclose(self) -> None:
        """Kill every command still running and every process one left in the background,
        each with its whole process group; then remove the sandbox's private ``/tmp``."""
        self._closed = True
        for group in self._running:
            _signal_group(group, signal.SIGKILL)
        alive = _group_processes(self._background)
        for group, transport in self._background.items():
            if group in alive:  # a group that ended may have passed its number on
                _signal_group(group, signal.SIGKILL)
            transport.close()
        self._background.clear()
        if self.sandbox is not None:
            shutil.rmtree(self.sandbox.tmp, ignore_errors=True)

    def _hidden(self, command_line: str) -> bool:
        """Whether a process is the sandbox's own (bwrap, its wrapper), not the command's."""
        return self.sandbox is not None and self.sandbox.is_machinery(command_line)

    def _left_running(self, group: int, capture: _Capture) -> list[tuple[int, str]]:
        """What the command left running; none once a sandbox ended (it waits for them)."""
        if self.sandbox is not None and capture.finished.done():
            return []
        return _group_processes([group], self._hidden).get(group, [])

    def _environment(self) -> dict[str, str]:
        """The kernel's environment less the secrets, read now: both may have changed."""
        return {
            name: value
            for name, value in os.environ.items()
            if name in self.pass_env or not (name in CREDENTIAL_ENV_VARS or name in self.hidden_env)
        }

    def _forget_ended_groups(self) -> None:
        """Drop background groups whose processes all ended, closing their transports:
        once a group has ended, its number may go to someone else's group."""
        alive = _group_processes(self._background, self._hidden)  # closing ends the sandbox
        for group in [group for group in self._background if group not in alive]:
            self._background.pop(group).close()


async def _start(
    argv: list[str],
    workdir: Path,
    environment: dict[str, str],
    keep: int,
    status: _StatusPipe | None = None,
) -> tuple[asyncio.SubprocessTransport, _Capture]:
    """Start ``argv`` (bash, or bwrap and bash); an interrupt during start-up lets it
    start, then kills it. A sandbox gets the write end of ``status``.

    ``loop.subprocess_exec`` rather than ``create_subprocess_exec`` (which wraps it): its
    transport can be closed, freeing the pipes when a process that left the group
    (``setsid``) still holds them. Start-up is shielded because a cancelled
    ``subprocess_exec`` kills bash alone and then waits for its children to close the pipes.
    """
    starting = asyncio.ensure_future(
        asyncio.get_running_loop().subprocess_exec(
            lambda: _Capture(keep),
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
        await _stop(transport.get_pid(), capture.finished)
        transport.close()
        raise
    if status is not None:
        status.listen(capture.exited)
    return transport, capture


class _StatusPipe:
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

    def __enter__(self) -> _StatusPipe:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop_listening()
        for fd in (self.read_fd, self.write_fd):
            if fd >= 0:
                os.close(fd)


class _Capture(asyncio.SubprocessProtocol):
    """Collects a command's output, each stream capped as it arrives.

    ``exited`` resolves when bash exits; ``finished`` once its pipes closed too, which
    a process it left in the background delays for as long as that process runs.
    """

    def __init__(self, keep: int) -> None:
        self.streams = {1: StreamCapture(keep), 2: StreamCapture(keep)}
        self.echo = OutputEcho()  # made in the call's task: it finds the call's listener
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


async def _settle(group: int, finished: asyncio.Future[None]) -> None:
    """Wait up to ``_SETTLE`` seconds for the pipes to close and the group to empty after
    bash exited, so that short leftovers end inside the call, with their output.

    This is also the drain: what the command itself printed is in the pipes when bash
    exits, and the loop reads it (and hands it on) before this wait returns, even when
    a background process holds the pipes open.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE
    while (left := deadline - loop.time()) > 0:
        if not finished.done():
            await asyncio.wait([finished], timeout=left)
        elif _group_processes([group]):
            await asyncio.sleep(min(left, _SETTLE_POLL))
        else:
            return


def _group_processes(
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
    pass_env: tuple[str, ...] = ()
    sandbox: Sandbox | None = None

    def describe(self) -> str:
        passed = f", pass_env={','.join(self.pass_env)}" if self.pass_env else ""
        settings = f"timeout={self.timeout:g} s{passed}"
        if self.sandbox is None:
            where = f"local: bash on this machine in {self.workdir} ({settings}, sandbox=off)"
            return f"{where}\n{UNSANDBOXED}"
        network = "on" if self.sandbox.network else "off"
        return "\n".join(
            [
                f"local: bash in a bubblewrap sandbox on this machine, in {self.workdir} "
                f"({settings}, network={network})",
                *self.sandbox.describe(),
            ]
        )


UNSANDBOXED = (
    "warning: no sandbox (sandbox=off): the tools read and write whatever you can, reach the "
    "network, and what they start can outlive the kernel"
)


class LocalBackend(ExecutorBackend):
    """Runs tools on this machine, in a bubblewrap sandbox unless sandbox=off."""

    backend_type: ClassVar[str] = "local"
    permission_mode: ClassVar[PermissionMode] = "auto"
    """With the default settings (sandbox on, network off) the sandbox is the safeguard,
    as docker's is; see ``permission_mode_for``."""
    settings: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "workdir", str, "", "folder the tools work in; empty: the kernel's working directory"
        ),
        Setting("timeout", float, 300.0, "seconds before one tool call is killed", positive=True),
        Setting(
            "pass_env",
            str,
            "",
            "comma-separated environment variables the tools may see even though they are secret",
        ),
        Setting(
            "sandbox",
            str,
            "on",
            "run commands in bubblewrap (off: straight on this machine, for trusted skills)",
            choices=("on", "off"),
        ),
        Setting("network", str, "off", "network access from the sandbox", choices=("off", "on")),
    )

    def permission_mode_for(self, settings: Mapping[str, Any]) -> PermissionMode:
        """``auto`` in a sandbox without network: a command reaches only the workspace and
        its own ``/tmp``. ``ask`` otherwise: without a sandbox the tools touch the whole
        machine, and with the network a command could send the workspace anywhere."""
        sandboxed = settings.get("sandbox", "on") == "on"
        return "auto" if sandboxed and settings.get("network", "off") == "off" else "ask"

    async def open_session(self, skills: Sequence[Skill], options: SessionOptions) -> LocalSession:
        workdir = host_workdir(options.settings.get("workdir"))
        timeout = float(options.settings.get("timeout", 300.0))
        names = {name.strip() for name in options.settings.get("pass_env", "").split(",")}
        pass_env = tuple(sorted(names - {""}))
        sandbox = None
        if options.settings.get("sandbox", "on") == "on":
            network = options.settings.get("network", "off") == "on"
            # the skills and the kernel's own Python stay visible where /tmp would hide them
            shown = [skill.root for skill in skills] + [Path(sys.prefix), Path(sys.base_prefix)]
            sandbox = await _open_sandbox(workdir, shown, network)
        workspace = LocalWorkspace(
            workdir,
            hidden_env=options.hidden_env,
            pass_env=frozenset(pass_env),
            mounts=None if sandbox is None else sandbox.mounts(),
            sandbox=sandbox,
        )
        executor = WorkspaceTools(
            workspace, timeout=timeout, max_output_chars=options.max_output_chars
        )
        versions = await asyncio.to_thread(host_versions)
        system_prompt = render_system_prompt(
            skills,
            location=lambda skill: str(skill.skill_md),
            environment=f"{_environment(workdir, sandbox)} {describe_programs(versions)}",
        )
        return LocalSession(
            workdir=workdir,
            timeout=timeout,
            pass_env=pass_env,
            sandbox=sandbox,
            skills=tuple(skills),
            executor=executor,
            system_prompt=system_prompt,
            notices=[UNSANDBOXED] if sandbox is None else [],  # said by the first turn
            leads_to=workspace.leads_to,
            environment=versions,
        )


async def _open_sandbox(workdir: Path, skills: Sequence[Path], network: bool) -> Sandbox:
    """The session's sandbox with its private ``/tmp``, checked by starting it once."""
    tmp = private_tmp()
    try:
        sandbox = sandbox_for(workdir, tmp, skills=skills, network=network)
        await sandbox.probe()
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return sandbox


def _environment(workdir: Path, sandbox: Sandbox | None) -> str:
    """What the system prompt tells Claude about where its tools run."""
    where = (
        "Your tools run bash commands and view and edit files on the user's machine, "
        f"in the working directory {workdir}."
    )
    if sandbox is None:
        return where
    network = "" if sandbox.network else " There is no network."
    return (
        f"{where} They run in a sandbox: only the working directory and /tmp are writable, "
        f"the rest of the machine is read-only.{network}"
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
