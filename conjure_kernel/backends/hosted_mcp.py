"""MCP servers on the hosted backend: URL servers through the API's MCP connector.

On ``anthropic`` no program starts on this machine and no tool call passes through the
kernel: a request names its URL servers (``mcp_servers``, an ``mcp_toolset`` each in
``tools``, the connector's beta), Anthropic calls their tools while the model writes,
and the calls come back as ``mcp_tool_use`` and ``mcp_tool_result`` blocks, shown,
recorded and replayed as server-side calls named ``mcp__SERVER__TOOL``.

Since no gate stands between the connector and a server, the rules are applied before
anything is sent. The kernel connects to each URL server as the other backends do, to
list its tools; a server the rules deny (``mcp__SERVER__*``) stays out of the request,
and the toolset is an allowlist of the listed tools no rule denies, so one the server
adds later is not offered unchecked. A rule's pattern cannot be checked here (the call
happens at Anthropic), so a deny rule that names a tool keeps it out whatever its
pattern. A server no rule allows is
asked about before it is offered, as a URL server on the other backends is at its first
call: where the mode would run its tools unasked (``auto``), once, a yes allowing
``mcp__SERVER__*`` for the session; under ``ask``, once a turn, a yes offering it for
that turn and "always" for the session, and the question says so.

What cannot be offered is said in one line, once a session: a stdio server (no program
starts here), a server whose headers are more than a bearer token (the connector takes
``authorization_token`` only). A URL the API cannot reach (this machine, a private
network) or may refuse (plain http) is warned about, and still offered.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..clients.base import ModelRequest
from ..clients.server_tools import mcp_tool_name
from ..events import ApprovalAnswered, ApprovalAsked, Event, Notice
from ..mcp.connection import McpConnection
from ..mcp.registry import McpServers
from ..mcp.servers import HttpServer, ServerDefinition, StdioServer
from ..tools.call_watch import UNWATCHED, CallWatch
from ..tools.values import ToolCall, ToolResult
from .gate import OPEN, Gate

__all__ = [
    "MCP_CONNECTOR_BETA",
    "McpConnector",
    "connector_for",
    "hosted_lines",
    "hosted_problem",
]

MCP_CONNECTOR_BETA = "mcp-client-2025-11-20"
_SERVER_WIDE = " (yes allows every tool of"
"""How the gate's question ends when a yes allows the server's tools for the session."""
_ONE_TURN = " (yes offers it for this turn; always, for the rest of the session)"
"""What the question says otherwise (``ask``): a yes holds for the turn it was asked in."""


def hosted_problem(server: ServerDefinition) -> str:
    """Why the connector cannot offer ``server``, else empty."""
    if isinstance(server, StdioServer):
        return (
            f"the MCP server {server.name} is not offered on the anthropic backend: it runs "
            "over stdio, and stdio servers start on the local, docker and native backends only"
        )
    others = sorted(name for name in server.headers if name.lower() != "authorization")
    if others or (server.headers and bearer_token(server) is None):
        named = ", ".join(others) or "an Authorization header that is not a bearer token"
        return (
            f"the MCP server {server.name} is not offered on the anthropic backend: the "
            f"API's MCP connector passes only a bearer token, and it needs {named}"
        )
    return ""


def reach_warning(server: HttpServer) -> str:
    """A warning when the API is unlikely to reach ``server``'s URL, else empty."""
    url = urlsplit(server.url)
    host = url.hostname or ""
    if _local(host):
        return (
            f"the MCP server {server.name} is at {server.url}, an address of this "
            "machine or its network: the API's MCP connector calls it from Anthropic's "
            "side, where it cannot be reached, so its calls will fail"
        )
    if url.scheme != "https":
        return (
            f"the MCP server {server.name} is at {server.url}: the API's MCP "
            "connector takes https URLs, so its requests may be refused"
        )
    return ""


def hosted_lines(servers: McpServers, name: str = "") -> list[str]:
    """What the hosted backend cannot do with each server (or the one named), one line
    each: for ``%mcp``, ``%backend anthropic`` and the turn."""
    lines = []
    for connection in servers.connections.values():
        server = connection.server
        if name and server.name != name:
            continue
        if problem := hosted_problem(server):
            lines.append(problem)
        elif isinstance(server, HttpServer) and (warning := reach_warning(server)):
            lines.append(warning)
    return lines


def bearer_token(server: HttpServer) -> str | None:
    """The token of an ``Authorization: Bearer …`` header; None without one (or with
    another scheme)."""
    for name, value in server.headers.items():
        scheme, _, token = value.strip().partition(" ")
        if name.lower() == "authorization" and scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return None


