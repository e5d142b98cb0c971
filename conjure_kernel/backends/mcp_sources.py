"""A session's MCP servers as a tool source for one turn, started where its tools run.

Split from base.py: where a stdio server starts follows the backend session (its
``mcp_place``: the local sandbox, the docker container, else this machine in the
working folder), and a replay answers MCP calls from the recording unless it re-runs
them live (``Replay.live``) and their server runs here. On the hosted backend the URL
servers go to the API's MCP connector instead (``hosted_mcp``).
"""

from __future__ import annotations

import asyncio

from ..clients.replay import Replay
from ..mcp.connection import StdioPlace
from ..mcp.executor import McpTools
from ..mcp.offered import PREFIX
from ..mcp.registry import McpServers
from ..mcp.servers import HttpServer, ServerDefinition
from ..tools.values import ToolResult
from .anthropic import AnthropicBackend
from .base import Backend, BackendSession, ExecutorSession
from .hosted_mcp import McpConnector, connector_for, hosted_lines, hosted_problem
from .hosted_session import AnthropicSession
from .hybrid_session import HybridSession

__all__ = ["backend_lines", "connector_takes", "mcp_tools_for", "place_servers"]


def place_servers(servers: McpServers, session: BackendSession) -> ExecutorSession | None:
    """Start stdio servers where ``session``'s tools run, and return it; None where tools
    do not run client-side (the hosted backend), so no MCP tool can be offered."""
    if isinstance(session, HybridSession):  # where its mcp: route (or default) says
        route = session.mcp_route
        session = route.session if route is not None else session
    if not isinstance(session, ExecutorSession):
        return None
    place = session.mcp_place or StdioPlace(cwd=str(session.workdir))
    servers.use_place(place, session)
    return session


def backend_lines(servers: McpServers, backend: Backend, name: str = "") -> list[str]:
    """What ``backend`` cannot do with the session's servers (or the one named), one line
    each: on the hosted one, stdio servers, headers its MCP connector cannot pass, URLs
    it cannot reach. Read from the backend, so that no session need open to say it."""
    return hosted_lines(servers, name) if isinstance(backend, AnthropicBackend) else []


def connector_takes(server: ServerDefinition, session: BackendSession) -> bool:
    """Whether the hosted backend's MCP connector can offer ``server`` (a URL server with a
    bearer token at most); the kernel then connects to it to list its tools."""
    return (
        isinstance(session, AnthropicSession)
        and isinstance(server, HttpServer)
        and not hosted_problem(server)
    )


async def mcp_tools_for(
    servers: McpServers, session: BackendSession, max_output_chars: int, replay: Replay | None
) -> tuple[McpTools | McpConnector | None, list[str]]:
    """The servers' tools for this turn (None when there are none to offer), and what the
    turn is to say first: a server that will not start, while the turn goes on without
    it. On the hosted backend, the URL servers the API's MCP connector is to call (a
    replay sends nothing, so it offers none)."""
    if isinstance(session, AnthropicSession):
        live = replay is None and bool(servers)
        return (await asyncio.to_thread(connector_for, servers) if live else None), []
    recorded, names = _recorded_calls(replay)
    placed = place_servers(servers, session) if servers or names else None
    if placed is None:
        return None, []
    live = replay is None or replay.live
    failed: list[str] = []
    if live and not all(connection.running for connection in servers.connections.values()):
        await placed.ready_for_programs()
        failed = await asyncio.to_thread(servers.start_stopped)
    running = {name for name, connection in servers.connections.items() if connection.running}
    served = [name for name in names if not live or _server_of(name) not in running]
    tools = servers.tools(
        max_output_chars=max_output_chars, recorded=recorded, recorded_names=served
    )
    return tools, failed


def _recorded_calls(replay: Replay | None) -> tuple[dict[str, ToolResult], list[str]]:
    """The current recorded turn's MCP results by call id, and its MCP tool names."""
    if replay is None or replay.current is None:
        return {}, []
    turn = replay.current
    calls = [call for response in turn.responses for call in response.tool_uses()]
    mcp_calls = [call for call in calls if str(call["name"]).startswith(PREFIX)]
    results = {
        call["id"]: ToolResult(
            call["id"],
            *turn.tool_results[call["id"]],
            images=tuple(dict(image) for image in turn.images.get(call["id"], ())),
        )
        for call in mcp_calls
        if call["id"] in turn.tool_results
    }
    return results, sorted({call["name"] for call in mcp_calls})


def _server_of(tool_name: str) -> str:
    return tool_name.removeprefix(PREFIX).split("__")[0]
