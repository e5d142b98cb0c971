"""The line protocol of the sandbox's persistent shell, and the exec stream's frames.

For each command the shell is sent one line that reads the command text from its own
input up to a NUL byte, evaluates it with input from ``/dev/null`` (so a command that
reads stdin cannot eat the protocol), then prints an end marker with the exit status on
stdout and one with its background jobs on stderr. The marker carries a fresh random
token per command, so it is found wherever it starts, even right after output that does
not end in a newline, and such output survives exactly. bash reads a script from a pipe
or socket byte by byte, which is what lets the line's ``read`` take the command that
follows it.

Split from shell.py: this is what goes over the socket and how the answer is taken
apart; shell.py keeps the shell itself (its socket, reader thread, stopping, restarts).
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Callable

from ...tools.call_watch import OutputEcho
from ...tools.output import StreamCapture

__all__ = ["PRELUDE", "MarkedStream", "RunningCommand", "parse_frames", "wrap_command"]

_HEADER = struct.Struct(">BxxxL")
"""A frame of the multiplexed exec stream: the stream (1 stdout, 2 stderr), the length."""
_JOB = re.compile(rb"^\[\d+\][+-]?\s+(\d+)\s+Running\s+(.*?)(?:\s+&)?$")
PRELUDE = b"umask 002; __conjure_run() { eval \"$__conjure_command\"; }; trap 'return 137 2>/dev/null' USR1\n"
"""Set up the shell: new files are group-writable (see ``sandbox_user``), commands run in
a function, and SIGUSR1 ends the running command but not the shell (one that comes just
after the command ended finds no function to return from, and says nothing)."""


class MarkedStream:
    """One stream of one command: output goes to ``sink`` until the end marker, and what
    follows the marker up to ``terminator`` is the trailer (the status, the jobs).

    At most the last ``len(marker) - 1`` bytes are held back, and only when they could
    begin the marker, so the work per byte stays constant however much the command prints.
    """

    def __init__(self, marker: bytes, terminator: bytes, sink: Callable[[bytes], None]) -> None:
        self.marker = marker
        self.terminator = terminator
        self.sink = sink
        self._held = bytearray()
        self._after: bytearray | None = None

    def feed(self, data: bytes) -> None:
        if self._after is not None:
            self._after += data
            return
        self._held += data
        found = self._held.find(self.marker)
        if found >= 0:
            self.sink(bytes(self._held[:found]))
            self._after = self._held[found + len(self.marker) :]
            self._held = bytearray()
            return
        cut = len(self._held) - self._could_begin_marker()
        if cut > 0:
            self.sink(bytes(self._held[:cut]))
            del self._held[:cut]

    def _could_begin_marker(self) -> int:
        """How many bytes at the end of what is held might be the marker's beginning: only
        those wait, so output reaches the sink (and the live trace) as it arrives."""
        at = self._held.find(self.marker[:1], max(0, len(self._held) - len(self.marker) + 1))
        while at != -1:
            if self.marker.startswith(self._held[at:]):
                return len(self._held) - at
            at = self._held.find(self.marker[:1], at + 1)
        return 0

    @property
    def trailer(self) -> bytes | None:
        if self._after is None or self.terminator not in self._after:
            return None
        return bytes(self._after.split(self.terminator, 1)[0])

    def flush(self) -> None:
        """The stream ended without its marker: what was held back is output too."""
        if self._after is None:
            self.sink(bytes(self._held))
            self._held = bytearray()


class RunningCommand:
    """The command running now: its two marked streams, and a future for its end."""

    def __init__(
        self, token: bytes, stdout: Callable[[bytes], None], keep: int, echo: OutputEcho | None
    ) -> None:
        end = _end_marker(token)
        self.stderr_capture = StreamCapture(keep)
        stderr = self.stderr_capture.feed
        if echo is not None and echo.active:
            stdout, stderr = _echoed(stdout, echo, 1), _echoed(stderr, echo, 2)
        self.out = MarkedStream(end, b"\n", stdout)
        self.err = MarkedStream(end + b"\n", end + b"\n", stderr)
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def feed(self, frames: list[tuple[int, bytes]]) -> None:
        for stream, payload in frames:
            (self.out if stream == 1 else self.err).feed(payload)
        if self.out.trailer is not None and self.err.trailer is not None:
            _resolve(self.done)

    def end(self) -> None:
        self.out.flush()
        self.err.flush()
        _resolve(self.done)

    @property
    def exit_code(self) -> int | None:
        trailer = self.out.trailer
        return int(trailer) if trailer is not None and trailer.isdigit() else None

    @property
    def jobs(self) -> tuple[tuple[int, str], ...]:
        listing = self.err.trailer or b""
        found = (_JOB.match(line.strip()) for line in listing.splitlines())
        return tuple((int(match[1]), match[2].decode(errors="replace")) for match in found if match)


def _echoed(
    sink: Callable[[bytes], None], echo: OutputEcho, stream: int
) -> Callable[[bytes], None]:
    def both(data: bytes) -> None:
        sink(data)
        echo.feed(stream, data)

    return both


def wrap_command(command: str, token: bytes, data: bytes | None) -> bytes:
    """What the shell is sent for one command: the protocol's line, the command up to a
    NUL byte, then the bytes it reads from its input, if any."""
    end = _end_marker(token)
    stdin = b"" if data is not None else b" </dev/null"
    line = (
        b"IFS= read -r -d '' __conjure_command; __conjure_run" + stdin + b"; "
        b"__conjure_status=$?; printf '" + end + b'%d\\n\' "$__conjure_status"; '
        b"printf '" + end + b"\\n' >&2; jobs -l >&2; printf '" + end + b"\\n' >&2\n"
    )
    return line + command.encode() + b"\0" + (data or b"")


def parse_frames(buffer: bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """The complete frames at the start of ``buffer``, and how many bytes they took."""
    frames: list[tuple[int, bytes]] = []
    at = 0
    while len(buffer) - at >= _HEADER.size:
        stream, length = _HEADER.unpack_from(buffer, at)
        if len(buffer) - at - _HEADER.size < length:
            break
        start = at + _HEADER.size
        frames.append((stream, bytes(buffer[start : start + length])))
        at = start + length
    return frames, at


def _end_marker(token: bytes) -> bytes:
    return b"__CONJURE_END_" + token + b"__"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
