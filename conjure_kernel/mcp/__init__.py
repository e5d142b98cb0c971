"""MCP servers as tool sources: their definitions, connections, tools and results.

A layer between ``events`` and ``backends``: it knows the official ``mcp`` SDK and the
tool values, and nothing of where a backend runs its tools; a backend says how a
stdio server starts in its place (``StdioPlace``).
"""

from conjure_kernel.mcp.connection import McpConnection, StdioPlace
from conjure_kernel.mcp.registry import McpServers
from conjure_kernel.mcp.servers import HttpServer, StdioServer, servers_from_json

__all__ = [
    "HttpServer",
    "McpConnection",
    "McpServers",
    "StdioPlace",
    "StdioServer",
    "servers_from_json",
]
