"""``%mcp add`` on ``%backend docker`` in a real kernel and engine: the stdio server starts
inside the session's sandbox container (its user, /workspace, no network), answers a chat
cell, and goes when the sandbox goes."""

from __future__ import annotations

import contextlib
import shutil

import docker
import pytest
from docker_support import engine_with_image, sandboxes, wait_until
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel, tool_results_of
from mcp_servers import PLAIN


@pytest.fixture(scope="module")
def client():
    return engine_with_image()


@pytest.fixture
def api():
    with FakeMessagesAPI() as server:
        yield server


def test_a_stdio_server_runs_in_the_sandbox_container(api, tmp_path, client):
    shutil.copy(PLAIN, tmp_path / "plain.py")
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    before = {container.id for container in sandboxes(client)}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        try:
            assert kernel.run("%backend docker").status == "ok"
            added = kernel.run("%mcp add plain -- python3 /workspace/plain.py")
            assert "plain [stdio: python3 /workspace/plain.py]: running in the docker sandbox" in (
                added.text()
            ), added.text()
            api.script(
                replies.tool_uses([("mcp__plain__where", {}), ("mcp__plain__reach", {})]),
                replies.text("In the box."),
            )
            result = kernel.run("Where does the plain server run?")
            assert result.status == "ok", result.error
            where, reach = tool_results_of(api.requests[-1].body["messages"][-1])
            assert where["content"].startswith("/workspace uid=") and not where["is_error"]
            assert reach["is_error"] and reach["content"].startswith("unreachable")
            [container] = [c for c in sandboxes(client) if c.id not in before]
            listed = container.top()["Processes"]
            assert any("/workspace/plain.py" in " ".join(row) for row in listed)
        finally:
            made = [c for c in sandboxes(client) if c.id not in before]
    assert wait_until(lambda: all(_gone(c) for c in made), timeout=60)


def _gone(container) -> bool:
    with contextlib.suppress(docker.errors.NotFound):
        container.reload()
        return container.status != "running"
    return True
