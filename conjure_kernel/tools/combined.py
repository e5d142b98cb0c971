"""Several executors as one: the tools of each, a call run by the one that offers it.

A backend session's own tools come first; another source (MCP servers) adds its
tools beside them for a turn without the backend knowing where they run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .call_watch import UNWATCHED, CallWatch
from .executor import Executor
from .values import ToolCall, ToolResult

if TYPE_CHECKING:
    from anthropic.types import ToolParam

__all__ = ["CombinedTools"]


class CombinedTools:
    """``Executor`` over ``executors``; a name offered twice goes to the first."""

    def __init__(self, *executors: Executor) -> None:
        self.executors = executors

    @property
    def tools(self) -> Sequence[ToolParam]:
        seen: set[str] = set()
        tools = []
        for executor in self.executors:
            for tool in executor.tools:
                if tool["name"] not in seen:
                    seen.add(tool["name"])
                    tools.append(tool)
        return tools

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        for executor in self.executors:
            if any(tool["name"] == call.name for tool in executor.tools):
                return await executor.run(call, watch)
        raise KeyError(call.name)

    async def aclose(self) -> None:
        for executor in self.executors:
            await executor.aclose()
