"""Server definitions read from the ``.mcp.json`` shape, and their faults in one line."""

from __future__ import annotations

import pytest

from conjure_kernel.errors import McpServerError
from conjure_kernel.mcp.servers import HttpServer, StdioServer, servers_from_json


def test_claude_codes_project_file_shape_is_read():
    data = {
        "mcpServers": {
            "files": {"command": "npx", "args": ["-y", "server-files"], "env": {"ROOT": "."}},
            "web": {"type": "http", "url": "https://example.com/mcp", "headers": {"X-Key": "k"}},
        }
    }
    assert servers_from_json(data) == [
        StdioServer("files", "npx", ("-y", "server-files"), {"ROOT": "."}),
        HttpServer("web", "https://example.com/mcp", {"X-Key": "k"}),
    ]


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"args": ["x"]}, "the MCP server 'bad' in .mcp.json needs a command or a url"),
        (
            {"type": "sse", "url": "http://h/sse"},
            "the MCP server 'bad' in .mcp.json has type 'sse'",
        ),
        (
            {"type": "http", "url": "ftp://h"},
            "the MCP server 'bad' in .mcp.json needs an http(s) url",
        ),
        (
            {"command": "x", "args": "y"},
            "the args of the MCP server 'bad' in .mcp.json must be strings",
        ),
    ],
)
def test_a_bad_entry_is_one_line_naming_server_and_file(entry, problem):
    with pytest.raises(McpServerError) as raised:
        servers_from_json({"mcpServers": {"bad": entry}}, source=".mcp.json")
    assert str(raised.value) == problem


@pytest.mark.parametrize("name", ["a b", "gh__x", "gh_", "_gh"])
def test_a_name_that_cannot_go_into_tool_names_is_refused(name):
    with pytest.raises(McpServerError, match="cannot name an MCP server"):
        servers_from_json({name: {"command": "x"}})
    with pytest.raises(McpServerError, match="cannot name an MCP server"):
        servers_from_json({"a__b": {"command": "x"}})


def test_variables_are_filled_from_the_kernels_environment(monkeypatch):
    monkeypatch.setenv("MCP_TEST_TOKEN", "s3cret")
    monkeypatch.setenv("MCP_TEST_HOST", "example.com")
    monkeypatch.delenv("MCP_TEST_UNSET", raising=False)
    data = {
        "files": {
            "command": "${MCP_TEST_BIN:-npx}",
            "args": ["--root", "${MCP_TEST_UNSET:-/data}"],
            "env": {"TOKEN": "${MCP_TEST_TOKEN}"},
        },
        "web": {
            "url": "https://${MCP_TEST_HOST}/mcp",
            "headers": {"Authorization": "Bearer ${MCP_TEST_TOKEN}"},
        },
    }
    assert servers_from_json(data) == [
        StdioServer("files", "npx", ("--root", "/data"), {"TOKEN": "s3cret"}),
        HttpServer("web", "https://example.com/mcp", {"Authorization": "Bearer s3cret"}),
    ]


def test_an_unset_variable_without_a_default_is_one_line(monkeypatch):
    monkeypatch.delenv("MCP_TEST_UNSET", raising=False)
    data = {"web": {"url": "https://h/mcp", "headers": {"X-Key": "${MCP_TEST_UNSET}"}}}
    with pytest.raises(McpServerError) as raised:
        servers_from_json(data, source=".mcp.json")
    assert str(raised.value).startswith(
        "the MCP server 'web' in .mcp.json uses ${MCP_TEST_UNSET}, which is not set in the "
        "kernel's environment"
    )
