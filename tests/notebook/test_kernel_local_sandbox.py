"""The sandboxed local backend in a real kernel: a tool reads no secret of the kernel's
environment, ``%backend`` says what a tool can reach, and ``kill -9`` of the kernel
leaves nothing of what the tools started."""

from __future__ import annotations

import os
import shutil
import signal
import time
import uuid
from pathlib import Path

import pytest
from fakeapi import replies
from kernel_harness import RunningKernel, tool_results_of
from process_support import running_with

KEY = "sk-ant-kernel-sandbox-test-0123456789"
TOKEN = "my-token-value-0123456789"


@pytest.fixture
def kernel(api, tmp_path):
    """A kernel with a key and a secret in its environment, left in the sandbox's own
    permission mode (conftest's kernel sets ``auto``)."""
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url, "MY_TOKEN": TOKEN}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as running:
        yield running


def test_no_tool_reads_the_api_key_or_a_secret_from_the_kernels_environment(api, kernel):
    assert kernel.run("%secret MY_TOKEN").status == "ok"
    described = kernel.run("%backend").text()
    assert "bubblewrap sandbox" in described and "no network (network=off)" in described
    api.script(
        replies.tool_use("bash_tool", {"command": "cat /proc/*/environ; cat /proc/1/environ"}),
        replies.text("Nothing there."),
    )
    result = kernel.run("Look for keys")  # sandboxed, the local backend asks nothing
    assert result.status == "ok", result.error
    [sent] = tool_results_of(api.requests[-1].body["messages"][-1])
    assert "PATH=" in sent["content"]
    assert KEY not in sent["content"] and TOKEN not in sent["content"]


def test_kill_9_of_the_kernel_ends_what_its_tools_left_running(api, kernel, tmp_path):
    length = f"300.{uuid.uuid4().int % 10**9:09d}"
    api.script(
        replies.tool_use("bash_tool", {"command": f"sleep {length} & setsid sleep 1{length} &"}),
        replies.text("Started."),
    )
    assert kernel.run("Start a server").status == "ok"
    assert len(running_with(f"sleep 1{length}")) >= 1
    pid = kernel.manager.provisioner.pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while running_with(length) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_with(length) == []
    for folder in Path("/tmp").glob(f"conjure-tmp-{pid}-*"):  # the next kernel would sweep it
        shutil.rmtree(folder)
