"""The file tools' operations as commands in the sandbox's shell, on container paths.

A path the host cannot open for the workspace (``/tmp``, a link that leads there, or any
path on a remote engine) is read, written, listed and looked at by a command in the
sandbox, so the container's own view of its files decides. Split from workspace.py,
which decides which way a path goes: through the host mounts or through here.
"""

from __future__ import annotations

import errno
import posixpath
import shlex
from collections.abc import Awaitable, Sequence
from typing import Protocol

from ...tools.call_watch import CallWatch
from ...tools.workspace import PathInfo
from .shell import ShellOutput

__all__ = ["ShellFiles", "ShellRun"]

_LIST = (
    "find -L {path} -mindepth 1 -maxdepth 2 \\( -name '.*' -o -name node_modules \\) "
    "-prune -o -printf '%y %P\\0'"
)


class ShellRun(Protocol):
    """Runs one of the workspace's own commands in the sandbox's shell; what happens to
    the sandbox meanwhile (a container replaced) is said to ``watch``."""

    def __call__(
        self,
        command: str,
        *,
        watch: CallWatch,
        data: bytes | None = None,
        raw_stdout: bytearray | None = None,
    ) -> Awaitable[ShellOutput]: ...


class ShellFiles:
    """Stat, read, write and list container paths (resolved already) through ``run``, for
    the call whose ``watch`` is given."""

    def __init__(self, run: ShellRun) -> None:
        self._run = run

    async def stat(self, path: str, *, watch: CallWatch) -> PathInfo:
        output = await self._run(f"stat -L -c '%F %s' -- {shlex.quote(path)}", watch=watch)
        if output.exit_code != 0:
            if "ermission denied" in output.stderr:
                raise PermissionError(errno.EACCES, "Permission denied", path)
            return PathInfo("missing")
        kind, _, size = output.stdout.strip().rpartition(" ")
        if kind == "directory":
            return PathInfo("directory", int(size))
        return PathInfo("file" if kind.startswith("regular") else "other", int(size))

    async def read(
        self, path: str, start: int = 0, end: int | None = None, *, watch: CallWatch
    ) -> bytes:
        command = f"tail -c +{start + 1} -- {shlex.quote(path)}"
        if end is not None:
            command += f" | head -c {max(end - start, 0)}"
        data = bytearray()
        output = await self._run(f"set -o pipefail; {command}", watch=watch, raw_stdout=data)
        if output.exit_code != 0:
            raise OSError(_first_line(output.stderr) or f"cannot read {path}")
        return bytes(data)

    async def write(self, path: str, data: bytes, *, watch: CallWatch) -> bool:
        """Write ``data`` to ``path``, making its folders; True when it existed before."""
        quoted = shlex.quote(path)
        # the shell's input holds the data next: it is read whole even when the file
        # cannot be written (a link the sandbox swapped in, a full disk), or what is left
        # of it would run as the shell's next command
        output = await self._run(
            f"mkdir -p -- {shlex.quote(posixpath.dirname(path))}; [ -e {quoted} ]; "
            f"existed=$?; head -c {len(data)} | {{ cat > {quoted}; written=$?; "
            "cat > /dev/null; [ $written = 0 ] && echo $existed; }",
            watch=watch,
            data=data,
        )
        if output.exit_code != 0:
            raise OSError(_first_line(output.stderr) or f"cannot write {path}")
        return output.stdout.strip() == "0"

    async def list_dir(self, path: str, *, watch: CallWatch) -> list[str]:
        data = bytearray()
        command = _LIST.format(path=shlex.quote(path))
        output = await self._run(command, watch=watch, raw_stdout=data)
        if output.exit_code != 0 and not data:
            raise OSError(_first_line(output.stderr) or f"cannot list {path}")
        entries = []
        for item in data.decode(errors="replace").split("\0"):
            kind, _, name = item.partition(" ")
            if name:
                entries.append((name, kind == "d"))
        return _tree_order(entries)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _tree_order(entries: Sequence[tuple[str, bool]]) -> list[str]:
    """Entries (relative path, is a folder) two levels deep, in the local workspace's
    order: sorted by name, each folder followed by its own entries."""
    children: dict[str, list[tuple[str, bool]]] = {}
    for name, is_dir in entries:
        parent = posixpath.dirname(name)
        children.setdefault(parent, []).append((name, is_dir))
    ordered = []
    for name, is_dir in sorted(children.get("", [])):
        ordered.append(f"{name}/" if is_dir else name)
        for child, child_is_dir in sorted(children.get(name, [])):
            ordered.append(f"{child}/" if child_is_dir else child)
    return ordered
