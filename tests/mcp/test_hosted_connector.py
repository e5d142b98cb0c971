"""The hosted backend's MCP connector: which servers it can pass, what a request carries,
how the API's MCP blocks read, and the fake API's connector against the real SDK."""

from __future__ import annotations

import asyncio

import anthropic
import pytest
from fakeapi import FakeMessagesAPI, replies
from fakeapi.mcp_connector import mcp_call
from mcp_servers import serving_http

from conjure_kernel.backends.hosted_mcp import (
    MCP_CONNECTOR_BETA,
    McpConnector,
    hosted_problem,
    reach_warning,
)
from conjure_kernel.clients.base import ModelRequest, ServerToolResult
from conjure_kernel.clients.server_tools import server_call_name, tool_result
from conjure_kernel.mcp.connection import McpConnection
from conjure_kernel.mcp.servers import HttpServer, StdioServer


def test_a_bearer_token_is_all_the_connector_passes():
    assert hosted_problem(HttpServer("a", "https://h/mcp")) == ""
    assert hosted_problem(HttpServer("a", "https://h/mcp", {"authorization": "bearer t"})) == ""
    assert hosted_problem(HttpServer("a", "https://h/mcp", {"X-Key": "k"})).endswith(
        "the API's MCP connector passes only a bearer token, and it needs X-Key"
    )
    assert hosted_problem(HttpServer("a", "https://h/mcp", {"Authorization": "Basic x"})).endswith(
        "it needs an Authorization header that is not a bearer token"
    )
    assert "stdio servers start on the local, docker and native backends only" in (
        hosted_problem(StdioServer("s", "prog"))
    )


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("https://mcp.example.com/mcp", ""),
        ("http://127.0.0.1:8000/mcp", "an address of this machine or its network"),
        ("https://localhost/mcp", "an address of this machine or its network"),
        ("https://10.1.2.3/mcp", "an address of this machine or its network"),
        ("https://printer.local/mcp", "an address of this machine or its network"),
        ("https://intranet/mcp", "an address of this machine or its network"),
        ("http://mcp.example.com/mcp", "takes https URLs, so its requests may be refused"),
    ],
)
def test_a_url_the_api_cannot_reach_is_warned_about(url, said):
    warning = reach_warning(HttpServer("web", url))
    assert (said in warning) if said else warning == ""


def test_a_request_carries_the_offered_servers_toolsets_and_beta():
    server = HttpServer("web", "https://h/mcp", {"Authorization": "Bearer tok"})
    connector = McpConnector([McpConnection(server)], offered={"web": (server, ["echo"])})
    base = ModelRequest("m", "", [], [{"type": "code_execution_20260521"}], betas=("x",))
    request = connector.joined(base)
    assert request.betas == ("x", MCP_CONNECTOR_BETA)
    assert request.extra["mcp_servers"] == [
        {"type": "url", "url": "https://h/mcp", "name": "web", "authorization_token": "tok"}
    ]
    assert request.tools[1] == {
        "type": "mcp_toolset",
        "mcp_server_name": "web",
        "default_config": {"enabled": False},
        "configs": {"echo": {"enabled": True}},
    }
    assert McpConnector([]).joined(base) is base  # nothing offered: nothing added


def test_the_connectors_blocks_read_as_a_named_call_and_its_result():
    use = mcp_call("web", "shout", {"text": "hi"})
    assert server_call_name(use) == "mcp__web__shout"
    assert server_call_name({"type": "server_tool_use", "name": "bash_code_execution"}) == (
        "bash_code_execution"
    )
    texts = [{"type": "text", "text": "HI"}, {"type": "text", "text": "HI"}]
    done = tool_result(
        ServerToolResult(
            {"type": "mcp_tool_result", "tool_use_id": "m1", "is_error": False, "content": texts}
        )
    )
    assert (done.content, done.is_error) == ("HI\nHI", False)
    failed = tool_result(
        ServerToolResult(
            {"type": "mcp_tool_result", "tool_use_id": "m1", "is_error": True, "content": "no data"}
        )
    )
    assert (failed.content, failed.is_error) == ("no data", True)


def send(api: FakeMessagesAPI, **params) -> anthropic.types.beta.BetaMessage:
    client = anthropic.Anthropic(api_key="k", base_url=api.url, max_retries=0)
    with client.beta.messages.stream(
        model="claude-sonnet-5-5",
        max_tokens=100,
        messages=[{"role": "user", "content": "hi"}],
        **params,
    ) as stream:
        return stream.get_final_message()


