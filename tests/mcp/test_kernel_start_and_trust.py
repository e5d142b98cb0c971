"""In a real kernel: a server stuck while starting is given up with its processes, and a
project file's servers are approved one by one."""

from __future__ import annotations

import json
import shutil
import sys
import time
import uuid
from pathlib import Path

import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel
from mcp_servers import DEMO, STUCK, STUCK_CHILD, processes_with

KEY = "sk-test-key-123"


@pytest.fixture
def api():
    with FakeMessagesAPI() as server:
        yield server


def folder_with(root: Path, project: dict[str, list[str]]) -> Path:
    """A notebook folder holding the test servers, and a ``.mcp.json`` naming ``project``'s
    servers (name → arguments after the python running demo.py)."""
    root.mkdir(parents=True)
    for server in (DEMO, STUCK):
        shutil.copy(server, root / server.name)
    entries = {
        name: {"command": sys.executable, "args": [str(root / "demo.py"), *args]}
        for name, args in project.items()
    }
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": entries}))
    return root


def test_a_server_stuck_while_starting_is_given_up_and_the_next_cell_works(api, tmp_path):
    work = folder_with(tmp_path / "work", {})
    marker = f"stuck-{uuid.uuid4().hex}"
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=work, env=env) as kernel:
        assert kernel.run("%config McpMagics.start_timeout = 2").status == "ok"
        adding = kernel.start(f"%mcp add stuck -- {sys.executable} {work / 'stuck.py'} {marker}")
        for _ in range(1200):  # until the server and its child run in the sandbox
            if processes_with(marker, STUCK_CHILD):
                break
            time.sleep(0.05)
        assert processes_with(marker, STUCK_CHILD)
        added = kernel.wait_for(adding, timeout=60)
        assert added.status == "ok", added.error
        assert added.text().splitlines() == [
            f"stuck [stdio: {sys.executable} {work / 'stuck.py'} {marker}]: failed: the MCP "
            "server stuck (in the local sandbox): it did not start within 2 s "
            "(%mcp restart stuck tries again)"
        ]
        assert processes_with(marker) == []  # the sandbox, the server and its child
        api.script(replies.text("Still here."))
        turn = kernel.run("Are you there?")
        assert turn.status == "ok", turn.error
        assert turn.record().answer == "Still here."
        assert all("stuck" not in tool["name"] for tool in api.requests[-1].body["tools"])


def test_the_project_files_servers_are_approved_one_by_one(api, tmp_path):
    work = folder_with(tmp_path / "cloned", {"demo": [], "other": []})
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=work, env=env) as kernel:
        switched = kernel.run("%backend local sandbox=off")
        assert switched.status == "ok", switched.error
        waiting = kernel.run("%mcp trust").text()
        assert waiting.splitlines() == [
            "waiting for approval (read the file first; each starts once approved):",
            f"  demo [{sys.executable} {work / 'demo.py'}] from {work / '.mcp.json'}: "
            "%mcp trust demo",
            f"  other [{sys.executable} {work / 'demo.py'}] from {work / '.mcp.json'}: "
            "%mcp trust other",
        ]
        trusted = kernel.run("%mcp trust demo").text()
        assert "approved for this session: demo" in trusted
        assert "demo [stdio:" in trusted and "running on this machine; 8 tool(s)" in trusted
        assert "other" not in trusted
        assert "does not wait for approval" in kernel.run("%mcp trust demo").text()
        assert "no MCP server is named 'gone'" in kernel.run("%mcp trust gone").error
        api.script(replies.text("Only demo."))
        turn = kernel.run("hello")
        assert turn.status == "ok", turn.error
        offered = {tool["name"] for tool in api.requests[-1].body["tools"]}
        assert "mcp__demo__echo" in offered and "mcp__other__echo" not in offered
        assert "%mcp trust NAME starts the one you approve (e.g. %mcp trust other)" in turn.text()
        listed = kernel.run("%mcp").text()
        assert "outside a sandbox it starts after %mcp trust other" in listed
