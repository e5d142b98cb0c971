"""A live connection to the demo MCP server, over stdio and HTTP: tools, results, faults."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from mcp_servers import demo_argv, serving_http

from conjure_kernel.errors import McpServerError
from conjure_kernel.mcp.connection import McpConnection
from conjure_kernel.mcp.executor import McpTools
from conjure_kernel.mcp.servers import HttpServer, StdioServer
from conjure_kernel.tools.values import ToolCall

DEMO_TOOLS = {"echo", "shout", "forecast", "pixel", "fail", "hang", "crash", "where"}


def stdio_demo(name: str = "demo") -> McpConnection:
    command, *args = demo_argv()
    return McpConnection(StdioServer(name, command, tuple(args)))


@pytest.fixture
def demo():
    connection = stdio_demo()
    connection.start()
    yield McpTools([connection], timeout=30, max_output_chars=30_000)
    connection.close()


def run(tools: McpTools, name: str, **arguments):
    return asyncio.run(tools.run(ToolCall("toolu_1", f"mcp__demo__{name}", arguments)))


def test_the_tools_are_offered_under_prefixed_names_with_their_schemas(demo):
    offered = {tool["name"]: tool for tool in demo.tools}
    assert set(offered) == {f"mcp__demo__{name}" for name in DEMO_TOOLS}
    echo = offered["mcp__demo__echo"]
    assert echo["input_schema"]["type"] == "object"
    assert echo["input_schema"]["required"] == ["text"]
    assert echo["description"] == "Say the text back."


def test_text_structured_content_and_image_results(demo):
    assert run(demo, "echo", text="hello").content == "hello"
    forecast = run(demo, "forecast", city="Oslo")
    assert '"celsius": 21' in forecast.content and not forecast.is_error
    pixel = run(demo, "pixel")
    assert pixel.images[0]["source"]["media_type"] == "image/png"
    assert pixel.to_param()["content"][1]["type"] == "image"


def test_a_tool_error_is_an_error_result_with_its_reason(demo):
    failed = run(demo, "fail", reason="no data")
    assert failed.is_error and "it failed: no data" in failed.content


def test_a_hung_call_times_out_as_one_line_and_the_server_goes_on():
    connection = stdio_demo()
    connection.start()
    try:
        tools = McpTools([connection], timeout=1, max_output_chars=1000)
        hung = run(tools, "hang")
        assert hung.is_error
        assert (
            hung.content == "the MCP server demo (on this machine): hang did not answer within 1 s"
        )
        assert run(tools, "echo", text="still here").content == "still here"
    finally:
        connection.close()


def test_cancelling_a_call_leaves_the_connection_usable(demo):
    async def interrupt_then_echo():
        hung = asyncio.ensure_future(demo.run(ToolCall("toolu_1", "mcp__demo__hang", {})))
        await asyncio.sleep(0.3)
        hung.cancel()
        with pytest.raises(asyncio.CancelledError):
            await hung
        return await demo.run(ToolCall("toolu_2", "mcp__demo__echo", {"text": "after"}))

    assert asyncio.run(interrupt_then_echo()).content == "after"


def test_a_server_that_exits_mid_call_is_an_error_result_and_its_state():
    connection = stdio_demo()
    connection.start()
    tools = McpTools([connection], timeout=30, max_output_chars=1000)
    crashed = run(tools, "crash")
    assert crashed.is_error
    assert (
        crashed.content == "the MCP server demo (on this machine): it exited during a call of crash"
    )
    assert connection.state == f"failed: {crashed.content}"
    again = run(tools, "echo", text="x")
    assert again.is_error and "exited" in again.content
    connection.start()  # it can be started again
    assert connection.running
    connection.close()


def test_a_program_that_does_not_exist_fails_to_start_in_one_line():
    connection = McpConnection(StdioServer("nope", "no-such-mcp-server-xyz"))
    with pytest.raises(McpServerError) as raised:
        connection.start()
    assert str(raised.value) == (
        "the MCP server nope (on this machine): it did not start: "
        "No such file or directory (no-such-mcp-server-xyz)"
    )
    assert connection.state.startswith("failed: ")


def test_a_server_that_exits_at_start_says_what_it_wrote_to_stderr():
    script = "import sys; print('boom: no config file', file=sys.stderr); sys.exit(2)"
    connection = McpConnection(StdioServer("dies", sys.executable, ("-c", script)))
    with pytest.raises(
        McpServerError, match="it exited before it answered; it said: boom: no config file"
    ):
        connection.start()


def test_a_server_that_is_not_mcp_is_a_fault_not_a_hang():
    script = "print('hello, I am not MCP', flush=True); import time; time.sleep(60)"
    connection = McpConnection(StdioServer("chatty", sys.executable, ("-c", script)))
    with pytest.raises(McpServerError) as raised:
        connection.start()
    assert str(raised.value) == (
        "the MCP server chatty (on this machine): "
        "it printed something that is not MCP on stdout (log to stderr)"
    )
    connection.close()


def test_tools_over_streamable_http():
    with serving_http() as url:
        connection = McpConnection(HttpServer("web", url))
        connection.start()
        try:
            tools = McpTools([connection], timeout=30, max_output_chars=1000)
            result = asyncio.run(
                tools.run(ToolCall("t", "mcp__web__shout", {"text": "hi", "times": 2}))
            )
            assert result.content == "HI HI"
        finally:
            connection.close()


def test_an_http_server_that_is_not_there_fails_in_one_line():
    connection = McpConnection(HttpServer("gone", "http://127.0.0.1:9/mcp"))
    with pytest.raises(McpServerError) as raised:
        connection.start()
    assert str(raised.value).startswith(
        "the MCP server gone (over HTTP): it could not be reached at http://127.0.0.1:9/mcp: "
    )


def plain_with(more_tools: list[dict]) -> McpConnection:
    """The plain server, listing ``more_tools`` as they are beside its own."""
    import json

    from mcp_servers import PLAIN

    env = {"PLAIN_MORE_TOOLS": json.dumps(more_tools)}
    return McpConnection(StdioServer("plain", sys.executable, (str(PLAIN),), env))


def test_tools_whose_schemas_the_api_refuses_are_left_out_when_the_server_starts():
    from conjure_kernel.mcp.registry import McpServers

    either = {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}
    misspelt = {"type": "object", "properties": {"a": {"type": "strng"}}}
    more = [{"name": "either", "inputSchema": either}, {"name": "bad", "inputSchema": misspelt}]
    servers = McpServers()
    servers.connections["plain"] = plain_with(more)
    try:
        notices = servers.start_stopped()
        assert {tool.name for tool in servers.connections["plain"].tools} == {
            "echo",
            "where",
            "reach",
            "garble",
            "env",
            "misshapen",
        }
        assert notices == [
            "the MCP server plain left out a tool the API would refuse: 'either': its input "
            "schema has oneOf at its top level, which the API does not take",
            "the MCP server plain left out a tool the API would refuse: 'bad': its input "
            "schema is not valid JSON Schema at $.properties.a.type: 'strng' is not valid "
            "under any of the given schemas",
        ]
    finally:
        servers.close()


def test_a_tool_that_breaks_mcps_schema_is_one_worded_line():
    connection = plain_with([{"name": "broken", "inputSchema": "not an object"}])
    with pytest.raises(McpServerError) as raised:
        connection.start()
    assert str(raised.value) == (
        "the MCP server plain (on this machine): its answer does not fit MCP: "
        "tools.6.inputSchema: Input should be a valid dictionary or instance of InputSchema"
    )
    connection.close()


def test_garbage_during_a_call_fails_it_at_once_in_one_line():
    connection = plain_with([])
    connection.start()
    tools = McpTools([connection], timeout=20, max_output_chars=30_000)
    try:
        done = asyncio.run(tools.run(ToolCall("toolu_1", "mcp__plain__garble", {})))
        assert (done.content, done.is_error) == (
            "the MCP server plain (on this machine): garble answered outside the protocol: "
            "it printed something that is not MCP on stdout (log to stderr)",
            True,
        )
        again = asyncio.run(tools.run(ToolCall("toolu_2", "mcp__plain__echo", {"text": "here"})))
        assert again.content == "here"
        bad = asyncio.run(tools.run(ToolCall("toolu_3", "mcp__plain__misshapen", {})))
        assert bad.content == (
            "the MCP server plain (on this machine): misshapen answered outside the protocol: "
            "content: Input should be a valid list"
        )
    finally:
        connection.close()


GARBLE = """
import asyncio, sys
from conjure_kernel.mcp.connection import McpConnection
from conjure_kernel.mcp.executor import McpTools
from conjure_kernel.mcp.servers import StdioServer
from conjure_kernel.tools.values import ToolCall
connection = McpConnection(StdioServer("plain", sys.executable, (sys.argv[1],)))
connection.start()
tools = McpTools([connection], timeout=20, max_output_chars=3000)
print(asyncio.run(tools.run(ToolCall("toolu_1", "mcp__plain__garble", {}))).content)
connection.close()
"""


def test_garbage_during_a_call_prints_no_traceback_where_the_person_reads():
    """Outside pytest, whose log capture would hide what the SDK's logger prints."""
    import subprocess

    from mcp_servers import PLAIN

    ran = subprocess.run(
        [sys.executable, "-c", GARBLE, str(PLAIN)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],  # this checkout's conjure_kernel
    )
    assert "answered outside the protocol" in ran.stdout, ran.stderr
    assert "Traceback" not in ran.stderr and "Failed to parse" not in ran.stderr


def test_a_server_stuck_while_starting_is_given_up_in_one_line_with_its_processes():
    import threading
    import uuid

    from mcp_servers import STUCK, STUCK_CHILD, processes_with

    marker = f"stuck-{uuid.uuid4().hex}"
    connection = McpConnection(StdioServer("stuck", sys.executable, (str(STUCK), marker)))
    connection.start_timeout = 1
    raised: list[McpServerError] = []

    def start() -> None:
        try:
            connection.start()
        except McpServerError as error:
            raised.append(error)

    starting = threading.Thread(target=start)
    starting.start()
    seen = False
    while not seen and starting.is_alive():  # until the server and its child run
        seen = bool(processes_with(marker, STUCK_CHILD))
        threading.Event().wait(0.02)
    starting.join()
    assert seen
    [error] = raised
    assert str(error) == "the MCP server stuck (on this machine): it did not start within 1 s"
    assert processes_with(marker) == []  # both, though they ignore SIGTERM
    assert connection.failed_to_start and not connection.running
