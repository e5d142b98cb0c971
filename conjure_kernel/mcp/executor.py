"""The running servers' tools as one ``Executor``: a call goes to its server, and whatever
goes wrong there comes back to the model as an error result, so the turn goes on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import McpServerError
from ..tools.call_watch import UNWATCHED, CallWatch
from ..tools.values import ToolCall, ToolResult
from .connection import McpConnection
from .offered import PREFIX, OfferedTool
from .results import tool_result
from .servers import HttpServer

__all__ = ["McpTools"]


class McpTools:
    """The tools of ``connections`` that run, under their ``mcp__SERVER__TOOL`` names.

    ``recorded`` (a replay's results, by call id) answers a call under one of
    ``recorded_names`` (a server's tool not run live) as it was answered when recorded;
    the call's watch then hears, once per server, that its calls were not re-run.
    """

    def __init__(
        self,
        connections: Sequence[McpConnection],
        *,
        timeout: float,
        max_output_chars: int,
        recorded: Mapping[str, ToolResult] | None = None,
        recorded_names: Sequence[str] = (),
    ) -> None:
        self.timeout = timeout
        self.max_output_chars = max_output_chars
        self.recorded = dict(recorded or {})
        self.recorded_names = set(recorded_names)
        self._told: set[str] = set()
        """The servers whose recorded results were served, and said so."""
        self._tools: dict[str, tuple[McpConnection, OfferedTool]] = {
            tool.offered_name: (connection, tool)
            for connection in connections
            if connection.running
            for tool in connection.tools
        }

    @property
    def outside(self) -> dict[str, tuple[str, str]]:
        """The tools of servers reached over HTTP, by name → (the server's name, its URL):
        they run outside any sandbox, so the gate asks about them."""
        return {
            name: (connection.server.name, connection.server.url)
            for name, (connection, _) in self._tools.items()
            if isinstance(connection.server, HttpServer)
        }

    @property
    def tools(self) -> Sequence[Any]:
        live = [tool.to_param() for _, tool in self._tools.values()]
        served = sorted(self.recorded_names - self._tools.keys())
        return live + [{"name": name, "input_schema": {"type": "object"}} for name in served]

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        if call.name in self.recorded_names and call.id in self.recorded:
            self._tell_served(call.name, watch)
            return self.recorded[call.id]
        connection, tool = self._tools[call.name]
        try:
            result = await connection.call(tool.name, call.input, self.timeout)
        except McpServerError as error:
            return ToolResult(call.id, str(error), True)
        return tool_result(call.id, result, self.max_output_chars)

    def _tell_served(self, name: str, watch: CallWatch) -> None:
        server = name.removeprefix(PREFIX).split("__")[0]
        if server not in self._told:
            self._told.add(server)
            watch.notice(
                f"replayed: the MCP server {server}'s calls are answered as recorded, not re-run"
            )

    async def aclose(self) -> None:
        """Nothing: the connections belong to the session's servers, not to one turn."""
