"""MCP servers in a real kernel, against the local Messages API: from ``.mcp.json`` and
``%mcp add``, offered as ``mcp__SERVER__TOOL``, run in the local sandbox, recorded, and
replayed with no server and no key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import TURN_MIME, RunningKernel, assert_every_tool_use_answered, tool_results_of
from mcp_servers import DEMO

from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC

KEY = "sk-test-key-123"


def project_folder(root: Path) -> Path:
    """A notebook folder with the demo server and a ``.mcp.json`` naming it."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEMO, root / "demo.py")
    servers = {"mcpServers": {"demo": {"command": sys.executable, "args": [str(root / "demo.py")]}}}
    (root / ".mcp.json").write_text(json.dumps(servers))
    return root


@pytest.fixture(scope="module")
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return project_folder(tmp_path_factory.mktemp("mcp") / "work")


@pytest.fixture(scope="module")
def kernel(api, work):
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=work, env=env) as running:
        yield running


@pytest.fixture(autouse=True)
def all_replies_used(api):
    yield
    assert api.pending == 0, "the test left scripted replies unused"


def last_results(api) -> list[dict]:
    return tool_results_of(api.requests[-1].body["messages"][-1])


def test_a_server_from_the_project_file_answers_a_chat_cell(api, kernel, work):
    listed = kernel.run("%mcp").text()
    assert listed.startswith(f"demo [stdio: {sys.executable} {work / 'demo.py'}]: stopped")
    api.script(replies.tool_use("mcp__demo__echo", {"text": "hello"}), replies.text("Said it."))
    result = kernel.run("Echo hello through the demo server")
    assert result.status == "ok", result.error
    offered = {tool["name"]: tool for tool in api.requests[-2].body["tools"]}
    assert offered["mcp__demo__echo"]["input_schema"]["required"] == ["text"]
    [sent] = last_results(api)
    assert (sent["content"], sent["is_error"]) == ("hello", False)
    [(call, done)] = result.record().tool_calls
    assert (call.name, call.input, done.content) == ("mcp__demo__echo", {"text": "hello"}, "hello")
    assert "running in the local sandbox; 8 tool(s): echo, shout" in kernel.run("%mcp").text()


def test_an_image_result_reaches_the_model_as_an_image_block(api, kernel):
    api.script(replies.tool_use("mcp__demo__pixel", {}), replies.text("A pixel."))
    assert kernel.run("Show me the pixel").status == "ok"
    [sent] = last_results(api)
    assert [block["type"] for block in sent["content"]] == ["text", "image"]
    assert sent["content"][1]["source"]["media_type"] == "image/png"


def test_a_failing_tool_and_a_hung_one_are_error_results_and_the_session_goes_on(api, kernel):
    assert kernel.run("%config McpMagics.timeout = 2").status == "ok"
    assert kernel.run("%reset").status == "ok"  # a new conversation; the servers stay
    api.script(
        replies.tool_uses([("mcp__demo__fail", {"reason": "no data"}), ("mcp__demo__hang", {})]),
        replies.text("Both failed."),
    )
    result = kernel.run("Try both")
    assert result.status == "ok", result.error
    failed, hung = last_results(api)
    assert failed["is_error"] and "it failed: no data" in failed["content"]
    assert hung["is_error"]
    assert hung["content"].startswith("the MCP server demo (in the local sandbox): hang did not")
    api.script(replies.tool_use("mcp__demo__echo", {"text": "still"}), replies.text("ok"))
    assert kernel.run("Again").status == "ok"
    assert last_results(api)[0]["content"] == "still"


def test_an_interrupt_cancels_a_hung_call_and_the_server_goes_on(api, kernel):
    api.script(replies.tool_use("mcp__demo__hang", {"seconds": 120}))
    msg_id = kernel.start("Hang for a while")
    while True:  # until the live view shows the call running
        html = kernel.client.get_iopub_msg(timeout=30)["content"].get("data", {})
        if "mcp__demo__hang" in html.get("text/html", "") and "running" in html["text/html"]:
            break
    kernel.manager.interrupt_kernel()
    result = kernel.wait_for(msg_id, timeout=30)
    assert result.reply["content"]["ename"] == "TurnInterrupted"
    api.script(replies.tool_use("mcp__demo__echo", {"text": "awake"}), replies.text("Back."))
    assert kernel.run("Still there?").status == "ok"
    history = api.requests[-1].body["messages"]
    assert_every_tool_use_answered(history)
    assert last_results(api)[0]["content"] == "awake"


