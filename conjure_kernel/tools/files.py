"""The file tools (``view``, ``create_file``, ``str_replace``) on a host file system.

Split from backends/local.py: what the model sees of a file is its own concern, and
every backend that works on host paths (local, native) shows files the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["replace_once", "view_path", "write_file"]

_SNIPPET_CONTEXT = 3
"""Lines shown above and below an edit."""


def view_path(path: Path, view_range: list[int] | None = None) -> str:
    """A file with numbered lines (optionally a range), or a directory two levels deep."""
    if path.is_dir():
        return _list_directory(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")
    if not path.is_file():
        raise ValueError(f"{path} is neither a regular file nor a directory")
    lines = _read_text(path).splitlines()
    first, last = _line_range(view_range, len(lines))
    return _number_lines(lines[first - 1 : last], first) or f"(empty file: {path})"


def write_file(path: Path, text: str) -> str:
    """Create or overwrite a file, making its folders; say which and how big."""
    data = text.encode("utf-8")
    verb = "overwrote" if path.exists() else "created"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return f"{verb} {path} ({len(data):,} bytes)"


def replace_once(path: Path, old: str, new: str) -> str:
    """Replace the one occurrence of ``old``; zero or several occurrences are errors."""
    text = _read_text(path)
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
    path.write_bytes(edited.encode("utf-8"))
    line = text.count("\n", 0, start) + 1
    first = max(line - _SNIPPET_CONTEXT, 1)
    last = line + new.count("\n") + _SNIPPET_CONTEXT
    snippet = _number_lines(edited.splitlines()[first - 1 : last], first)
    return f"edited {path}; the lines around the change now read:\n{snippet}"


def _read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        if b"\0" in data:
            raise UnicodeError
        return data.decode("utf-8")
    except UnicodeError:
        raise ValueError(
            f"{path} is a binary file, not UTF-8 text; inspect it with bash_tool "
            "(for example `file` or `xxd | head`)"
        ) from None


def _line_range(view_range: list[int] | None, count: int) -> tuple[int, int]:
    """Turn ``[first, last]`` (``last`` -1 for the end) into checked 1-based bounds."""
    if view_range is None or count == 0:
        return 1, count
    if len(view_range) != 2 or not all(isinstance(n, int) for n in view_range):
        raise ValueError("view_range must be two line numbers: [first, last]")
    first, last = view_range
    last = count if last == -1 else min(last, count)
    if not 1 <= first <= last:
        raise ValueError(
            f"view_range {view_range} does not fit a file of {count} lines; "
            "use 1 <= first <= last, or last = -1 for the end"
        )
    return first, last


def _number_lines(lines: Sequence[str], first: int) -> str:
    return "\n".join(f"{number:6}\t{line}" for number, line in enumerate(lines, first))


def _list_directory(root: Path) -> str:
    entries: list[str] = []
    for child in _visible_children(root):
        entries.append(_entry_name(child, root))
        if child.is_dir():
            entries += [_entry_name(grandchild, root) for grandchild in _visible_children(child)]
    listing = "\n".join(entries) or "(empty)"
    return f"{root}/ (two levels deep; hidden entries and node_modules skipped):\n{listing}"


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
