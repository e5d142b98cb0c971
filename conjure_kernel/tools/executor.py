"""The seam between the tool-use loop and whatever runs tool calls.

An executor knows which tools it offers and runs one call at a time; the loop runs
several concurrently, each with the ``CallWatch`` its news goes to (the trace). Executors
report failures as ``ToolResult(is_error=True)``
rather than raising, so the model can see and react to them. ``WorkspaceTools``
(tools/workspace.py) is the executor of the four skill tools over any workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .call_watch import UNWATCHED, CallWatch
from .values import ToolCall, ToolResult

if TYPE_CHECKING:
    from anthropic.types import ToolParam

__all__ = ["Executor"]


@runtime_checkable
class Executor(Protocol):
    """Runs the tools of one backend session."""

    @property
    def tools(self) -> Sequence[ToolParam]:
        """The tool definitions sent to the model."""
        ...

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        """Run one call, telling ``watch`` what it prints and what happens meanwhile.
        Cancelling the task must stop the work (kill the process) promptly."""
        ...

    async def aclose(self) -> None:
        """Release what the executor holds (processes, containers)."""
        ...