@dataclass
class McpConnector:
    """The URL servers a hosted turn may offer through the connector.

    An ``Executor`` in shape (the turn's ``more_tools``), whose calls the API runs:
    ``settle`` applies the rules and asks the person, then ``joined`` puts what is
    offered into each request of the turn.
    """

    candidates: Sequence[McpConnection]
    """Running URL servers the connector can pass (a bearer token at most)."""
    notices: list[str] = field(default_factory=list)
    """What the person hears before the turn's first request."""
    offered: dict[str, tuple[HttpServer, list[str]]] = field(default_factory=dict)
    """After ``settle``: each server offered, with the tools the rules leave on."""

    @property
    def outside(self) -> dict[str, tuple[str, str]]:
        """For the gate: each server's tools as one name, ``mcp__SERVER__*``, with the
        server and its URL, so a mode that would just run them asks once."""
        return {
            _all_tools(c.server.name): (c.server.name, c.server.describe()) for c in self.candidates
        }

    @property
    def tools(self) -> list[dict[str, Any]]:
        """One allowlist toolset per server offered."""
        return [
            {
                "type": "mcp_toolset",
                "mcp_server_name": name,
                "default_config": {"enabled": False},
                "configs": {tool: {"enabled": True} for tool in tools},
            }
            for name, (_, tools) in self.offered.items()
        ]

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        """Never asked: the API calls these tools itself."""
        return ToolResult(call.id, "not run here: the API's MCP connector runs it", True)

    async def aclose(self) -> None:
        """Nothing: the connections belong to the session's servers."""

    async def settle(self, gate: Gate | None) -> AsyncIterator[Event]:
        """Say what the person should hear, then decide each server as the rules and the
        person say (``gate``; None: every server is offered), and its tools by the rules."""
        for line in self.notices:
            yield Notice(line, "warning")
        for connection in self.candidates:
            server = connection.server
            assert isinstance(server, HttpServer)
            probe = ToolCall(f"mcp_server_{server.name}", _all_tools(server.name), {})
            verdict = OPEN if gate is None else gate.check(probe)
            if gate is not None and verdict.allowed is None:
                question = dataclasses.replace(verdict, prompt=_question(server, verdict.prompt))
                yield ApprovalAsked(probe, question.prompt)
                verdict = await gate.ask(probe, question)
            if verdict.shown:
                yield ApprovalAnswered(probe, bool(verdict.allowed), verdict.reason)
            if not verdict.allowed:
                continue
            tools = [tool.name for tool in connection.tools if _left_on(gate, tool.offered_name)]
            if tools:
                self.offered[server.name] = (server, tools)

    def joined(self, request: ModelRequest) -> ModelRequest:
        """``request`` with the offered servers, their toolsets and the connector's beta."""
        if not self.offered:
            return request
        servers = [_server_param(server) for server, _ in self.offered.values()]
        return dataclasses.replace(
            request,
            tools=[*request.tools, *self.tools],
            extra={**request.extra, "mcp_servers": servers},
            betas=tuple(dict.fromkeys([*request.betas, MCP_CONNECTOR_BETA])),
        )


def connector_for(servers: McpServers) -> McpConnector:
    """The session's URL servers for one hosted turn, started (listed) from the kernel if
    they are not yet; blocks, so a turn calls it in a thread."""
    notices = servers.start_stopped(stdio=False)
    told = [line for line in hosted_lines(servers) if servers.first_time(line)]
    candidates = [
        connection
        for connection in servers.connections.values()
        if isinstance(connection.server, HttpServer)
        and connection.running
        and not hosted_problem(connection.server)
        and not servers.unapproved(connection)
    ]
    return McpConnector(candidates, [*notices, *told])


def _all_tools(server: str) -> str:
    return mcp_tool_name(server, "*")


def _left_on(gate: Gate | None, name: str) -> bool:
    """Whether the tool ``name`` may be offered: the mode allows it and no deny rule names
    it, whatever its pattern (the connector's calls pass no gate that could read one)."""
    if gate is None:
        return True
    return (
        not gate.names_denied(name)
        and gate.check(ToolCall(f"mcp_tool_{name}", name, {})).allowed is not False
    )


def _question(server: HttpServer, asked: str) -> str:
    """What the person is asked before a server is offered, and how long each answer
    holds: the gate's own words when a yes allows the server for the session."""
    held = asked[asked.rfind(_SERVER_WIDE) :] if _SERVER_WIDE in asked else _ONE_TURN
    return (
        f"be offered on the anthropic backend: the API's MCP connector calls the tools of "
        f"{server.url} from Anthropic's side whenever Claude asks, with no question per "
        f"call{held}"
    )


def _server_param(server: HttpServer) -> dict[str, Any]:
    """The ``mcp_servers`` entry of a server (``BetaRequestMCPServerURLDefinitionParam``)."""
    param: dict[str, Any] = {"type": "url", "url": server.url, "name": server.name}
    if (token := bearer_token(server)) is not None:
        param["authorization_token"] = token
    return param


def _local(host: str) -> bool:
    """Whether ``host`` names this machine or a private network, out of Anthropic's reach."""
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host  # a bare name resolves on this network only
    return address.is_private or address.is_loopback or address.is_link_local
