"""The running servers' tools as one ``Executor``: a call goes to its server, and whatever
goes wrong there comes back to the model as an error result, so the turn goes on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import McpServerError
from ..tools.values import ToolCall, ToolResult
from .connection import McpConnection
from .offered import OfferedTool
from .results import tool_result

__all__ = ["McpTools"]


class McpTools:
    """The tools of ``connections`` that run, under their ``mcp__SERVER__TOOL`` names.

    ``recorded`` (replay) answers a call of a server that is not running with the
    result it had when recorded, marked as not re-run.
    """

    def __init__(
        self,
        connections: Sequence[McpConnection],
        *,
        timeout: float,
        max_output_chars: int,
        recorded: Mapping[str, ToolResult] | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_output_chars = max_output_chars
        self.recorded = dict(recorded or {})
        self._tools: dict[str, tuple[McpConnection, OfferedTool]] = {
            tool.offered_name: (connection, tool)
            for connection in connections
            if connection.running
            for tool in connection.tools
        }

    @property
    def tools(self) -> Sequence[Any]:
        return [tool.to_param() for _, tool in self._tools.values()]

    def offers(self, name: str) -> bool:
        return name in self._tools

    async def run(self, call: ToolCall) -> ToolResult:
        connection, tool = self._tools[call.name]
        try:
            result = await connection.call(tool.name, call.input, self.timeout)
        except McpServerError as error:
            return ToolResult(call.id, str(error), True)
        return tool_result(call.id, result, self.max_output_chars)

    async def aclose(self) -> None:
        """Nothing: the connections belong to the session's servers, not to one turn."""
