"""Shape tool output for the model: shortened when long, never empty.

A command can print megabytes; the model needs its start (what ran) and its end
(the error, the summary), so the middle goes and a note says how much went.
"""

from __future__ import annotations

import signal

from .values import ExecResult

__all__ = ["format_exec_result", "truncate_output"]


def truncate_output(text: str, limit: int) -> str:
    """Keep about ``limit`` characters, half from the head and half from the tail.

    The cut falls on line boundaries when one is near, so no line is shown half.
    """
    if len(text) <= limit:
        return text
    half = max(limit // 2, 1)
    slack = half // 4
    head_end = _snap(text.rfind("\n", 0, half) + 1, half, slack)
    tail_start = _snap(text.find("\n", len(text) - half) + 1, len(text) - half, slack)
    cut = text[head_end:tail_start]
    lines = cut.count("\n")
    note = (
        f"[... {len(cut):,} characters ({lines:,} lines) cut; "
        f"the output was {len(text):,} characters ...]"
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
    stderr_share = min(len(result.stderr), limit // 2)
    stdout_share = min(len(result.stdout), limit - stderr_share)
    parts = []
    if result.stdout:
        parts.append(truncate_output(result.stdout, stdout_share).rstrip("\n"))
    if result.stderr:
        stderr = truncate_output(result.stderr, limit - stdout_share)
        parts.append("stderr:\n" + stderr.rstrip("\n"))
    if not parts:
        parts.append("(no output)")
    parts.append(_describe_exit(result.exit_code))
    if result.timed_out:
        after = f" after {timeout:g} s" if timeout is not None else ""
        parts.append(f"timed out{after}; the command and its child processes were killed")
    return "\n".join(parts)


def _describe_exit(exit_code: int) -> str:
    """Negative codes are signals (asyncio's convention); name them for the model."""
    if exit_code >= 0:
        return f"exit code: {exit_code}"
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        return f"exit code: {exit_code}"
    return f"exit code: {exit_code} (killed by {name})"
