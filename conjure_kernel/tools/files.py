"""What the model sees of a file: ``view``, ``create_file`` and ``str_replace`` over a Workspace.

Lines are counted as ``cat -n``, ``grep -n`` and ``sed -n`` count them (each ends at a
newline; a ``\\r`` before it is not shown), so the numbers here match the ones the
model's shell commands print. A file larger than the output limit is never read whole
to be shown: ``view`` counts its newlines chunk by chunk, reads the ends it shows, and
says which lines it left out. Every operation on the workspace carries the watch of
the call it serves, so what the workspace has to say about itself is said in that call.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .call_watch import CallWatch
    from .workspace import Workspace

__all__ = ["create_file", "replace_once", "view_path"]

_SNIPPET_CONTEXT = 3
"""Lines shown above and below an edit."""
_FIRST_CHUNK = 1 << 16
_LAST_CHUNK = 1 << 20
"""Bytes per read while counting lines: small first (a range near the top reads little),
doubling up to this (few round trips where a read is a command in a container)."""
_BLOCK = 4096
"""Bytes per step when finding the n-th newline in a chunk."""
_NOTE_ROOM = 300
"""Characters of a large view's output kept for the note between its head and tail."""
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))
"""UTF-8 bytes that continue a character: a read that starts among them starts mid-character."""


async def view_path(
    workspace: Workspace, path: str, view_range: list[int] | None, limit: int, *, watch: CallWatch
) -> str:
    """A file with numbered lines (optionally a range), or a directory two levels deep.

    ``limit`` is the output limit: a larger file is shown by its ends (see module doc).
    """
    info = await workspace.stat(path, watch=watch)
    if info.kind == "directory":
        listing = "\n".join(await workspace.list_dir(path, watch=watch)) or "(empty)"
        return f"{path}/ (two levels deep; hidden entries and node_modules skipped):\n{listing}"
    if info.kind == "missing":
        raise FileNotFoundError(f"no such file or directory: {path}")
    if info.kind != "file":
        raise ValueError(f"{path} is neither a regular file nor a directory")
    if info.size > limit:
        return await _view_large(workspace, path, info.size, view_range, limit, watch)
    lines = _split_lines(_decode(await workspace.read(path, watch=watch), path))
    first, last = _line_range(view_range, len(lines))
    return _number_lines(lines[first - 1 : last], first) or f"(empty file: {path})"


async def create_file(workspace: Workspace, path: str, text: str, *, watch: CallWatch) -> str:
    """Create or overwrite a file, making its folders; say which and how big."""
    data = text.encode("utf-8")
    verb = "overwrote" if await workspace.write(path, data, watch=watch) else "created"
    return f"{verb} {path} ({len(data):,} bytes)"


async def replace_once(
    workspace: Workspace, path: str, old: str, new: str, *, watch: CallWatch
) -> str:
    """Replace the one occurrence of ``old``; zero or several occurrences are errors."""
    text = _decode(await workspace.read(path, watch=watch), path)
    count = text.count(old) if old else 0
    if count == 0:
        raise ValueError(
            f"old_str was not found in {path}; view the file and copy the exact text, "
            "whitespace included"
        )
    if count > 1:
        raise ValueError(
            f"old_str occurs {count} times in {path}; include more surrounding lines "
            "so that it occurs exactly once"
        )
    start = text.index(old)
    edited = text[:start] + new + text[start + len(old) :]
    await workspace.write(path, edited.encode("utf-8"), watch=watch)
    line = text.count("\n", 0, start) + 1
    first = max(line - _SNIPPET_CONTEXT, 1)
    last = line + new.count("\n") + _SNIPPET_CONTEXT
    snippet = _number_lines(_split_lines(edited)[first - 1 : last], first)
    return f"edited {path}; the lines around the change now read:\n{snippet}"


@dataclass(frozen=True)
class _Span:
    """Where the requested lines lie in a file."""

    start: int
    """The byte where the first requested line starts."""
    end: int
    """The byte after the last requested line (its newline included)."""
    last: int
    """The number of the last line in the span."""
    total: int | None
    """The file's line count, when the scan had to reach the end."""


