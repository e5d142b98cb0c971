"""The workspace seam on this machine: host paths resolved against the working folder,
and bash with one process group per command, in bubblewrap unless ``sandbox=off``.

Split from local.py, which opens the session (settings, sandbox, system prompt): this is
what a tool call does on the host. A call ends when bash does: what it started in the
background (a dev server) runs on in its group until the workspace closes. Commands see
the kernel's environment without its secrets.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path

from ..clients.base import CREDENTIAL_ENV_VARS
from ..tools.call_watch import UNWATCHED, CallWatch
from ..tools.confined import Confined, Mount
from ..tools.values import ExecResult
from ..tools.workspace import PathInfo
from .bwrap import START_TRIES, Sandbox, did_not_start
from .process_groups import (
    SETTLE,
    CommandCapture,
    StatusPipe,
    group_processes,
    settle,
    signal_group,
    start_command,
    stop_group,
)

__all__ = ["LocalWorkspace"]


class LocalWorkspace:
    """The ``Workspace`` on this machine: host paths resolved against ``workdir``, and
    bash with one process group per command.

    File operations are plain blocking calls: on a local disk they take microseconds,
    less than a hop to a worker thread would. They keep to ``mounts`` (a sandbox's
    view of the host; the whole host, writable, when None), resolved and opened in
    one step (``tools.confined``). Commands run without the environment
    variables named in ``secret_env_vars`` (a live set, read at each command) or the kernel's
    API credentials, except those named in ``pass_env``.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        secret_env_vars: AbstractSet[str] = frozenset(),
        pass_env: AbstractSet[str] = frozenset(),
        mounts: Sequence[Mount] | None = None,
        sandbox: Sandbox | None = None,
    ) -> None:
        self.workdir = workdir
        self.sandbox = sandbox
        """Where commands run (None: straight on the host); its private /tmp goes at aclose."""
        self.files = Confined([Mount("/", Path("/"), True)] if mounts is None else mounts)
        self.secret_env_vars = secret_env_vars
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

    # the host's files: nothing here for a call's watch to hear

    async def stat(self, path: str, *, watch: CallWatch = UNWATCHED) -> PathInfo:
        return self.files.stat(self.resolve(path))

    async def read(
        self, path: str, start: int = 0, end: int | None = None, *, watch: CallWatch = UNWATCHED
    ) -> bytes:
        return self.files.read(self.resolve(path), start, end)

    async def write(self, path: str, data: bytes, *, watch: CallWatch = UNWATCHED) -> bool:
        return self.files.write(self.resolve(path), data)

    async def list_dir(self, path: str, *, watch: CallWatch = UNWATCHED) -> list[str]:
        return self.files.list_dir(self.resolve(path))

    async def exec(
        self, command: str, *, timeout: float, keep: int, watch: CallWatch = UNWATCHED
    ) -> ExecResult:
        """Run ``command`` in a new process group until bash exits.

        The group is killed on timeout or cancel. Processes the command left running in
        it outlive the call: the result lists them, their output is read and dropped (so
        a server that logs neither blocks on a full pipe nor dies of SIGPIPE), and
        ``aclose`` kills them. In the sandbox the call ends when the command's bash reports
        its exit status (see ``bwrap``): bwrap stays for what it left running.
        """
        self._forget_ended_groups()
        if self.sandbox is None:
            return await self._run(command, timeout, keep, None, watch)
        for _ in range(START_TRIES):
            with StatusPipe() as status:
                result = await self._run(command, timeout, keep, status, watch)
            if status.code is not None or not did_not_start(result):
                break
        return result

    async def _run(
        self,
        command: str,
        timeout: float,
        keep: int,
        status: StatusPipe | None,
        watch: CallWatch,
    ) -> ExecResult:
        argv = ["bash", "-c", command]
        if self.sandbox is not None and status is not None:  # one goes with the other
            argv = self.sandbox.argv(command, status.write_fd)
        transport, capture = await start_command(
            argv, self.workdir, self._environment(), keep, status, watch
        )
        group = transport.get_pid()
        self._running.add(group)
        if self._closed:  # aclose ran while this command was starting, and could not see it
            signal_group(group, signal.SIGKILL)
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.shield(capture.exited), timeout)
            if self.sandbox is None:
                await settle(group, capture.finished)
            else:  # bwrap ends once nothing of the command's runs on (see bwrap)
                await asyncio.wait([capture.finished], timeout=SETTLE)
        except asyncio.TimeoutError:
            timed_out = True
            await stop_group(group, capture.finished)
        except BaseException:  # cancelled, or an unforeseen fault: nothing may outlive it
            await stop_group(group, capture.finished)
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
            signal_group(group, signal.SIGKILL)
        alive = group_processes(self._background)
        for group, transport in self._background.items():
            if group in alive:  # a group that ended may have passed its number on
                signal_group(group, signal.SIGKILL)
            transport.close()
        self._background.clear()
        if self.sandbox is not None:
            shutil.rmtree(self.sandbox.tmp, ignore_errors=True)

    def _hidden(self, command_line: str) -> bool:
        """Whether a process is the sandbox's own (bwrap, its wrapper), not the command's."""
        return self.sandbox is not None and self.sandbox.is_machinery(command_line)

    def _left_running(self, group: int, capture: CommandCapture) -> list[tuple[int, str]]:
        """What the command left running; none once a sandbox ended (it waits for them)."""
        if self.sandbox is not None and capture.finished.done():
            return []
        return group_processes([group], self._hidden).get(group, [])

    def _environment(self) -> dict[str, str]:
        """The kernel's environment less the secrets, read now: both may have changed."""
        return {
            name: value
            for name, value in os.environ.items()
            if name in self.pass_env
            or not (name in CREDENTIAL_ENV_VARS or name in self.secret_env_vars)
        }

    def _forget_ended_groups(self) -> None:
        """Drop background groups whose processes all ended, closing their transports:
        once a group has ended, its number may go to someone else's group."""
        alive = group_processes(self._background, self._hidden)  # closing ends the sandbox
        for group in [group for group in self._background if group not in alive]:
            self._background.pop(group).close()
