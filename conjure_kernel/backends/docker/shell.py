"""One bash kept open inside the sandbox, fed commands over the exec socket.

A ``docker exec`` costs 40 to 60 ms (the engine sets up a process each time) and forgets
the working directory and variables; one shell that lives as long as the session
answers in about a millisecond and keeps them, as a terminal does. What is said to it
and how its answer is taken apart is ``shell_protocol.py``.

The command runs inside a shell function, so that stopping it (timeout, interrupt)
keeps the shell: a second exec, running as the same user (root in a sandbox without
capabilities could not), sends the shell SIGUSR1, whose trap returns from the function
(the rest of the command does not run), and kills every other process of the shell's
session. If the shell does not come back even so, it is killed too, and a new one opens
for the next command.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import docker.errors

from ...tools.call_watch import OutputEcho
from ...tools.output import StreamCapture
from ...tools.values import Gap
from .shell_protocol import PRELUDE, RunningCommand, parse_frames, wrap_command

__all__ = ["ContainerShell", "ShellEnded", "ShellOutput", "describe_status"]

_RECV = 1 << 20
_BATCHES_IN_FLIGHT = 4
"""Reads (of up to ``_RECV`` bytes each) that may wait for the event loop at once."""
_FLIGHT_WAIT = 0.5
"""Seconds between the reader's checks, while it waits for the loop, that the shell lives."""
_KILL_GRACE = 1.0
"""Seconds a stopped command has to let the shell print its end marker; after that the
shell counts as stuck, and is killed with its command."""
_KILL_SESSION = r"""
me=$1; keep=$2
[ "$keep" = "$me" ] && kill -USR1 "$me"
for s in /proc/[0-9]*/stat; do
  read -r l < "$s" 2>/dev/null || continue
  r=${l##*) }; set -- $r; p=${s#/proc/}; p=${p%/stat}
  [ "$4" = "$me" ] && [ "$p" != "$keep" ] && kill -KILL "$p" 2>/dev/null
done
true
"""
"""Stop the command in shell ``$1`` (when ``$2`` keeps the shell) and kill, by reading
/proc (no pgrep needed), the processes of its session but ``$2``. The signal goes first:
the shell runs its trap once the command's processes are dead, not before."""


class ShellEnded(Exception):
    """The shell is gone (it ran ``exit``, was killed, or its container stopped)."""


class _Socket(Protocol):
    def recv(self, size: int) -> bytes: ...
    def sendall(self, data: bytes) -> Any: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class ShellOutput:
    """What one command did; ``exit_code`` is None when the shell ended with it."""

    exit_code: int | None
    stdout: str
    stderr: str
    stdout_gap: Gap | None
    stderr_gap: Gap | None
    background: tuple[tuple[int, str], ...]
    stopped: bool = False


