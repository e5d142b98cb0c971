"""Shape tool output for the model: shortened when long, never empty.

A command can print megabytes; the model needs its start (what ran) and its end
(the error, the summary), so the middle goes and a note says how much went. The
middle may go twice over: while a command's output is read (``StreamCapture``, so
memory stays bounded) and when the result is formatted; the note counts both.
"""

from __future__ import annotations

import codecs
import signal
from collections.abc import Sequence

from .values import ExecResult, Gap

__all__ = ["StreamCapture", "format_exec_result", "one_line", "truncate_output"]


class StreamCapture:
    """Keeps the first and last ``keep`` bytes of a stream; the middle is counted, not stored.

    A command may print without end (``yes``): the kernel's memory stays flat whatever
    it prints, and the model still learns how much it missed.
    """

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped_any = False
        self._dropped_chars = 0
        self._dropped_lines = 0
        # one decoder for the whole middle: a character split between two drops counts once
        self._dropped_text = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, data: bytes) -> None:
        """Take the next piece of the stream, as it arrives."""
        room = self._keep - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        self._tail += data
        excess = len(self._tail) - self._keep
        if excess > 0:
            dropped = self._tail[:excess]
            self._dropped_any = True
            self._dropped_chars += len(self._dropped_text.decode(dropped))
            self._dropped_lines += dropped.count(b"\n")
            del self._tail[:excess]  # bytearray drops its front without moving the rest

    def result(self) -> tuple[str, Gap | None]:
        """The kept text, and the gap in it if anything was dropped."""
        if not self._dropped_any:  # decode as one, so a character split between the halves survives
            return (self._head + self._tail).decode("utf-8", errors="replace"), None
        head = self._head.decode("utf-8", errors="replace")
        tail = self._tail.decode("utf-8", errors="replace")
        return head + tail, Gap(len(head), self._dropped_chars, self._dropped_lines)


def truncate_output(text: str, limit: int, gap: Gap | None = None) -> str:
    """Keep about ``limit`` characters, half from the head and half from the tail.

    The cut falls on line boundaries when one is near, so no line is shown half. A
    ``gap`` (dropped while reading) always lies inside the cut, and the note counts it.
    """
    if len(text) <= limit:
        if gap is None:
            return text
        head_end = tail_start = gap.at
    else:
        half = max(limit // 2, 1)
        slack = half // 4
        head_end = _snap(text.rfind("\n", 0, half) + 1, half, slack)
        tail_start = _snap(text.find("\n", len(text) - half) + 1, len(text) - half, slack)
        if gap is not None:
            head_end, tail_start = min(head_end, gap.at), max(tail_start, gap.at)
    dropped_chars, dropped_lines = (gap.chars, gap.lines) if gap else (0, 0)
    cut = tail_start - head_end + dropped_chars
    lines = text.count("\n", head_end, tail_start) + dropped_lines
    note = (
        f"[... {cut:,} characters ({lines:,} lines) cut; "
        f"the output was {len(text) + dropped_chars:,} characters ...]"
    )
    head = text[:head_end]
    separator = "" if head.endswith("\n") or not head else "\n"
    return f"{head}{separator}{note}\n{text[tail_start:]}"


def _snap(boundary: int, exact: int, slack: int) -> int:
    """Use the line boundary if it lies within ``slack`` of the exact cut; else cut mid-line."""
    return boundary if boundary > 0 and abs(boundary - exact) <= slack else exact


def format_exec_result(result: ExecResult, limit: int, *, timeout: float | None = None) -> str:
    """What the model sees for a command: stdout, labelled stderr, then the exit status.

    ``limit`` is shared by both streams; stderr gets at most half unless stdout needs less.
    ``timeout`` is the limit that was applied, named when the command ran out of time.
    """
    stdout_gap, stderr_gap = result.stdout_gap, result.stderr_gap
    stderr_share = min(len(result.stderr), limit // 2)
    stdout_share = min(len(result.stdout), limit - stderr_share)
    parts = []
    if result.stdout:
        parts.append(truncate_output(result.stdout, stdout_share, stdout_gap).rstrip("\n"))
    if result.stderr:
        stderr = truncate_output(result.stderr, limit - stdout_share, stderr_gap)
        parts.append("stderr:\n" + stderr.rstrip("\n"))
    if not parts:
        parts.append("(no output)")
    parts.append(_describe_exit(result.exit_code))
    if result.timed_out:
        after = f" after {timeout:g} s" if timeout is not None else ""
        parts.append(f"timed out{after}; the command and its child processes were killed")
    if result.background:
        parts.append(_describe_background(result.background))
    return "\n".join(parts)


_BACKGROUND_LISTED = 3
"""Background processes named one by one; the rest are counted."""
_COMMAND_LINE_CHARS = 80


def _describe_background(processes: Sequence[tuple[int, str]]) -> str:
    """Tell the model what outlives the call, so it neither waits for it nor starts it twice."""
    listed = [
        f"pid {pid}: {one_line(command, _COMMAND_LINE_CHARS)}"
        for pid, command in processes[:_BACKGROUND_LISTED]
    ]
    if len(processes) > _BACKGROUND_LISTED:
        listed.append(f"and {len(processes) - _BACKGROUND_LISTED} more")
    one = len(processes) == 1
    subject = "1 background process is" if one else f"{len(processes)} background processes are"
    they, their = ("it is", "its") if one else ("they are", "their")
    return (
        f"{subject} still running ({'; '.join(listed)}); {they} stopped when the session "
        f"resets or ends, and {their} output is discarded (redirect it to a file to read it)"
    )


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (whitespace runs folded), cut to ``limit`` characters with an
    ellipsis when longer: for a message, command or error quoted inside another line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_exit(exit_code: int) -> str:
    """Negative codes are signals (asyncio's convention); name them for the model."""
    if exit_code >= 0:
        return f"exit code: {exit_code}"
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        return f"exit code: {exit_code}"
    return f"exit code: {exit_code} (killed by {name})"
