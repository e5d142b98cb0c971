"""The session's servers: approved one by one, and what cannot be done said once."""

from __future__ import annotations

import sys

from mcp_servers import STUCK

from conjure_kernel.mcp.registry import McpServers
from conjure_kernel.mcp.servers import HttpServer, StdioServer


def test_a_project_files_servers_are_approved_one_at_a_time():
    servers = McpServers()
    servers.define(StdioServer("a", "prog-a"), project_file="/repo/.mcp.json")
    servers.define(HttpServer("b", "https://h/mcp"), project_file="/repo/.mcp.json")
    servers.define(StdioServer("mine", "prog"))
    [waiting] = servers.start_stopped(stdio=False)  # b is a URL server: it waits
    assert waiting.endswith(
        "read the file, then %mcp trust NAME starts the one you approve (e.g. %mcp trust b)"
    )
    assert servers.trust("a")
    assert not servers.trust("a") and not servers.trust("mine")
    assert servers.awaiting == {"b": "/repo/.mcp.json"}


def test_a_line_is_said_the_first_time_only():
    servers = McpServers()
    assert servers.first_time("x") and not servers.first_time("x")
    assert servers.first_time("y")


def test_the_start_timeout_applies_to_every_start():
    servers = McpServers(start_timeout=1)
    connection = servers.add(StdioServer("stuck", sys.executable, (str(STUCK), "stuck-registry")))
    assert connection.fault == (
        "the MCP server stuck (on this machine): it did not start within 1 s"
    )