class ContainerShell:
    """A persistent ``bash`` in a running container, driven over docker-py's raw exec socket.

    The socket is read by a thread (docker-py's socket may be a unix or TCP socket, a TLS
    socket or an SSH channel, and only the blocking calls are common to all) that hands
    whole frames to the event loop. One command runs at a time.
    """

    def __init__(
        self,
        api: Any,
        container: str,
        *,
        user: str,
        workdir: str,
        environment: Mapping[str, str],
    ) -> None:
        self._api = api
        self._container = container
        self._user = user
        self._workdir = workdir
        self._environment = dict(environment)
        self._socket: _Socket | None = None
        self._exec_id = ""
        self._pid = ""
        self._command: RunningCommand | None = None
        self._ended = threading.Event()
        """Set by the reader thread the moment the socket ends, not when the loop gets to it."""
        self._lock = asyncio.Lock()
        self._in_flight = threading.Semaphore(_BATCHES_IN_FLIGHT)
        """Batches read but not yet taken by the loop: when the loop falls behind a flood,
        the reader waits (and the command with it) instead of queueing without end."""

    @property
    def alive(self) -> bool:
        return self._socket is not None and not self._ended.is_set()

    async def start(self) -> None:
        """Open the shell and learn its process id (for stopping its commands)."""
        loop = asyncio.get_running_loop()
        self._exec_id, self._socket = await asyncio.to_thread(self._open)
        threading.Thread(
            target=self._read, args=(self._socket, loop), name="conjure-shell", daemon=True
        ).start()
        said = ""
        with contextlib.suppress(ShellEnded):  # it died at once: ask the engine how
            await asyncio.to_thread(self._send, PRELUDE)
            output = await self.run("echo $$", timeout=30, keep=1024)
            if output.exit_code == 0 and output.stdout.strip().isdigit():
                self._pid = output.stdout.strip()
                return
            said = output.stderr.strip()
        self._close_socket()
        why = said or await asyncio.to_thread(self._why_it_ended)
        raise ShellEnded(f"the sandbox shell did not start: {why}")

    def _open(self) -> tuple[str, _Socket]:
        try:
            created = self._api.exec_create(
                self._container,
                ["bash", "--noprofile", "--norc"],
                stdin=True,
                stdout=True,
                stderr=True,
                tty=False,
                user=self._user,
                workdir=self._workdir,
                environment=self._environment,
            )
            stream = self._api.exec_start(created["Id"], socket=True)
        except docker.errors.APIError as error:  # the container is not running (any more)
            raise ShellEnded(
                f"the sandbox shell did not start: {error.explanation or error}"
            ) from None
        return created["Id"], getattr(stream, "_sock", stream)

    def _why_it_ended(self) -> str:
        """The reason a shell that said nothing is gone: how it exited, if the engine knows."""
        status = self.exit_status()
        if status is None:
            return "it ended before it answered, and the engine does not say how"
        return f"it ended before it answered ({describe_status(status)})"

    async def run(
        self,
        command: str,
        *,
        timeout: float,
        keep: int,
        data: bytes | None = None,
        raw_stdout: bytearray | None = None,
        echo: OutputEcho | None = None,
        stop: asyncio.Event | None = None,
    ) -> ShellOutput:
        """Run ``command`` in the shell; stop it after ``timeout`` seconds, when ``stop`` is
        set (a limit was passed) or when cancelled: the result then says ``stopped``.

        ``data``: bytes the command reads from its standard input (it must read exactly
        them, ``head -c N``); otherwise it reads ``/dev/null``. ``raw_stdout``: collect
        stdout there byte for byte, uncapped (for file transfers), instead of as text.
        Raises ``ShellEnded`` when the shell is gone before the command could be sent.
        """
        if "\0" in command:
            raise ValueError("a command cannot contain a NUL character")
        async with self._lock:
            if not self.alive:
                raise ShellEnded("the sandbox shell is not running")
            token = secrets.token_hex(8).encode()
            stdout_capture = StreamCapture(keep)
            sink = raw_stdout.extend if raw_stdout is not None else stdout_capture.feed
            self._command = running = RunningCommand(token, sink, keep, echo)
            stopped = False
            try:
                await asyncio.to_thread(self._send, wrap_command(command, token, data))
                if not await _ended(running.done, timeout, stop):
                    stopped = True
                    await self._stop(running)
            except BaseException:
                await asyncio.shield(self._stop(running))
                raise
            finally:
                self._command = None
            stdout, stdout_gap = stdout_capture.result()
            stderr, stderr_gap = running.stderr_capture.result()
            return ShellOutput(
                running.exit_code,
                stdout,
                stderr,
                stdout_gap,
                stderr_gap,
                running.jobs,
                stopped,
            )

    def _send(self, payload: bytes) -> None:
        assert self._socket is not None
        try:
            self._socket.sendall(payload)
        except OSError as error:
            raise ShellEnded(f"the sandbox shell stopped taking commands ({error})") from None

    async def _stop(self, running: RunningCommand) -> None:
        """Kill the command's processes; if the shell does not come back, kill it too."""
        if self._pid and not running.done.done():
            await self._kill(keep=self._pid)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(running.done), _KILL_GRACE)
        if not running.done.done():
            if self._pid:
                await self._kill(keep="")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(running.done), _KILL_GRACE)
            self._close_socket()
            running.end()

    async def _kill(self, *, keep: str) -> None:
        def kill() -> None:
            with contextlib.suppress(Exception):  # the container may be gone already
                self._api.exec_start(
                    self._api.exec_create(
                        self._container,
                        ["bash", "-c", _KILL_SESSION, "kill", self._pid, keep],
                        user=self._user,
                    )["Id"]
                )

        await asyncio.to_thread(kill)

    def exit_status(self) -> int | None:
        """How the ended shell exited (``exit 3`` gives 3), if the engine still knows."""
        try:
            return self._api.exec_inspect(self._exec_id).get("ExitCode")
        except Exception:  # the container and its execs are gone
            return None

    async def aclose(self) -> None:
        """Kill what runs in the shell and close it."""
        if self.alive and self._pid:
            await self._kill(keep="")
        self._close_socket()

    def _close_socket(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
        self._ended.set()

    def _read(self, sock: _Socket, loop: asyncio.AbstractEventLoop) -> None:
        """The reader thread: parse frames as they come, hand them to the loop in batches."""
        buffer = bytearray()
        while True:
            try:
                chunk = sock.recv(_RECV)
            except OSError:
                chunk = b""
            if not chunk:
                self._ended.set()
                with contextlib.suppress(RuntimeError):  # the loop is closed: nothing waits
                    loop.call_soon_threadsafe(self._on_end)
                return
            buffer += chunk
            frames, used = parse_frames(buffer)
            del buffer[:used]
            if frames:
                while not self._in_flight.acquire(timeout=_FLIGHT_WAIT):
                    if self._ended.is_set():  # the loop stopped taking frames: give up
                        return
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._on_frames, frames)

    def _on_frames(self, frames: list[tuple[int, bytes]]) -> None:
        self._in_flight.release()
        # between commands only background jobs print: their output has no reader
        if self._command is not None:
            self._command.feed(frames)

    def _on_end(self) -> None:
        if self._command is not None:
            self._command.end()


def describe_status(status: int) -> str:
    """An exit status as a person reads it: ``status 3``, ``status 137: killed by SIGKILL``."""
    if status > 128:
        with contextlib.suppress(ValueError):
            return f"status {status}: killed by {signal.Signals(status - 128).name}"
    return f"status {status}"


async def _ended(done: asyncio.Future[None], timeout: float, stop: asyncio.Event | None) -> bool:
    """Wait for the command's end, at most ``timeout`` seconds and only until ``stop`` is
    set; whether it ended by itself. The command's future is never cancelled here."""
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        waiting = {done} if stopping is None else {done, stopping}
        await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if stopping is not None:
            stopping.cancel()
    return done.done()
