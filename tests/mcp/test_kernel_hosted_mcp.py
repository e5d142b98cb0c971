"""MCP servers on ``%backend anthropic``, in a real kernel against the fake API's MCP
connector: a URL server is offered through the connector once the person says yes, its
calls show, are recorded and replay as server-side calls; deny rules keep tools and
servers out of the request; what cannot be offered there is said in one line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fakeapi import FakeMessagesAPI, replies
from fakeapi.mcp_connector import mcp_call
from kernel_harness import TURN_MIME, RunningKernel
from mcp_servers import DEMO, serving_http

from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.conversation.turn import ApprovalEntry
from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC

KEY = "sk-test-key-123"
TOKEN = "tok-web-123"
DEMO_TOOLS = ["echo", "shout", "forecast", "pixel", "fail", "hang", "crash", "where"]


@pytest.fixture
def api():
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def url():
    with serving_http() as served:
        yield served


def messages_to(api: FakeMessagesAPI) -> list:
    return api.requests_to("POST", "/v1/messages")


def toolsets(body: dict) -> dict[str, dict]:
    return {
        tool["mcp_server_name"]: tool for tool in body["tools"] if tool.get("type") == "mcp_toolset"
    }


def test_a_url_server_is_offered_through_the_connector_and_replays(api, url, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(DEMO, work / "demo.py")
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=work, env=env) as kernel:
        assert kernel.run("%backend anthropic").status == "ok"
        stdio = kernel.run(f"%mcp add local -- {sys.executable} {work / 'demo.py'}").text()
        assert stdio.splitlines() == [
            "local: defined; it starts on a backend that runs tools here",
            "the MCP server local is not offered on the anthropic backend: it runs over "
            "stdio, and stdio servers start on the local, docker and native backends only",
        ]
        keyed = kernel.run(f"%mcp add keyed {url} header=X-Key:k").text()
        assert "it needs X-Key" in keyed and "keyed: defined" in keyed
        added = kernel.run(f"%mcp add web {url} 'header=Authorization:Bearer {TOKEN}'").text()
        assert f"web [http: {url}]: running over HTTP; 8 tool(s): echo, shout" in added
        assert f"the MCP server web is at {url}, an address of this machine" in added
        listed = kernel.run("%mcp").text()
        assert "stdio servers start on the local, docker and native backends only" in listed
        assert "it needs X-Key" in listed and "the MCP server web is at" in listed
        switched = kernel.run("%backend anthropic").text()  # again: it says the same
        assert "stdio servers start on the local, docker and native backends only" in switched
        assert "the MCP server web is at" in switched

        api.script(
            replies.message(
                mcp_call("web", "shout", {"text": "hi", "times": 2}),
                {"type": "text", "text": "It shouted HI HI."},
            )
        )
        result, prompts = kernel.run_answering("Shout hi twice", ["y"])
        assert result.status == "ok", result.error
        assert len(prompts) == 1
        assert prompts[0].startswith(
            "Allow mcp__web__* to be offered on the anthropic backend: the API's MCP "
            f"connector calls the tools of {url} from Anthropic's side"
        )
        assert "(yes allows every tool of web for this session)?" in prompts[0]
        [request] = messages_to(api)
        body = request.body
        assert "mcp-client-2025-11-20" in request.headers["anthropic-beta"]
        assert body["mcp_servers"] == [
            {"type": "url", "url": url, "name": "web", "authorization_token": TOKEN}
        ]
        web = toolsets(body)["web"]
        assert web["default_config"] == {"enabled": False}
        assert sorted(web["configs"]) == sorted(DEMO_TOOLS)
        assert api.connector.offered == [{"web": DEMO_TOOLS}]
        record = result.record()
        [(call, done)] = record.tool_calls
        assert (call.name, call.input) == ("mcp__web__shout", {"text": "hi", "times": 2})
        assert (done.content, done.is_error) == ("HI HI", False)
        [tool] = record.timeline.tools
        assert tool.server  # shown as a server-side call, like hosted code execution
        shown = result.text()
        assert "stdio servers start on the local, docker and native backends only" in shown
        assert "the MCP server keyed is not offered on the anthropic backend" in shown

        allowed = kernel.run("%permissions deny=mcp__web__fail")
        assert allowed.status == "ok", allowed.error
        api.script(replies.text("No shouting now."))
        again = kernel.run("Anything?")  # no stdin: it was allowed for the session
        assert again.status == "ok", again.error
        body = messages_to(api)[-1].body
        assert "fail" not in toolsets(body)["web"]["configs"]
        assert "shout" in toolsets(body)["web"]["configs"]
        assert "stdio servers" not in again.text()  # said once a session

        assert kernel.run("%permissions deny=mcp__web__*").status == "ok"
        api.script(replies.text("No server."))
        denied = kernel.run("And now?")
        assert denied.status == "ok", denied.error
        body = messages_to(api)[-1].body
        assert "mcp_servers" not in body and not toolsets(body)
        # the earlier calls stay in the conversation, as text the API takes without them
        texts = [
            block.get("text")
            for message in body["messages"]
            if isinstance(message["content"], list)
            for block in message["content"]
        ]
        assert '[called mcp__web__shout {"text": "hi", "times": 2}]' in texts
        assert "mcp-client-2025-11-20" not in messages_to(api)[-1].headers.get("anthropic-beta", "")
        [decision] = [e for e in denied.record().timeline.entries if isinstance(e, ApprovalEntry)]
        assert decision.allowed is False and "mcp__web__*" in decision.reason

        # on a client-side backend the conversation goes on, the calls kept as text
        assert kernel.run("%backend local sandbox=off").status == "ok"
        api.script(replies.text("Here now."))
        moved = kernel.run("Still there?")
        assert moved.status == "ok", moved.error

    replayed = replay_offline(tmp_path, result.bundles()[-1])
    [(call, done)] = replayed.tool_calls
    assert (call.name, done.content) == ("mcp__web__shout", "HI HI")


def replay_offline(tmp_path: Path, recorded: dict) -> TurnRecord:
    """Replay the recorded hosted turn with no key and no server; its new record."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    notebook.cells = [
        nbformat.v4.new_code_cell("%backend anthropic"),
        nbformat.v4.new_code_cell("Shout hi twice"),
    ]
    notebook.cells[1].outputs = [nbformat.v4.new_output("display_data", data=recorded)]
    nbformat.write(notebook, elsewhere / "hosted.ipynb")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    command = [sys.executable, "-m", "conjure_kernel", "replay", "hosted.ipynb", "--strict"]
    done = subprocess.run(
        [*command, "--output", "out.ipynb"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = nbformat.read(elsewhere / "out.ipynb", as_version=4)
    [output] = [o for o in out.cells[1].outputs if TURN_MIME in o.get("data", {})]
    assert (
        "hosted tools are not re-run offline; 1 server-side call(s)"
        in (output["data"]["text/plain"])
    )
    return TurnRecord.from_json(output["data"][TURN_MIME])


def test_without_anyone_to_ask_a_url_server_is_not_offered(api, url, tmp_path):
    with RunningKernel(
        "conjure", cwd=tmp_path, env={"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    ) as kernel:
        assert kernel.run("%backend anthropic").status == "ok"
        assert kernel.run(f"%mcp add web {url}").status == "ok"
        api.script(replies.text("Alone."))
        turn = kernel.run("hello")  # no stdin, no rule: denied, and the turn goes on
        assert turn.status == "ok", turn.error
        assert "mcp_servers" not in messages_to(api)[-1].body
        assert kernel.run("%permissions allow=mcp__web__*").status == "ok"
        api.script(replies.text("With web."))
        assert kernel.run("hello again").status == "ok"
        assert [s["name"] for s in messages_to(api)[-1].body["mcp_servers"]] == ["web"]
        assert "authorization_token" not in messages_to(api)[-1].body["mcp_servers"][0]


def test_under_ask_a_yes_offers_a_url_server_for_its_turn_and_always_for_the_session(
    api, url, tmp_path
):
    """The kernel never sees a connector call, so ``ask`` cannot ask per call: it asks
    once a turn, before the first request, and says what each answer holds for."""
    env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        assert kernel.run("%backend anthropic").status == "ok"
        assert kernel.run("%permissions ask").status == "ok"
        assert kernel.run(f"%mcp add web {url}").status == "ok"
        api.script(replies.text("Looking.", stop_reason="pause_turn"), replies.text("One."))
        first, prompts = kernel.run_answering("hello", ["y"])
        assert first.status == "ok", first.error
        [prompt] = prompts  # one question for the turn, whatever its requests
        assert prompt.startswith(
            f"Allow mcp__web__* to be offered on the anthropic backend: the API's MCP "
            f"connector calls the tools of {url} from Anthropic's side whenever Claude "
            "asks, with no question per call (yes offers it for this turn; always, for "
            "the rest of the session)?"
        ), prompt
        assert [request.body["mcp_servers"][0]["name"] for request in messages_to(api)] == [
            "web",
            "web",
        ]

        api.script(replies.text("Two."))
        second, prompts = kernel.run_answering("again", ["always"])
        assert second.status == "ok", second.error
        assert len(prompts) == 1  # a yes held for its turn only
        api.script(replies.text("Three."))
        third = kernel.run("and again")  # no stdin: "always" allowed it for the session
        assert third.status == "ok", third.error
        assert [s["name"] for s in messages_to(api)[-1].body["mcp_servers"]] == ["web"]
