"""``%mcp add``'s two forms read into server definitions, and bad ones as usage errors."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from conjure_kernel.errors import McpServerError
from conjure_kernel.mcp.servers import HttpServer, StdioServer
from conjure_kernel.notebook.mcp_magics import McpMagics, parse_server


def test_a_stdio_server_with_env_and_arguments():
    words = ["files", "env=ROOT=/data", "--", "npx", "-y", "server", "--flag"]
    assert parse_server(words) == StdioServer(
        "files", "npx", ("-y", "server", "--flag"), {"ROOT": "/data"}
    )


def test_a_url_server_with_headers():
    words = ["web", "https://example.com/mcp", "header=Authorization:Bearer x:y"]
    assert parse_server(words) == HttpServer(
        "web", "https://example.com/mcp", {"Authorization": "Bearer x:y"}
    )


@pytest.mark.parametrize(
    ("words", "problem"),
    [
        (["web", "example.com"], "'example.com' is not a URL"),
        (["web", "https://h/mcp", "X-Key:1"], "'X-Key:1' is not header=KEY:VALUE"),
        (["files", "--"], "no command after --"),
    ],
)
def test_bad_forms_are_usage_errors(words, problem):
    with pytest.raises(UsageError, match=problem):
        parse_server(words)


def test_a_bad_name_is_refused():
    with pytest.raises(McpServerError, match="cannot name an MCP server"):
        parse_server(["a b", "--", "x"])


def test_the_help_names_every_form():
    doc = McpMagics.mcp.__doc__
    assert "%mcp add NAME [env=K=V …] -- COMMAND ARGS…" in doc
    assert "%mcp add NAME URL [header=K:V …]" in doc
    assert "%mcp remove NAME" in doc
