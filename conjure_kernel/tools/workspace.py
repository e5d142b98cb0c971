"""The workspace seam: what a place where tools run must offer, and the one dispatcher over it.

A ``Workspace`` reads, writes and lists files and runs bash commands, wherever that
happens (the host, a container). ``WorkspaceTools`` turns the model's ``view``,
``create_file``, ``str_replace`` and ``bash_tool`` calls into those operations and
validates, formats and truncates once, so every backend shows the model the same texts.
It assumes no host file system: paths stay the strings the tools see.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .call_watch import UNWATCHED, CallWatch
from .files import create_file, replace_once, view_path
from .output import format_exec_result, truncate_output
from .schemas import SKILL_TOOLS, check_tool_input
from .values import ExecResult, ToolCall, ToolResult

if TYPE_CHECKING:
    from anthropic.types import ToolParam

__all__ = ["PathInfo", "Workspace", "WorkspaceTools"]

_TOOLS_BY_NAME = {tool["name"]: tool for tool in SKILL_TOOLS}
_BYTES_PER_CHAR = 4
"""The most bytes one UTF-8 character takes: a command's output is capped in bytes."""


@dataclass(frozen=True)
class PathInfo:
    """What a path is, and a file's size in bytes; cheap, so ``view`` can plan its reads."""

    kind: Literal["file", "directory", "other", "missing"]
    size: int = 0


@runtime_checkable
class Workspace(Protocol):
    """Files and a shell in one place, addressed by paths as the tools see them.

    A path is absolute, or relative to the workspace's working directory. File faults
    raise ``OSError`` (its text reaches the model); a command's faults are its result.
    Each operation takes the watch of the call it serves: what the person should hear
    about the place it runs in (a sandbox replaced while a file was read) is said in
    that call, not in a later one.
    """

    def resolve(self, path: str) -> str:
        """The absolute, normalised path; results and errors name paths this way."""
        ...

    async def stat(self, path: str, *, watch: CallWatch = UNWATCHED) -> PathInfo:
        """What is at ``path`` (``missing`` when nothing is); follows symbolic links."""
        ...

    async def read(
        self, path: str, start: int = 0, end: int | None = None, *, watch: CallWatch = UNWATCHED
    ) -> bytes:
        """The file's bytes from ``start`` up to ``end`` (the end of the file when None)."""
        ...

    async def write(self, path: str, data: bytes, *, watch: CallWatch = UNWATCHED) -> bool:
        """Create or overwrite the file, making its folders; True when it existed before."""
        ...

    async def list_dir(self, path: str, *, watch: CallWatch = UNWATCHED) -> list[str]:
        """The folder two levels deep, hidden entries and ``node_modules`` skipped.

        Entries are relative to the folder, folders end in ``/``, and each folder is
        followed by its own entries; names are sorted within a folder.
        """
        ...

    async def exec(
        self, command: str, *, timeout: float, keep: int, watch: CallWatch = UNWATCHED
    ) -> ExecResult:
        """Run ``bash -c command`` in the working directory; the call ends when bash does.

        What it prints goes to ``watch`` as it arrives, and so does what the person should
        hear about the place it runs in (a sandbox replaced, a limit reached).

        After ``timeout`` seconds the command and everything it started are killed and
        the result says ``timed_out``; cancelling the call kills them too. Processes it
        leaves running (a server started with ``&``) neither keep the call open nor die
        with it: the result's ``background`` lists them, and ``aclose`` kills them. Each
        stream keeps its first and last ``keep`` bytes (the result's gaps say what went).
        """
        ...

    async def aclose(self) -> None:
        """Kill running commands and what they left running; release what the workspace
        holds. A session closes its workspace when it resets or ends."""
        ...


class WorkspaceTools:
    """Runs ``view``, ``bash_tool``, ``create_file`` and ``str_replace`` over a Workspace.

    An ``Executor``: input is checked against the tool schemas, and bad input and file
    faults come back as error results the model can act on.
    """

    def __init__(self, workspace: Workspace, *, timeout: float, max_output_chars: int) -> None:
        self.workspace = workspace
        self.timeout = timeout
        self.max_output_chars = max_output_chars

    @property
    def tools(self) -> Sequence[ToolParam]:
        return SKILL_TOOLS

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        tool = _TOOLS_BY_NAME.get(call.name)
        if tool is None:
            return ToolResult(call.id, f"unknown tool {call.name!r}", is_error=True)
        problem = check_tool_input(tool, call.input)
        if problem:
            return ToolResult(call.id, problem, is_error=True)
        try:
            if call.name == "bash_tool":
                return await self._bash(call, watch)
            text = await self._file_tool(call.name, call.input, watch)
        except (OSError, ValueError) as error:
            return ToolResult(call.id, str(error), is_error=True)
        return ToolResult(call.id, truncate_output(text, self.max_output_chars))

    async def aclose(self) -> None:
        await self.workspace.aclose()

    async def _file_tool(self, name: str, arguments: dict[str, Any], watch: CallWatch) -> str:
        path = self.workspace.resolve(arguments["path"])
        if name == "view":
            range_ = arguments.get("view_range")
            return await view_path(self.workspace, path, range_, self.max_output_chars, watch=watch)
        if name == "create_file":
            return await create_file(self.workspace, path, arguments["file_text"], watch=watch)
        new = arguments.get("new_str") or ""
        return await replace_once(self.workspace, path, arguments["old_str"], new, watch=watch)

    async def _bash(self, call: ToolCall, watch: CallWatch) -> ToolResult:
        # each end of a stream shows at most half the limit, in characters of up to 4 bytes
        keep = self.max_output_chars // 2 * _BYTES_PER_CHAR
        result = await self.workspace.exec(
            call.input["command"], timeout=self.timeout, keep=keep, watch=watch
        )
        return ToolResult(
            call.id,
            format_exec_result(result, self.max_output_chars, timeout=self.timeout),
            is_error=result.exit_code != 0 or result.timed_out,
            exit_code=result.exit_code,
        )