def test_the_fake_connector_lists_calls_and_streams_as_the_sdk_reads_it():
    with FakeMessagesAPI() as api, serving_http() as url:
        api.script(replies.message(mcp_call("web", "shout", {"text": "hi", "times": 2})))
        toolset = {
            "type": "mcp_toolset",
            "mcp_server_name": "web",
            "configs": {"crash": {"enabled": False}},
        }
        message = send(
            api,
            betas=[MCP_CONNECTOR_BETA],
            mcp_servers=[{"type": "url", "url": url, "name": "web"}],
            tools=[toolset],
        )
        use, result = message.content
        assert (use.type, use.server_name, use.name, use.input) == (
            "mcp_tool_use",
            "web",
            "shout",
            {"text": "hi", "times": 2},
        )
        assert (result.type, result.tool_use_id, result.is_error) == (
            "mcp_tool_result",
            use.id,
            False,
        )
        assert [block.text for block in result.content] == ["HI HI"]
        assert "crash" not in api.connector.offered[-1]["web"]
        assert "shout" in api.connector.offered[-1]["web"]


@pytest.mark.parametrize(
    ("params", "refusal"),
    [
        ({"betas": ["x"]}, "requires the anthropic-beta header mcp-client-2025-11-20"),
        ({"tools": []}, "'web' must be referenced by exactly one toolset"),
        (
            {"tools": [{"type": "mcp_toolset", "mcp_server_name": "other"}] * 2},
            "'web' must be referenced by exactly one toolset",
        ),
    ],
)
def test_the_fake_connector_refuses_what_the_api_refuses(params, refusal):
    with FakeMessagesAPI() as api:
        given = {
            "betas": [MCP_CONNECTOR_BETA],
            "mcp_servers": [{"type": "url", "url": "https://h/mcp", "name": "web"}],
            "tools": [{"type": "mcp_toolset", "mcp_server_name": "web"}],
            **params,
        }
        with pytest.raises(anthropic.BadRequestError, match=refusal):
            send(api, **given)


def test_a_script_calling_a_tool_not_offered_fails_loudly():
    with FakeMessagesAPI() as api, serving_http() as url:
        api.script(replies.message(mcp_call("web", "crash", {})))
        toolset = {
            "type": "mcp_toolset",
            "mcp_server_name": "web",
            "default_config": {"enabled": False},
        }
        with pytest.raises(anthropic.InternalServerError, match="does not offer"):
            send(
                api,
                betas=[MCP_CONNECTOR_BETA],
                mcp_servers=[{"type": "url", "url": url, "name": "web"}],
                tools=[toolset],
            )


def test_without_a_gate_every_candidate_is_offered_with_its_listed_tools():
    with serving_http() as url:
        connection = McpConnection(HttpServer("web", url))
        connection.start()
        try:
            connector = McpConnector([connection], ["said first"])

            async def settle() -> list:
                return [event async for event in connector.settle(None)]

            [notice] = asyncio.run(settle())
            assert (notice.text, notice.level) == ("said first", "warning")
            assert connector.offered["web"][1][:2] == ["echo", "shout"]
        finally:
            connection.close()


def test_a_deny_rule_with_a_pattern_keeps_its_tool_out_of_the_toolset(tmp_path):
    """The connector's calls pass no gate that could read a pattern: a rule that denies a
    tool for some inputs keeps it out for all of them, and the others stay offered."""
    from conjure_kernel.conversation.permissions import Permissions
    from conjure_kernel.conversation.places import Places
    from conjure_kernel.conversation.session_gate import SessionGate

    with serving_http() as url:
        connection = McpConnection(HttpServer("web", url))
        connection.start()
        try:
            connector = McpConnector([connection], [])
            gate = SessionGate(
                Permissions.parse(allow=["mcp__web__*"], deny=["mcp__web__shout(loud*)"]),
                "auto",
                Places.of({"workdir": str(tmp_path)}),
                "anthropic",
            )

            async def settle() -> list:
                return [event async for event in connector.settle(gate)]

            asyncio.run(settle())
            offered = connector.offered["web"][1]
            assert "echo" in offered and "shout" not in offered
        finally:
            connection.close()
