"""The fake API's MCP connector: a request's URL servers, listed and called as the API does.

A request that carries ``mcp_servers`` is held to the connector's rules before any reply
is used: the ``mcp-client-2025-11-20`` beta, ``type: "url"`` servers with unique names,
each referenced by exactly one ``mcp_toolset`` and every toolset naming one of them.
The connector then lists each server's tools itself, with the official ``mcp`` client
(``authorization_token`` as a bearer token), and keeps what each toolset offers, after
its ``default_config`` and ``configs``, in ``offered`` (one entry per request).

A scripted reply calls a tool with ``mcp_call(SERVER, TOOL, INPUT)``: the connector
calls it on the server and puts its ``mcp_tool_result`` right after the call, text
blocks only, as the SDK's ``BetaMCPToolResultBlock`` holds; both stream as the API
streams them (the call's input in ``input_json_delta`` pieces, the result whole). A
call of a tool the request does not offer fails the request loudly, as a mistake in the
test's script, since the model could not have made it.

Where it departs from the API: it reaches the test's servers on 127.0.0.1 over plain
http, which the real connector, on Anthropic's side and https only, could not.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from .replies import ErrorReply, MessageReply, Reply

__all__ = ["MCP_BETAS", "McpConnector", "mcp_call"]

MCP_BETAS = frozenset({"mcp-client-2025-11-20", "mcp-client-2026-09-15"})
"""The betas that turn the connector on (``anthropic_beta_param.py``)."""


def mcp_call(
    server: str, tool: str, input: Mapping[str, Any], *, id: str | None = None
) -> dict[str, Any]:
    """An ``mcp_tool_use`` block for a scripted reply; the connector adds its result."""
    return {
        "type": "mcp_tool_use",
        "id": id or f"mcptoolu_01{uuid.uuid4().hex[:22]}",
        "name": tool,
        "server_name": server,
        "input": dict(input),
    }


class McpConnector:
    """What the fake connector did: the tools each request offered; thread-safe."""

    def __init__(self) -> None:
        self.offered: list[dict[str, list[str]]] = []
        """Per request with ``mcp_servers``: server name → the tools offered to the model."""
        self._lock = threading.Lock()

    def problem(self, body: Mapping[str, Any], betas: str) -> ErrorReply | None:
        """The API's 400 for a request the connector refuses, else ``None``."""
        servers = body.get("mcp_servers")
        toolsets = [tool for tool in body.get("tools") or () if tool.get("type") == "mcp_toolset"]
        given = {server.get("name") for server in servers or ()}
        for message in (
            body.get("messages") or ()
        ):  # as we read the API: no block without its server
            for block in message.get("content") if isinstance(message.get("content"), list) else ():
                if block.get("type") == "mcp_tool_use" and block.get("server_name") not in given:
                    return _invalid(
                        f"messages: an mcp_tool_use block names the MCP server "
                        f"{block.get('server_name')!r}, which is not in mcp_servers"
                    )
        if servers is None:
            return _invalid("tools: an mcp_toolset needs mcp_servers") if toolsets else None
        if not MCP_BETAS & {beta.strip() for beta in betas.split(",")}:
            return _invalid("mcp_servers: requires the anthropic-beta header mcp-client-2025-11-20")
        names = [server.get("name") for server in servers]
        for server in servers:
            if server.get("type") != "url" or not server.get("url") or not server.get("name"):
                return _invalid("mcp_servers: each server needs type 'url', a url and a name")
        if len(set(names)) != len(names):
            return _invalid("mcp_servers: server names must be unique")
        referenced = [toolset.get("mcp_server_name") for toolset in toolsets]
        for name in names:
            if referenced.count(name) != 1:
                return _invalid(f"mcp_servers: {name!r} must be referenced by exactly one toolset")
        for name in referenced:
            if name not in names:
                return _invalid(f"tools: mcp_toolset names {name!r}, which is not in mcp_servers")
        return None

    def answer(self, body: Mapping[str, Any], reply: Reply) -> Reply:
        """``reply`` with each scripted MCP call made and its result after it; the
        request's servers are listed whatever the reply (a test reads ``offered``)."""
        servers = body.get("mcp_servers")
        if not servers:
            return reply
        toolsets = {
            tool["mcp_server_name"]: tool
            for tool in body.get("tools") or ()
            if tool.get("type") == "mcp_toolset"
        }
        calls = (
            [b for b in reply.content if b.get("type") == "mcp_tool_use"]
            if isinstance(reply, MessageReply)
            else []
        )
        try:
            offered, results = asyncio.run(_list_and_call(servers, toolsets, calls))
        except Exception as error:  # the API's words for a server it cannot use
            return _invalid(f"mcp_servers: could not connect to an MCP server: {error!r}")
        with self._lock:
            self.offered.append(offered)
        if isinstance(results, ErrorReply):
            return results
        if not isinstance(reply, MessageReply):
            return reply
        content: list[dict[str, Any]] = []
        for block in reply.content:
            content.append(block)
            if block.get("type") == "mcp_tool_use":
                content.append(results[block["id"]])
        return MessageReply(tuple(content), reply.stop_reason, reply.container)


async def _list_and_call(
    servers: Sequence[Mapping[str, Any]],
    toolsets: Mapping[str, Mapping[str, Any]],
    calls: Sequence[Mapping[str, Any]],
) -> tuple[dict[str, list[str]], dict[str, dict[str, Any]] | ErrorReply]:
    """Each server's offered tools, and the result block of each call by its id (or the
    fake's error for a call of a tool not offered)."""
    offered: dict[str, list[str]] = {}
    results: dict[str, dict[str, Any]] = {}
    for server in servers:
        name = server["name"]
        token = server.get("authorization_token")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            create_mcp_http_client(headers=headers) as client,
            streamable_http_client(server["url"], http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            listed = (await session.list_tools()).tools
            offered[name] = [t.name for t in listed if _enabled(toolsets[name], t.name)]
            for call in (c for c in calls if c["server_name"] == name):
                if call["name"] not in offered[name]:
                    return offered, ErrorReply(
                        500,
                        "api_error",
                        f"fake Messages API: the script calls the MCP tool {call['name']} "
                        f"of {name}, which the request does not offer ({offered[name]})",
                    )
                done = await session.call_tool(call["name"], dict(call["input"]))
                results[call["id"]] = _result_block(call["id"], done)
    for call in calls:
        if call["id"] not in results:
            return offered, ErrorReply(
                500,
                "api_error",
                f"fake Messages API: the script calls the MCP server {call['server_name']}, "
                "which the request does not name",
            )
    return offered, results


def _enabled(toolset: Mapping[str, Any], tool: str) -> bool:
    """A tool's ``enabled``: its own config, else the toolset's default, else on."""
    config = (toolset.get("configs") or {}).get(tool) or {}
    default = toolset.get("default_config") or {}
    return bool(config.get("enabled", default.get("enabled", True)))


def _result_block(call_id: str, done: types.CallToolResult) -> dict[str, Any]:
    texts = [block.text for block in done.content if isinstance(block, types.TextContent)]
    return {
        "type": "mcp_tool_result",
        "tool_use_id": call_id,
        "is_error": bool(done.is_error),
        "content": [{"type": "text", "text": text} for text in texts],
    }


def _invalid(message: str) -> ErrorReply:
    return ErrorReply(400, "invalid_request_error", message)