async def _view_large(
    workspace: Workspace,
    path: str,
    size: int,
    view_range: list[int] | None,
    limit: int,
    watch: CallWatch,
) -> str:
    """Numbered lines of a file larger than ``limit``, reading only what is shown."""
    first, last = _requested(view_range)
    if first < 1 or (last != -1 and last < first):
        whole = await _locate(workspace, path, size, 1, -1, view_range, watch)
        raise _range_error(view_range, whole.last)
    span = await _locate(workspace, path, size, first, last, view_range, watch)
    if span.end - span.start <= limit:  # the range is small: shown whole, like a small file
        data = await workspace.read(path, span.start, span.end, watch=watch)
        return _number_lines(_split_lines(_decode(data, path)), first)
    budget = max((limit - _NOTE_ROOM) // 2, 0)
    head_data = await workspace.read(path, span.start, span.start + budget, watch=watch)
    tail_data = await workspace.read(path, span.end - budget, span.end, watch=watch)
    head, head_cut = _head(head_data, first, budget, path)
    tail, tail_cut = _tail(tail_data, span.last, budget, path)
    note = _omission_note(
        first + len(head) - int(head_cut),
        span.last - len(tail) + int(tail_cut),
        span.total,
        window=len(head) + len(tail),
        partial=head_cut or tail_cut,
    )
    return "\n".join([*head, note, *tail])


async def _locate(
    workspace: Workspace,
    path: str,
    size: int,
    first: int,
    last: int,
    view_range: list[int] | None,
    watch: CallWatch,
) -> _Span:
    """Find lines ``first`` to ``last`` (-1: the end) by counting newlines chunk by chunk.

    Reads stop at line ``last``; only ``-1`` reads to the end, to number the tail.
    ``first <= last`` unless ``last`` is -1; ``view_range`` is named if the file is shorter.
    """
    start = 0 if first == 1 else -1  # -1: line first not reached yet
    offset = newlines = 0
    chunk_size = _FIRST_CHUNK
    ends_with_newline = False
    while offset < size:
        chunk = await workspace.read(path, offset, min(offset + chunk_size, size), watch=watch)
        if not chunk:
            break  # the file shrank while it was read
        if b"\0" in chunk:
            raise _binary(path)
        count = chunk.count(b"\n")
        if start < 0 and newlines + count >= first - 1:
            start = offset + _nth_newline(chunk, first - 1 - newlines) + 1
        if last != -1 and newlines + count >= last:
            end = offset + _nth_newline(chunk, last - newlines) + 1
            return _Span(start, end, last, None)
        newlines += count
        offset += len(chunk)
        ends_with_newline = chunk.endswith(b"\n")
        chunk_size = min(chunk_size * 2, _LAST_CHUNK)
    total = newlines + (0 if ends_with_newline else 1)
    last = total if last == -1 else min(last, total)
    if start < 0 or first > last:
        raise _range_error(view_range, total)
    return _Span(start, offset, last, total)


def _nth_newline(data: bytes, n: int) -> int:
    """Index of the ``n``-th newline in ``data``, which holds at least ``n`` (-1 for 0).

    Counts block by block, then steps through one block: no copies, and few steps even
    when a chunk holds hundreds of thousands of short lines.
    """
    block = 0
    while n > (count := data.count(b"\n", block, block + _BLOCK)):
        n -= count
        block += _BLOCK
    index = block - 1
    for _ in range(n):
        index = data.index(b"\n", index + 1)
    return index


def _head(data: bytes, first: int, budget: int, path: str) -> tuple[list[str], bool]:
    """Numbered whole lines from the start of ``data`` that fit ``budget`` characters.

    When even the first line does not fit, its start is shown, and the flag says so.
    """
    lines = _split_lines(_decode(data[: data.rfind(b"\n") + 1], path))
    numbered = _numbered(lines, first)
    fitting = numbered[: _fit(numbered, budget)]
    if fitting:
        return fitting, False
    start = lines[0] if lines else _decode(data, path, final=False)
    return [f"{first:6}\t{start}"[:budget]], True


def _tail(data: bytes, last: int, budget: int, path: str) -> tuple[list[str], bool]:
    """Numbered whole lines at the end of ``data`` (the last one is ``last``) that fit ``budget``.

    ``data`` may start mid-line, so its first piece is never shown as a line. When even
    the last line does not fit, its end is shown after an ellipsis, and the flag says so.
    """
    body_end = len(data) - 1 if data.endswith(b"\n") else len(data)
    cut = data.find(b"\n", 0, body_end) + 1
    lines = _split_lines(_decode(data[cut:], path)) if cut else []
    numbered = _numbered(lines, last - len(lines) + 1)
    fitting = numbered[len(numbered) - _fit(numbered[::-1], budget) :]
    if fitting:
        return fitting, False
    if lines:
        end = lines[-1]
    else:  # skip a character cut at the start; more than 3 continuation bytes are not UTF-8
        piece = data[:body_end]
        skip = min(len(piece) - len(piece.lstrip(_CONTINUATION_BYTES)), 3)
        end = _decode(piece[skip:], path).removesuffix("\r")
    prefix = f"{last:6}\t…"
    return [prefix + end[len(end) - max(budget - len(prefix), 0) :]], True


def _fit(numbered: Sequence[str], budget: int) -> int:
    """How many of ``numbered``, taken in order, fit in ``budget`` characters with newlines."""
    used = 0
    for count, line in enumerate(numbered):
        used += len(line) + 1
        if used > budget:
            return count
    return len(numbered)


def _omission_note(first: int, last: int, total: int | None, window: int, partial: bool) -> str:
    """Which lines a large view left out, and how to see them."""
    one = first == last
    lines = f"line {first:,}" if one else f"lines {first:,}-{last:,}"
    of = "" if total is None else f" of {total:,}"
    hints = []
    if not (one and partial):  # view_range cannot show less than one line
        example = f"[{first}, {min(last, first + window - 1)}]"
        hints.append(f"view {'it' if one else 'them'} with view_range, e.g. {example}")
    if partial:
        hints.append("for parts of a long line use bash_tool (for example `cut -c` or `head -c`)")
    cut = ("shown in part" if one else "cut or shown in part") if partial else "cut"
    return f"[... {lines}{of} {cut}; {'; '.join(hints)} ...]"


def _decode(data: bytes, path: str, *, final: bool = True) -> str:
    """``data`` as UTF-8 text, or the binary-file error; ``final=False`` drops a cut character."""
    if b"\0" in data:
        raise _binary(path)
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(data, final=final)
    except UnicodeDecodeError:
        raise _binary(path) from None


def _binary(path: str) -> ValueError:
    return ValueError(
        f"{path} is a binary file, not UTF-8 text; inspect it with bash_tool "
        "(for example `file` or `xxd | head`)"
    )


def _split_lines(text: str) -> list[str]:
    """Lines as ``cat -n`` counts them: ended by a newline, a ``\\r`` before it dropped."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _requested(view_range: list[int] | None) -> tuple[int, int]:
    """``[first, last]`` checked for shape; the whole file when there is none."""
    if view_range is None:
        return 1, -1
    if len(view_range) != 2 or not all(isinstance(n, int) for n in view_range):
        raise ValueError("view_range must be two line numbers: [first, last]")
    return view_range[0], view_range[1]


def _line_range(view_range: list[int] | None, count: int) -> tuple[int, int]:
    """Turn ``[first, last]`` (``last`` -1 for the end) into checked 1-based bounds."""
    if view_range is None or count == 0:
        return 1, count
    first, last = _requested(view_range)
    last = count if last == -1 else min(last, count)
    if not 1 <= first <= last:
        raise _range_error(view_range, count)
    return first, last


def _range_error(view_range: list[int] | None, count: int) -> ValueError:
    return ValueError(
        f"view_range {view_range} does not fit a file of {count} lines; "
        "use 1 <= first <= last, or last = -1 for the end"
    )


def _numbered(lines: Sequence[str], first: int) -> list[str]:
    return [f"{number:6}\t{line}" for number, line in enumerate(lines, first)]


def _number_lines(lines: Sequence[str], first: int) -> str:
    return "\n".join(_numbered(lines, first))
