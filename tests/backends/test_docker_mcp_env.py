"""A stdio MCP server's environment on the docker backend, against a real engine: its
values reach the server through ``docker exec``'s own environment, never its command
line, which every user of the host can read in the process list."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from docker_support import engine_with_image, in_sandbox, spec_for
from mcp_servers import PLAIN

from conjure_kernel.backends.docker.programs import container_place
from conjure_kernel.backends.docker.workspace import DockerWorkspace
from conjure_kernel.mcp.connection import McpConnection
from conjure_kernel.mcp.executor import McpTools
from conjure_kernel.mcp.servers import StdioServer
from conjure_kernel.tools.values import ToolCall

SECRET = "s3cret-value-for-the-process-list-test"


@pytest.fixture(scope="module")
def client():
    return engine_with_image()


def command_lines() -> list[str]:
    """Every process's command line on this machine."""
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # it ended meanwhile
            continue
    return lines


def test_an_env_value_reaches_the_server_but_not_the_process_list(client, tmp_path):
    shutil.copy(PLAIN, tmp_path / "plain.py")
    server = StdioServer("plain", "python3", ("/workspace/plain.py",), {"TOKEN": SECRET})

    async def scenario(workspace: DockerWorkspace):
        await workspace.exec("true", timeout=60, keep=100)  # the container is made
        connection = McpConnection(server, container_place(workspace))
        await asyncio.to_thread(connection.start)
        try:
            tools = McpTools([connection], timeout=60, max_output_chars=1000)
            done = await tools.run(ToolCall("toolu_1", "mcp__plain__env", {"name": "TOKEN"}))
            home = await tools.run(ToolCall("toolu_2", "mcp__plain__env", {"name": "HOME"}))
            return done.content, home.content, [line for line in command_lines() if SECRET in line]
        finally:
            await asyncio.to_thread(connection.close)

    value, home, exposed = in_sandbox(client, spec_for(tmp_path), scenario)
    assert (value, exposed) == (SECRET, [])
    assert home != "(not set)" and not home.startswith(str(Path.home()))