def test_mcp_add_list_and_remove(kernel, work):
    command = f"%mcp add other -- {sys.executable} {work / 'demo.py'}"
    assert "other [stdio:" in kernel.run(command).text()
    assert "running in the local sandbox" in kernel.run("%mcp").text()
    broken = kernel.run("%mcp add nope -- no-such-mcp-program")
    assert broken.status == "ok"
    assert "nope [stdio: no-such-mcp-program]: failed: the MCP server nope" in broken.text()
    assert "(%mcp restart nope tries again)" in kernel.run("%mcp").text()
    retried = kernel.run("%mcp restart nope")
    assert retried.status == "ok" and "nope [stdio: no-such-mcp-program]: failed" in retried.text()
    assert "no MCP server is named 'gone'" in kernel.run("%mcp restart gone").error
    bad = kernel.run("%mcp add web not-a-url")
    assert bad.status == "error" and "'not-a-url' is not a URL" in bad.error
    assert "removed the MCP server other" in kernel.run("%mcp remove other").text()
    assert kernel.run("%mcp remove nope").status == "ok"
    assert "no MCP server is named 'other'" in kernel.run("%mcp remove other").error


def test_replay_with_no_server_and_no_key_answers_from_the_recording(tmp_path):
    recorded_in = project_folder(tmp_path / "recorded")
    with FakeMessagesAPI() as api:
        api.script(
            replies.tool_use("mcp__demo__shout", {"text": "hi", "times": 2}), replies.text("Loud.")
        )
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
        with RunningKernel("conjure", cwd=recorded_in, env=env) as kernel:
            recorded = kernel.run("Shout hi twice")
    assert recorded.status == "ok", recorded.error
    elsewhere = tmp_path / "elsewhere"  # no .mcp.json, no demo.py
    elsewhere.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    notebook.cells = [nbformat.v4.new_code_cell("Shout hi twice")]
    notebook.cells[0].outputs = [
        nbformat.v4.new_output("display_data", data=recorded.bundles()[-1])
    ]
    nbformat.write(notebook, elsewhere / "shout.ipynb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "conjure_kernel",
            "replay",
            "shout.ipynb",
            "--strict",
            "--output",
            "out.ipynb",
        ],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same as recorded" in done.stdout
    replayed = nbformat.read(elsewhere / "out.ipynb", as_version=4)
    [output] = [o for o in replayed.cells[0].outputs if TURN_MIME in o.get("data", {})]
    plain = output["data"]["text/plain"]
    assert "replayed: the MCP server demo's calls are answered as recorded, not re-run" in plain
    [(call, result)] = TurnRecord.from_json(output["data"][TURN_MIME]).tool_calls
    assert (call.name, result.content, result.is_error) == ("mcp__demo__shout", "HI HI", False)


def test_a_bad_project_file_entry_is_one_warning_and_the_rest_is_kept(tmp_path):
    folder = project_folder(tmp_path / "bad")
    servers = json.loads((folder / ".mcp.json").read_text())
    servers["mcpServers"]["broken"] = {"type": "sse", "url": "http://h/sse"}
    (folder / ".mcp.json").write_text(json.dumps(servers))
    with RunningKernel("conjure", cwd=folder, env={}) as kernel:
        listed = kernel.run("%mcp")
    assert listed.status == "ok"
    assert f"warning: the MCP server 'broken' in {folder / '.mcp.json'} has type 'sse'" in (
        listed.text()
    )
    assert "demo [stdio:" in listed.text()  # the file's other servers are kept


def test_outside_a_sandbox_the_project_files_server_starts_only_after_mcp_trust(tmp_path):
    folder = project_folder(tmp_path / "cloned")
    with FakeMessagesAPI() as api:
        env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
        with RunningKernel("conjure", cwd=folder, env=env) as kernel:
            switched = kernel.run("%backend local sandbox=off")
            assert switched.status == "ok", switched.error
            api.script(replies.text("No tools."))
            turn = kernel.run("hello")
            assert "demo from " in turn.text() and "%mcp trust demo" in turn.text()
            assert "mcp__demo__echo" not in {t["name"] for t in api.requests[-1].body["tools"]}
            assert "after %mcp trust demo" in kernel.run("%mcp").text()
            trusted = kernel.run("%mcp trust demo").text()
            assert "approved for this session: demo" in trusted
            assert "running on this machine; 8 tool(s)" in trusted


def test_on_the_hosted_backend_mcp_add_defines_a_server_without_starting_it(api, tmp_path):
    shutil.copy(DEMO, tmp_path / "demo.py")
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        switched = kernel.run("%backend anthropic")
        assert switched.status == "ok", switched.error
        added = kernel.run(f"%mcp add demo -- {sys.executable} {tmp_path / 'demo.py'}")
        assert "demo: defined; it starts on a backend that runs tools here" in added.text()
        assert f"demo [stdio: {sys.executable} {tmp_path / 'demo.py'}]: stopped" in (
            kernel.run("%mcp").text()
        )
