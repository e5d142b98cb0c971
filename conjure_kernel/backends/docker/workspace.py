"""The workspace seam inside a sandbox container.

Paths are the container's: the working directory is ``/workspace``, skills are under
``/mnt/skills``. On a local engine those two are host folders, so the file tools read
and write them directly (eight times faster than the archive API, and no container
needed); a path elsewhere (``/tmp``), or any path on a remote engine, goes through the
sandbox's shell. A host path is walked beneath its folder and opened in the same step
(``tools.confined``): a symbolic link the sandbox made, or swaps in while the kernel
works, is followed as the container would follow it, and one towards ``/etc`` leads to
the container's ``/etc`` through the shell, never to the host's.

Commands run in one persistent shell (``shell.py``). The container is created on first
use and created again if it dies; what happened reaches the person as notices to the
watch of the call it happened in (``tools.call_watch``), a file tool's as a command's.
File operations through the shell are ``shell_files.py``; a remote engine's copies of
the workspace, ``remote_copies.py``; a root kernel's file ownership, ``ownership.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import threading
import time

import docker

from ...tools.call_watch import UNWATCHED, CallWatch, OutputEcho
from ...tools.confined import Confined, Mount, OutsideMounts, inside
from ...tools.decisions import wants_fresh_shell
from ...tools.values import ExecResult
from ...tools.workspace import PathInfo
from .disk import DiskWatch
from .ownership import hand_back
from .remote_copies import CHANGED_ARCHIVE_COMMAND, STAMP_COMMAND, unpack_changes
from .sandbox import MemoryUse, Sandbox
from .sandbox_spec import HOME, SKILLS_ROOT, WORKSPACE, SandboxSpec, size_text
from .shell import ContainerShell, ShellEnded, ShellOutput, describe_status
from .shell_files import ShellFiles

__all__ = ["DockerWorkspace"]

_INTERNAL_TIMEOUT = 60.0
"""Seconds a file operation through the shell may take (a large file on a slow engine)."""
_STOP_NOTICE_WAIT = 0.5
"""Seconds to wait, once the shell is gone, for news that its container is gone too."""
_CLOCK_SLACK = 2.0
"""Seconds before a command's start from which a folder counts as changed by it: file
systems keep coarse times (some to the second)."""
_KEPT = "files in /workspace are kept, the shell's directory and variables are not"
"""What a new container keeps of the old one, for the notices."""


class DockerWorkspace:
    """The ``Workspace`` of one session's sandbox."""

    def __init__(self, client: docker.DockerClient, spec: SandboxSpec) -> None:
        self.client = client
        self.spec = spec
        self._unsaid: list[str] = []
        """Notices raised where no call watched (the command that readies the sandbox for
        a program): the next call's watch says them."""
        self._hand_back = not spec.remote and os.getuid() == 0
        self._files = Confined(
            [] if spec.remote else self._host_folders(), group_writable=self._hand_back
        )
        """The bind-mounted folders, for the file tools; none on a remote engine."""
        self._copies = Confined([Mount(WORKSPACE, spec.workdir, True)])
        """The host folder a remote engine's workspace volume is copied back into."""
        self._shell_files = ShellFiles(self._internal)
        """Paths the host mounts do not reach, through the sandbox's shell."""
        self._sandbox: Sandbox | None = None
        self._shell: ContainerShell | None = None
        self._lock = asyncio.Lock()
        disk = spec.disk_bytes
        self._disk = (
            None if spec.remote or not disk else DiskWatch(spec.workdir, disk, self._held_open)
        )
        """The disk limit, kept on a local engine (a remote one has only the per-file cap)."""
        self._watcher: asyncio.Task[None] | None = None
        self._running: asyncio.Event | None = None
        """Set to stop the command running now: the workspace passed its disk limit."""
        self._oom_kills = 0
        """The container's count of processes killed for memory, when last looked at."""
        self._stop_reason = ""
        """Why the kernel stopped the container itself, for the notice."""

    @property
    def container(self) -> str:
        """The running container's id; empty before the first command."""
        return self._sandbox.container if self._sandbox is not None else ""

    def _host_folders(self) -> list[Mount]:
        """The bind mounts: the workspace, and each skill read-only."""
        skills = [Mount(f"{SKILLS_ROOT}/{s.name}", s.root) for s in self.spec.skills]
        return [Mount(WORKSPACE, self.spec.workdir, True), *skills]

    def resolve(self, path: str) -> str:
        if path == "~" or path.startswith("~/"):
            path = HOME + path[1:]
        return posixpath.normpath(posixpath.join(WORKSPACE, path))

    def leads_to(self, path: str) -> str:
        return self._files.leads_to(self.resolve(path))

    # -- files ----------------------------------------------------------------------------

    async def stat(self, path: str, *, watch: CallWatch = UNWATCHED) -> PathInfo:
        watch = self._heard_by(watch)
        with contextlib.suppress(OutsideMounts):
            return self._files.stat(self.resolve(path))
        return await self._shell_files.stat(self.resolve(path), watch=watch)

    async def read(
        self, path: str, start: int = 0, end: int | None = None, *, watch: CallWatch = UNWATCHED
    ) -> bytes:
        watch = self._heard_by(watch)
        with contextlib.suppress(OutsideMounts):
            return self._files.read(self.resolve(path), start, end)
        return await self._shell_files.read(self.resolve(path), start, end, watch=watch)

    async def write(self, path: str, data: bytes, *, watch: CallWatch = UNWATCHED) -> bool:
        watch = self._heard_by(watch)
        target = self.resolve(path)
        with contextlib.suppress(OutsideMounts):
            return self._files.write(target, data)
        existed = await self._shell_files.write(target, data, watch=watch)
        if self.spec.remote and inside(target, WORKSPACE):
            try:
                self._copies.write(target, data)
            except OutsideMounts:
                raise OSError(
                    f"{target}: its copy on this machine would land outside {self.spec.workdir}"
                ) from None
        return existed

    async def list_dir(self, path: str, *, watch: CallWatch = UNWATCHED) -> list[str]:
        watch = self._heard_by(watch)
        with contextlib.suppress(OutsideMounts):
            return self._files.list_dir(self.resolve(path))
        return await self._shell_files.list_dir(self.resolve(path), watch=watch)

    def _heard_by(self, watch: CallWatch) -> CallWatch:
        """Who hears what happens to the sandbox during one operation: the call's watch,
        told first what an unwatched operation left unsaid; with no call watching (the
        command that readies the sandbox for a program), the next call that has a watch."""
        if watch is UNWATCHED:
            return _Later(self._unsaid)
        while self._unsaid:
            watch.notice(self._unsaid.pop(0))
        return watch

    # -- commands -------------------------------------------------------------------------

    async def exec(
        self, command: str, *, timeout: float, keep: int, watch: CallWatch = UNWATCHED
    ) -> ExecResult:
        """Run the command in the sandbox's shell; what happens to the sandbox meanwhile (a
        new container, a new shell, the disk limit) is said to ``watch`` as it happens."""
        echo = OutputEcho(watch)
        watch = self._heard_by(watch)
        if self.spec.remote:
            await self._internal(STAMP_COMMAND, watch=watch)  # what changed is copied back
        started = time.time()
        self._running = passed = asyncio.Event()
        try:
            shell, output = await self._run(command, timeout, keep, echo, passed, watch)
            if await self._disk_checked():  # the write that ended the command
                passed.set()
        except ShellEnded as error:  # not even a new container's shell starts
            raise OSError(str(error)) from None
        finally:
            self._running = None
        exit_code, why = output.exit_code, ""
        if exit_code is None:
            exit_code, why = await self._shell_ended(shell, watch)
        elif exit_code == 137 and not output.stopped:
            news = await self._memory_news()
            if news is not None and news.oom_kills:
                why = f"killed: the sandbox ran out of memory (memory={self.spec.memory})"
        if passed.is_set():
            why = self._disk_passed(watch)
        if self.spec.remote and self._sandbox is not None:  # also after `…; exit`
            await self._copy_back(watch)
        if self._hand_back:
            await asyncio.to_thread(hand_back, self.spec.workdir, started - _CLOCK_SLACK)
        return ExecResult(
            -9 if exit_code is None else exit_code,
            output.stdout,
            output.stderr + (f"\n{why}\n" if why else ""),
            output.stopped and not passed.is_set(),
            stdout_gap=output.stdout_gap,
            stderr_gap=output.stderr_gap,
            background=output.background,
        )

    async def _run(
        self,
        command: str,
        timeout: float,
        keep: int,
        echo: OutputEcho,
        stop: asyncio.Event,
        watch: CallWatch,
    ) -> tuple[ContainerShell, ShellOutput]:
        """Run a person's command, once more in a new shell if the old one was gone; in a
        shell of its own when its permission rules judged it as a new shell reads it."""
        shell = await self._ready(watch)
        if wants_fresh_shell() and self._sandbox is not None:
            fresh = await self._open_shell(self._sandbox)
            try:
                run = fresh.run(command, timeout=timeout, keep=keep, echo=echo, stop=stop)
                return fresh, await run
            finally:
                await fresh.aclose()
        try:
            return shell, await shell.run(command, timeout=timeout, keep=keep, echo=echo, stop=stop)
        except ShellEnded:  # gone before the command reached it
            await self._shell_ended(shell, watch)
        shell = await self._ready(watch)
        return shell, await shell.run(command, timeout=timeout, keep=keep, echo=echo, stop=stop)

    async def _disk_checked(self) -> bool:
        """Whether the workspace reached its limit since the watcher last looked."""
        if self._disk is None:
            return False
        with contextlib.suppress(OSError):  # the folder went: nothing more to fill
            return await self._disk.check()
        return False

    def _disk_passed(self, watch: CallWatch) -> str:
        """Tell the person that a command was stopped for disk; what Claude is told."""
        assert self._disk is not None
        limit = f"the workspace passed its disk limit of {self.spec.disk} (disk=), with "
        limit += f"{size_text(self._disk.passed)} written since the session began"
        watch.notice(
            f"a command was stopped: {limit}; files in /workspace are kept: delete some, or "
            "raise the limit with %backend docker disk=SIZE"
        )
        return f"stopped: {limit}; delete files to make room, or ask the user to raise disk="

    async def _internal(
        self,
        command: str,
        *,
        watch: CallWatch,
        data: bytes | None = None,
        raw_stdout: bytearray | None = None,
    ) -> ShellOutput:
        """A command of the workspace's own, in the sandbox's shell (a file operation, a
        remote engine's copies); what happens to the sandbox meanwhile is said to ``watch``."""
        shell = None
        try:
            shell = await self._ready(watch)
            return await shell.run(
                command,
                timeout=_INTERNAL_TIMEOUT,
                keep=64 * 1024,
                data=data,
                raw_stdout=raw_stdout,
            )
        except ShellEnded as error:
            if shell is not None:
                await self._shell_ended(shell, watch)
            raise OSError(f"{error}; try again") from None

    async def _ready(self, watch: CallWatch) -> ContainerShell:
        """The running shell: the container is made on first use, and made again if it died
        or if no shell starts in it any more (its memory still taken, say)."""
        async with self._lock:
            if self._shell is not None:
                if self._shell.alive:
                    return self._shell
                await self._shell_ended(self._shell, watch)  # it died between two calls
            if self._sandbox is not None and self._sandbox.stopped.is_set():
                await self._container_stopped(watch)
            if self._sandbox is not None:
                try:
                    self._shell = await self._open_shell(self._sandbox)
                    return self._shell
                except ShellEnded as error:
                    await self._replace_sandbox(str(error), watch)
            self._sandbox = await self._new_sandbox()
            self._shell = await self._open_shell(self._sandbox)
            return self._shell

    async def _open_shell(self, sandbox: Sandbox) -> ContainerShell:
        uid, gid = self.spec.user
        shell = ContainerShell(
            self.client.api,
            sandbox.container,
            user=f"{uid}:{gid}",
            workdir=WORKSPACE,
            environment={"HOME": HOME, **self.spec.environment},
        )
        await shell.start()
        return shell

    async def _new_sandbox(self) -> Sandbox:
        """A new container, watched for the disk limit from its first command on."""
        sandbox = await Sandbox.create(self.client, self.spec)
        self._oom_kills = 0
        if self._disk is not None:
            self._watcher = asyncio.create_task(self._disk.watch(self._disk_reached))
        return sandbox

    async def _replace_sandbox(self, error: str, watch: CallWatch) -> None:
        """No shell starts in the container: say why, and drop it for a new one."""
        how = await self._how_memory_went(None)
        watch.notice(
            f"{error}{f' ({how})' if how else ''}; the sandbox continues in a new container: "
            f"{_KEPT}"
        )
        await self._drop_sandbox()

    async def _disk_reached(self) -> None:
        """The workspace reached disk=: stop the command running now; between commands (a
        background process is writing), the whole container."""
        if self._running is not None:
            self._running.set()
        elif self._sandbox is not None and not self._sandbox.stopped.is_set():
            self._stop_reason = (
                f"the workspace passed its disk limit of {self.spec.disk} (disk=) while no "
                "command ran: a process left in the background kept writing"
            )
            await self._sandbox.kill()

    async def _shell_ended(self, shell: ContainerShell, watch: CallWatch) -> tuple[int | None, str]:
        """Say why the shell is gone, and return its exit status if known with that reason;
        the next command opens a new shell (and a new container, if that is what died)."""
        status = None
        if self._sandbox is not None and await _settled(self._sandbox.stopped):
            why = await self._container_stopped(watch)
        else:
            status = await asyncio.to_thread(shell.exit_status)
            how = describe_status(status) if status is not None else "the engine does not say how"
            memory = await self._how_memory_went(status)
            why = f"the sandbox's shell exited ({how}{f', {memory}' if memory else ''})"
            watch.notice(
                f"{why}; the next command starts a new one in /workspace, without the "
                "directory and variables the old one had"
            )
        await shell.aclose()
        if self._shell is shell:
            self._shell = None
        return status, why

    async def _how_memory_went(self, status: int | None) -> str:
        """For a shell killed by SIGKILL (or gone without a word): whether the kernel killed
        it for memory, and what held that memory; empty for any other end."""
        if status not in (None, 137):
            return ""
        news = await self._memory_news()
        if news is None:
            return ""
        if not news.oom_kills:
            return "not for memory: by a command or from outside" if status == 137 else ""
        held = f", {size_text(news.in_tmpfs)} of it by files in /tmp, home and /dev/shm"
        return f"out of memory: the sandbox used all of memory={self.spec.memory}" + (
            held if news.in_tmpfs >= 1 << 20 else ""
        )

    async def _memory_news(self) -> MemoryUse | None:
        """The sandbox's memory use, counting only the kills for memory since the last look;
        None when the container does not say."""
        use = await self._sandbox.memory_use() if self._sandbox is not None else None
        if use is None:
            return None
        new, self._oom_kills = use.oom_kills - self._oom_kills, use.oom_kills
        return MemoryUse(new, use.in_tmpfs)

    async def _held_open(self) -> dict[int, int]:
        return await self._sandbox.held_open() if self._sandbox is not None else {}

    async def _container_stopped(self, watch: CallWatch) -> str:
        """The container died (out of memory, removed from outside, the disk limit): say
        so, and drop it; the next command makes a new one on the same workspace."""
        why = self._stop_reason or "killed or removed from outside, or out of memory"
        self._stop_reason = ""
        what = f"the sandbox container stopped ({why})"
        watch.notice(f"{what}; the next command runs in a new one: {_KEPT}")
        await self._drop_sandbox()
        return what

    async def _drop_sandbox(self) -> None:
        """Stop watching the container, and remove it."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if self._sandbox is not None:
            await self._sandbox.remove()
            self._sandbox = None

    async def _copy_back(self, watch: CallWatch) -> None:
        """Copy the workspace files the last command changed from the volume to the host."""
        archive = bytearray()
        await self._internal(CHANGED_ARCHIVE_COMMAND, raw_stdout=archive, watch=watch)
        if archive:
            await asyncio.to_thread(unpack_changes, self._copies, bytes(archive))

    async def aclose(self) -> None:
        """Remove the container: every process in it ends, whatever it was doing."""
        async with self._lock:
            if self._shell is not None:
                with contextlib.suppress(Exception):
                    await self._shell.aclose()
                self._shell = None
            await self._drop_sandbox()


async def _settled(stopped: threading.Event) -> bool:
    """Whether the container stopped, given a moment: the shell's stream may end a little
    before the switch's does."""
    return await asyncio.to_thread(stopped.wait, _STOP_NOTICE_WAIT)


class _Later:
    """A watch for operations no call watches: it keeps the notices for the next call."""

    def __init__(self, unsaid: list[str]) -> None:
        self.unsaid = unsaid

    def printed(self, text: str) -> None:
        return None

    def notice(self, text: str) -> None:
        self.unsaid.append(text)
