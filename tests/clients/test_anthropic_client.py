"""AnthropicClient against the local fake Messages API: real SDK, real HTTP, real SSE."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import anthropic
import httpx2
import pytest
from fakeapi import FakeMessagesAPI, replies, sessions

from conjure_kernel.clients import anthropic_client
from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.api_errors import ConnectionSilent, ContainerExpired
from conjure_kernel.clients.base import (
    DEFAULT_MODEL,
    ModelClient,
    ModelRequest,
    ModelResponse,
    RetryWait,
    ServerToolResult,
    ServerToolUse,
    StreamItem,
    TextChunk,
    ThinkingChunk,
    ToolUseRequested,
    Usage,
)
from conjure_kernel.clients.request_params import build_params
from conjure_kernel.errors import IncompleteResponse, MissingApiKey, ModelError

SYSTEM = "You are a careful assistant. " * 20
BASH = {
    "name": "run_bash",
    "description": "Run a shell command.",
    "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
}
READ = {
    "name": "read_file",
    "description": "Read a file.",
    "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
}
OVERLOADED = replies.error(529, "overloaded_error", "Overloaded", retry_after=0.01)
CODE_EXECUTION = {"type": "code_execution_20260521", "name": "code_execution"}
MARK = {"type": "ephemeral"}


@pytest.fixture(autouse=True)
def no_ambient_credentials(monkeypatch, tmp_path):
    """Keep the developer's key, base URL and on-disk profiles out of every test."""
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_CONFIG_DIR",
        "ANTHROPIC_CUSTOM_HEADERS",
        "ANTHROPIC_IDENTITY_TOKEN",
        "ANTHROPIC_IDENTITY_TOKEN_FILE",
        "ANTHROPIC_FEDERATION_RULE_ID",
        "ANTHROPIC_ORGANIZATION_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # the SDK looks for ~/.config/anthropic


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def client(api) -> AnthropicClient:
    return AnthropicClient(api_key="test-key", base_url=api.url)


def request(
    messages=None, *, system=SYSTEM, tools=(BASH, READ), container=None, **extra
) -> ModelRequest:
    messages = messages or [{"role": "user", "content": "List the files."}]
    return ModelRequest(DEFAULT_MODEL, system, messages, tools, 1000, container, extra)


def collect(client: AnthropicClient, req: ModelRequest) -> list[StreamItem]:
    async def run() -> list[StreamItem]:
        return [item async for item in client.stream(req)]

    return asyncio.run(run())


def answer(client: AnthropicClient, req: ModelRequest) -> ModelResponse:
    *_, response = collect(client, req)
    assert isinstance(response, ModelResponse)
    return response


def breakpoints(body: dict) -> int:
    return json.dumps(body).count('"cache_control"')


def test_text_streams_as_chunks_then_exactly_one_response(api, client):
    api.script(replies.text("Here are the files you asked for."))
    *chunks, response = collect(client, request())
    assert len(chunks) > 1 and all(isinstance(chunk, TextChunk) for chunk in chunks)
    assert isinstance(response, ModelResponse)
    assert "".join(chunk.text for chunk in chunks) == response.text()
    assert response.message == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Here are the files you asked for."}],
    }
    assert response.stop_reason == "end_turn"
    assert response.model == DEFAULT_MODEL and response.id.startswith("msg_")
    usage = response.usage
    assert usage.input_tokens + usage.cache_creation_input_tokens > 0 and usage.output_tokens > 0


def test_tool_use_response_carries_parsed_input_as_plain_json(api, client):
    api.script(replies.tool_use("run_bash", {"command": "ls -la"}, text="Let me look."))
    response = answer(client, request())
    (call,) = response.tool_uses()
    assert call == {
        "type": "tool_use",
        "id": call["id"],
        "name": "run_bash",
        "input": {"command": "ls -la"},
    }
    assert call["id"].startswith("toolu_")
    assert response.stop_reason == "tool_use"
    assert json.loads(json.dumps(response.to_json())) == response.to_json()


def marked(message: Mapping[str, Any]) -> list[int]:
    """The indexes of a message's blocks that carry a breakpoint."""
    content = message["content"]
    if isinstance(content, str):
        return []
    return [i for i, block in enumerate(content) if "cache_control" in block]


def kinds(items: list[StreamItem]) -> list[str]:
    """Item type names, runs of the same chunk type collapsed to one."""
    names = [type(item).__name__ for item in items]
    return [n for i, n in enumerate(names) if i == 0 or n != names[i - 1] or "Chunk" not in n]


def test_hosted_step_streams_every_item_in_order_then_keeps_container_and_pause_turn(api, client):
    bash = replies.server_tool_use("bash_code_execution", {"command": "python make.py"})
    edit = replies.server_tool_use("text_editor_code_execution", {"command": "view", "path": "a"})
    view = {
        "type": "text_editor_code_execution_view_result",
        "content": "1\thi",
        "file_type": "text",
    }
    future = replies.server_tool_result("future_search_tool_result", edit["id"], [{"hit": 1}])
    blocks = [
        replies.thinking("I will build the workbook first."),
        {"type": "text", "text": "Creating the workbook."},
        bash,
        replies.bash_result(bash["id"], stdout="ok\n", file_ids=["file_011"]),
        edit,
        replies.text_editor_result(edit["id"], view),
        replies.code_execution_result(edit["id"], stdout="legacy"),
        future,
    ]
    skills = [{"type": "anthropic", "skill_id": "xlsx", "version": "20251013"}]
    api.script(
        replies.message(
            *blocks, stop_reason="pause_turn", container=replies.container(skills=skills)
        )
    )
    items = collect(client, request(tools=(CODE_EXECUTION,), container={"skills": skills}))
    assert kinds(items) == [
        "ThinkingChunk",
        "TextChunk",
        "ServerToolUse",
        "ServerToolResult",
        "ServerToolUse",
        "ServerToolResult",
        "ServerToolResult",
        "ServerToolResult",
        "ModelResponse",
    ]
    thinking = "".join(i.text for i in items if isinstance(i, ThinkingChunk))
    assert thinking == "I will build the workbook first."
    uses = [i for i in items if isinstance(i, ServerToolUse)]
    assert uses == [
        ServerToolUse(bash["id"], "bash_code_execution", {"command": "python make.py"}),
        ServerToolUse(edit["id"], "text_editor_code_execution", {"command": "view", "path": "a"}),
    ]
    results = [i.block for i in items if isinstance(i, ServerToolResult)]
    assert results == [blocks[3], blocks[5], blocks[6], future]
    response = items[-1]
    assert isinstance(response, ModelResponse)
    assert response.stop_reason == "pause_turn"
    assert response.container == {
        "id": "container_011CYfake",
        "expires_at": "2026-11-25T12:30:00Z",
        "skills": skills,
    }
    assert response.message["content"] == [api.signatures.sign(b, DEFAULT_MODEL) for b in blocks]
    assert json.loads(json.dumps(response.to_json())) == response.to_json()


def test_paused_message_goes_back_unchanged_with_the_container(api, client):
    use = replies.server_tool_use("bash_code_execution", {"command": "ls"})
    blocks = [replies.thinking("Listing."), use, {"type": "redacted_thinking", "data": "xyz"}]
    api.script(
        replies.message(*blocks, stop_reason="pause_turn", container=replies.container()),
        replies.text("Done."),
    )
    history: list = [{"role": "user", "content": "List the files."}]
    paused = answer(client, request(list(history), tools=(CODE_EXECUTION,)))
    history.append(paused.message)
    container = {"id": paused.container["id"]}
    assert answer(client, request(history, tools=(CODE_EXECUTION,), container=container)).text()
    body = api.requests[1].body
    assert body["container"] == container
    sent = [
        {k: v for k, v in b.items() if k != "cache_control"} for b in body["messages"][1]["content"]
    ]
    assert sent == [api.signatures.sign(b, DEFAULT_MODEL) for b in blocks]  # as they came
    assert marked(body["messages"][1]) == [1]  # the server_tool_use, not a thinking block


def test_client_tool_calls_are_reported_as_each_block_finishes(api, client):
    api.script(
        replies.tool_uses(
            [("run_bash", {"command": "ls"}), ("read_file", {"path": "a.txt"})], text="Looking."
        )
    )
    items = collect(client, request())
    assert kinds(items) == ["TextChunk", "ToolUseRequested", "ToolUseRequested", "ModelResponse"]
    response = items[-1]
    assert isinstance(response, ModelResponse)
    requested = [i for i in items if isinstance(i, ToolUseRequested)]
    assert [(r.id, r.name, r.input) for r in requested] == [
        (b["id"], b["name"], b["input"]) for b in response.tool_uses()
    ]
    assert requested[1].input == {"path": "a.txt"}
    assert response.container is None


def test_breakpoints_on_system_previous_request_end_and_last_message(api, client):
    history = [
        {"role": "user", "content": "List the files."},
        {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
        {"role": "user", "content": "And the hidden ones?"},
    ]
    tools = [dict(BASH), dict(READ)]
    before = copy.deepcopy((history, tools))
    api.script(replies.text("Done."))
    answer(client, request(history, tools=tools))
    body = api.requests[0].body
    assert body["system"] == [{"type": "text", "text": SYSTEM, "cache_control": MARK}]
    assert body["tools"] == tools  # the system breakpoint covers them: tools come first
    assert body["messages"][0]["content"] == [
        {"type": "text", "text": "List the files.", "cache_control": MARK}
    ]
    assert body["messages"][1] == history[1]
    assert body["messages"][2]["content"] == [
        {"type": "text", "text": "And the hidden ones?", "cache_control": MARK}
    ]
    assert breakpoints(body) == 3
    assert (history, tools) == before


def test_previous_request_end_is_the_message_before_the_latest_assistant_message():
    user = {"role": "user", "content": "Go."}
    calls = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t1", "name": "x", "input": {}}],
    }
    results = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
    }
    paused = {
        "role": "assistant",
        "content": [{"type": "server_tool_use", "id": "s", "name": "x", "input": {}}],
    }
    cases = {
        "next step": ([user, calls, results], [0, 2]),
        "pause_turn continuation": ([user, paused], [0, 1]),
        "new turn after an interrupted step": ([user, calls, results, {**user}], [0, 3]),
        "first request": ([user], [0]),
    }
    for name, (history, expected) in cases.items():
        messages = build_params(request(history))["messages"]
        assert [i for i, m in enumerate(messages) if marked(m)] == expected, name


def test_thinking_blocks_never_carry_a_breakpoint():
    thinking = {"type": "thinking", "thinking": "hm", "signature": "sig"}
    paused = {
        "role": "assistant",
        "content": [
            thinking,
            {"type": "server_tool_use", "id": "s", "name": "bash_code_execution", "input": {}},
            replies.bash_result("s", stdout="ok"),
            {"type": "redacted_thinking", "data": "x"},
        ],
    }
    only_thinking = {"role": "assistant", "content": [thinking]}
    history = [{"role": "user", "content": "Go."}, paused]
    assert marked(build_params(request(history))["messages"][1]) == [2]
    history = [{"role": "user", "content": "Go."}, only_thinking]
    params = build_params(request(history))
    assert params["messages"][1] is only_thinking
    assert breakpoints(params) == 2


def test_without_system_prompt_the_last_tool_takes_the_first_breakpoint(api, client):
    api.script(replies.text("Hi."))
    answer(client, request(system=""))
    body = api.requests[0].body
    assert "system" not in body
    assert [("cache_control" in tool) for tool in body["tools"]] == [False, True]
    assert breakpoints(body) == 2


def test_empty_system_and_tools_are_omitted(api, client):
    api.script(replies.text("Hi."))
    answer(client, request(system="", tools=()))
    body = api.requests[0].body
    assert "system" not in body and "tools" not in body
    assert breakpoints(body) == 1


def test_caller_breakpoints_count_in_tools_and_are_replaced_in_marked_messages():
    tools = [{**BASH, "cache_control": MARK}, {**READ, "cache_control": MARK}]
    own = {"type": "text", "text": "mine", "cache_control": MARK}
    history = [
        {"role": "user", "content": [own, {"type": "text", "text": "Go."}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
        {"role": "user", "content": [own, {"type": "text", "text": "More."}]},
    ]
    params = build_params(request(history, tools=tools))
    assert breakpoints(params) == 4  # system, both tools, then only the last message
    assert [marked(m) for m in params["messages"]] == [[], [], [1]]
    assert own["cache_control"] == MARK  # the caller's blocks are untouched
    tools = [{**tool, "cache_control": MARK} for tool in (BASH, READ, BASH, READ)]
    params = build_params(request(history, tools=tools))
    assert breakpoints(params) == 4 and "cache_control" not in params["system"][0]


def test_build_params_reads_only_the_last_messages():
    """Its cost must not grow with the conversation: older messages are not even read."""

    class Untouchable(Mapping):
        def __getitem__(self, key):
            raise AssertionError("build_params read an old message")

        def __iter__(self):
            raise AssertionError("build_params read an old message")

        def __len__(self):
            raise AssertionError("build_params read an old message")

    old = [Untouchable() for _ in range(400)]
    tail = [
        {"role": "user", "content": "Go."},
        {"role": "assistant", "content": [{"type": "text", "text": "Sure."}]},
        {"role": "user", "content": "More."},
    ]
    messages = build_params(request([*old, *tail]))["messages"]
    assert all(a is b for a, b in zip(messages[:400], old, strict=True))
    assert marked(messages[400]) == marked(messages[402]) == [0]


def test_container_server_tools_and_extra_parameters_go_out_as_real_parameters(api, client):
    container = {"id": "container_011", "skills": [{"type": "anthropic", "skill_id": "xlsx"}]}
    req = request(
        tools=(BASH, CODE_EXECUTION),
        container=container,
        thinking={"type": "adaptive"},
        metadata={"user_id": "u1"},
        future_parameter={"on": True},
    )
    before = copy.deepcopy(req)
    params = build_params(req)
    assert params["container"] == container
    assert params["tools"] == [BASH, CODE_EXECUTION]
    assert params["thinking"] == {"type": "adaptive"} and params["metadata"] == {"user_id": "u1"}
    assert params["extra_body"] == {"future_parameter": {"on": True}}
    api.script(replies.text("Hi."))
    answer(client, req)
    body = api.requests[0].body
    assert body["container"] == container and body["tools"][1] == CODE_EXECUTION
    assert body["thinking"] == {"type": "adaptive"} and body["metadata"] == {"user_id": "u1"}
    assert body["future_parameter"] == {"on": True}
    assert req == before
    assert build_params(request(container="container_011"))["container"] == "container_011"


def test_next_step_over_the_same_history_reads_the_prefix_from_cache(api, client):
    api.script(replies.tool_use("run_bash", {"command": "ls"}), replies.text("Two files."))
    history: list = [{"role": "user", "content": "List the files."}]
    first = answer(client, request(list(history)))
    (call,) = first.tool_uses()
    history += [
        first.message,
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "a\nb"}],
        },
    ]
    second = answer(client, request(list(history)))
    assert first.usage.cache_read_input_tokens == 0
    assert first.usage.cache_creation_input_tokens > 0
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.input_tokens < second.usage.cache_read_input_tokens


PARALLEL = 12
"""Twelve parallel calls: 24 blocks in one step, past the API's 20-block lookback."""


def read_share(usage: Usage) -> float:
    total = usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
    return usage.cache_read_input_tokens / total


def last_block_only(request: ModelRequest) -> dict[str, Any]:
    """The placement before: system, last tool and the final message's last block."""
    messages = list(request.messages)
    content = messages[-1]["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    messages[-1] = {
        **messages[-1],
        "content": [*blocks[:-1], {**blocks[-1], "cache_control": MARK}],
    }
    return {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "system": [{"type": "text", "text": request.system, "cache_control": MARK}],
        "tools": [*request.tools[:-1], {**request.tools[-1], "cache_control": MARK}],
        "messages": messages,
    }


def test_from_the_second_turn_every_request_reads_the_earlier_conversation_from_cache(api):
    """Each request reads exactly what the one before sent, even after 24 new blocks.

    What is left unread is only what the last step added, so from turn 2 on (once the
    history outweighs a step) at least 90% of every request's input comes from cache.
    """
    usages = sessions.play(api, PARALLEL)
    totals = [
        u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens
        for _, u in usages
    ]
    reads = [u.cache_read_input_tokens for _, u in usages]
    assert reads[1:] == totals[:-1]
    assert all(read_share(usage) >= 0.9 for turn, usage in usages if turn >= 2)
    assert all(breakpoints(r.body) <= 4 for r in api.requests)
    assert len(usages) == 9


def test_with_the_last_block_only_the_step_after_parallel_calls_misses_the_cache(api, monkeypatch):
    """The same session with the old placement: the lookback cannot reach past 24 blocks."""
    monkeypatch.setattr(anthropic_client, "build_params", last_block_only)
    usages = sessions.play(api, PARALLEL)
    later = [(turn, read_share(usage)) for turn, usage in usages if turn >= 2]
    assert min(share for _, share in later) < 0.75
    assert [turn for turn, share in later if share < 0.9] == [3]


def test_without_any_credential_stream_raises_missing_api_key_before_any_request(api):
    client = AnthropicClient(base_url=api.url)  # constructing never fails
    with pytest.raises(MissingApiKey) as caught:
        collect(client, request())
    assert str(caught.value) == "no Anthropic API key is set"
    assert "ANTHROPIC_API_KEY" in caught.value.hint
    assert isinstance(caught.value.cause, TypeError)
    assert api.requests == []


def test_broken_profile_config_is_a_model_error_not_a_crash(api, monkeypatch, tmp_path):
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "no-such-dir"))
    with pytest.raises(ModelError, match="credentials could not be loaded") as caught:
        collect(AnthropicClient(base_url=api.url), request())
    assert isinstance(caught.value.cause, anthropic.AnthropicError)
    assert api.requests == []


@pytest.mark.parametrize("variable", ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"])
def test_credential_and_base_url_come_from_the_environment(api, monkeypatch, variable):
    monkeypatch.setenv(variable, "env-credential")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
    api.script(replies.text("Hi."))
    answer(AnthropicClient(), request())
    assert api.requests[0].headers["authorization"] == "Bearer env-credential"


def test_overloaded_twice_then_success_is_retried_with_each_wait_reported_first(api, client):
    api.script(OVERLOADED, OVERLOADED, replies.text("Made it."))
    items = collect(client, request())
    assert items[:2] == [
        RetryWait(1, 2, 0.01, "529 overloaded_error"),
        RetryWait(2, 2, 0.01, "529 overloaded_error"),
    ]
    assert (
        items[0].describe() == "waiting for the API: 529 overloaded_error, retry 1 of 2 in 0.01 s"
    )
    assert isinstance(items[2], TextChunk) and items[-1].text() == "Made it."
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1", "2"]


def test_overloaded_after_all_retries_is_a_model_error_saying_so(api, client):
    api.script(OVERLOADED, OVERLOADED, OVERLOADED)
    with pytest.raises(ModelError) as caught:
        collect(client, request())
    assert "529 overloaded_error: Overloaded" in str(caught.value)
    assert "request id req_" in str(caught.value)
    assert "already retried 2 times" in caught.value.hint
    assert isinstance(caught.value.cause, anthropic.OverloadedError)
    assert len(api.requests) == 3


def test_bad_request_is_a_model_error_naming_what_was_rejected_and_not_retried(api, client):
    api.script(
        replies.error(
            400, "invalid_request_error", "messages.0: text content blocks must be non-empty"
        )
    )
    with pytest.raises(ModelError) as caught:
        collect(client, request())
    assert "400 invalid_request_error" in str(caught.value)
    assert "must be non-empty" in str(caught.value) and "must be non-empty" in caught.value.hint
    assert isinstance(caught.value.cause, anthropic.BadRequestError)
    assert len(api.requests) == 1


def test_rejected_key_hint_says_to_check_it_and_never_shows_it(api):
    secret = "sk-ant-api03-very-secret-key"
    client = AnthropicClient(api_key=secret, base_url=api.url)
    api.script(replies.error(401, "authentication_error", f"invalid x-api-key {secret}"))
    with pytest.raises(ModelError) as caught:
        collect(client, request())
    assert "401 authentication_error" in str(caught.value)
    assert "check the API key" in caught.value.hint
    assert secret not in str(caught.value) + caught.value.hint


def test_mid_stream_overload_is_a_model_error_naming_its_type(api, client):
    api.script(replies.stream_error("overloaded_error", after_text="Working on"))
    items = []

    async def run() -> None:
        async for item in client.stream(request()):
            items.append(item)

    with pytest.raises(ModelError) as caught:
        asyncio.run(run())
    assert "overloaded_error" in str(caught.value)
    assert caught.value.cause.status_code == 200
    assert "".join(item.text for item in items) == "Working on"
    assert len(api.requests) == 1


def test_stream_without_stop_reason_is_incomplete_never_a_response(api, client):
    api.script(replies.truncated("Half an ans"))
    items = []

    async def run() -> None:
        async for item in client.stream(request()):
            items.append(item)

    with pytest.raises(IncompleteResponse, match="cut off before it finished"):
        asyncio.run(run())
    assert items and not any(isinstance(item, ModelResponse) for item in items)


def test_dropped_connection_mid_stream_is_a_model_error_naming_the_server(api, client):
    api.script(replies.truncated("Half", drop_connection=True))
    with pytest.raises(ModelError, match=f"connection to {api.url} failed") as caught:
        collect(client, request())
    assert not isinstance(caught.value, IncompleteResponse)


def test_unreachable_server_is_a_model_error_naming_the_server():
    with FakeMessagesAPI() as gone:
        url = gone.url
    client = AnthropicClient(api_key="test-key", base_url=url, max_retries=0)
    with pytest.raises(ModelError, match=f"connection to {url} failed") as caught:
        collect(client, request())
    assert isinstance(caught.value.cause, anthropic.APIConnectionError)


def test_one_client_serves_several_event_loops(api, client):
    api.script(replies.text("one"), replies.text("two"))
    assert answer(client, request()).text() == "one"
    assert answer(client, request()).text() == "two"


def test_client_implements_the_model_client_protocol():
    assert isinstance(AnthropicClient(), ModelClient)


def test_default_model_is_one_the_installed_sdk_knows():
    known = typing.get_args(typing.get_args(anthropic.types.Model)[0])
    assert DEFAULT_MODEL in known
    assert DEFAULT_MODEL.startswith("claude-sonnet-")


# Faults: a silent API, a long retry-after, a stream the SDK cannot read. Without the
# client's own timeouts and retries these would hang for minutes or hours, and garbage
# would surface as raw tracebacks, so each runs under a guard.

GUARD = 30.0
"""Seconds after which a scenario that must end promptly counts as hung."""
SHORT = 1.0
"""The silence timeout of ``impatient`` clients: far above a local reply's gaps."""
PINGS = 0.1
"""The fake API's ping interval where a test needs pings: well within ``SHORT``."""
SILENT = f"silent for {SHORT:g} s (silence_timeout), connection dropped"
"""The reason of the notice before a silent request is tried once more."""
GARBLED_JSON = (
    b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "del\n\n'
)
NOT_UTF8 = (
    b'event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, '
    b'"delta": {"type": "text_delta", "text": "\xff\xfe"}}\n\n'
)
UNSTARTED_BLOCK = {
    "type": "content_block_delta",
    "index": 7,
    "delta": {"type": "text_delta", "text": "stray"},
}
BROKEN_UNKNOWN_EVENT = b"event: future_event\ndata: [1, 2]\n\n"


def impatient(api: FakeMessagesAPI, **options: Any) -> AnthropicClient:
    """A client with a short silence timeout and short waits, so faults show up at once."""
    options = {"silence_timeout": SHORT, "max_retry_wait": 0.05, **options}
    return AnthropicClient(api_key="test-key", base_url=api.url, **options)


def guarded(client: AnthropicClient, req: ModelRequest) -> list[StreamItem]:
    """``collect``, failing as a timeout if the stream hangs."""

    async def run() -> list[StreamItem]:
        return [item async for item in client.stream(req)]

    return asyncio.run(asyncio.wait_for(run(), GUARD))


def collect_until_failure(
    client: AnthropicClient, req: ModelRequest
) -> tuple[list[StreamItem], ModelError]:
    """The items streamed before the request failed, and its ModelError."""
    items: list[StreamItem] = []

    async def run() -> None:
        async for item in client.stream(req):
            items.append(item)

    with pytest.raises(ModelError) as caught:
        asyncio.run(asyncio.wait_for(run(), GUARD))
    return items, caught.value


def test_defaults_fit_a_notebook_not_the_sdks_ten_minutes(api):
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    assert (client.connect_timeout, client.silence_timeout, client.read_timeout) == (10, 45, 120)
    assert (client.max_retries, client.max_retry_wait) == (2, 30.0)
    api.script(replies.text("Hi."))
    answer(client, request())
    assert api.requests[0].headers["x-stainless-read-timeout"] == "45.0"


def test_a_long_quiet_spell_kept_alive_by_pings_is_not_silence(api):
    """The SDK drops pings before its events: silence must be counted on the bytes."""
    api.ping_interval = PINGS
    api.script(replies.pause(replies.text("Thought it through."), 4 * SHORT, after_events=1))
    items = guarded(impatient(api), request())
    assert not any(isinstance(item, RetryWait) for item in items)
    assert items[-1].text() == "Thought it through." and len(api.requests) == 1


def test_a_server_that_never_answers_is_tried_once_more_after_a_notice(api):
    api.script(replies.silence(), replies.text("Made it."))
    items = guarded(impatient(api), request())
    wait = items[0]
    assert isinstance(wait, RetryWait) and (wait.retry, wait.of, wait.reason) == (1, 2, SILENT)
    assert wait.describe().startswith(f"waiting for the API: {SILENT}, retry 1 of 2 in ")
    assert wait.seconds <= 0.05  # max_retry_wait bounds the backoff too
    assert items[-1].text() == "Made it."
    assert len(api.requests) == 2


def test_a_second_silence_ends_the_request_saying_what_was_kept(api):
    api.script(replies.silence(), replies.silence(), replies.text("never asked"))
    items, error = collect_until_failure(impatient(api), request())  # two retries allowed
    assert [type(item) for item in items] == [RetryWait]
    assert isinstance(error, ConnectionSilent)
    assert str(error) == (
        f"the Messages API at {api.url} sent nothing, not even a ping, for {SHORT:g} s "
        "before the answer began (silence_timeout), so the connection was dropped"
    )
    assert error.hint.startswith(
        "the unfinished answer was not kept: the conversation holds every finished step"
    )
    assert isinstance(error.cause, anthropic.APITimeoutError)
    assert len(api.requests) == 2 and api.pending == 1


def test_without_retries_a_silence_is_not_tried_again(api):
    api.script(replies.silence(), replies.text("never asked"))
    items, error = collect_until_failure(impatient(api, max_retries=0), request())
    assert items == [] and isinstance(error, ConnectionSilent) and len(api.requests) == 1


def test_a_stream_that_stalls_before_anything_is_shown_is_tried_once_more(api):
    stalled = replies.stall(replies.text("Lost."), 20, after_events=2)  # message and block start
    api.script(stalled, replies.text("Made it."))
    items = guarded(impatient(api), request())
    assert items[0] == RetryWait(1, 2, items[0].seconds, SILENT)
    assert items[-1].text() == "Made it." and len(api.requests) == 2


def test_a_stream_that_stalls_mid_answer_ends_at_once_and_is_not_tried_again(api):
    api.script(replies.stall(replies.text("Hello there, friend."), 20), replies.text("again"))
    items, error = collect_until_failure(impatient(api), request())
    assert items == [TextChunk("Hello ")]  # on screen: trying again would show it twice
    assert isinstance(error, ConnectionSilent)
    assert str(error) == (
        f"the Messages API at {api.url} sent nothing, not even a ping, for {SHORT:g} s "
        "while the answer streamed (silence_timeout), so the connection was dropped"
    )
    assert "unfinished answer was not kept" in error.hint and "send the message again" in error.hint
    assert isinstance(error.cause, httpx2.ReadTimeout)
    assert len(api.requests) == 1


def test_a_connection_that_cannot_be_made_is_not_silence(api):
    """connect_timeout, not silence_timeout: retried as every connection failure is."""
    with FakeMessagesAPI() as gone:
        url = gone.url
    client = AnthropicClient(api_key="test-key", base_url=url, max_retries=1, max_retry_wait=0.05)
    items, error = collect_until_failure(client, request())
    assert [type(item) for item in items] == [RetryWait]
    assert not isinstance(error, ConnectionSilent)
    assert str(error).startswith(f"connection to {url} failed")


@pytest.mark.parametrize(
    "container", ["container_old", {"id": "container_old", "skills": []}], ids=["id", "with-skills"]
)
def test_a_500_on_a_request_naming_a_container_is_not_tried_again_with_it(api, container):
    api.hosted.stale_container("container_old")
    items, error = collect_until_failure(impatient(api), request(container=container))
    assert isinstance(error, ContainerExpired) and items == []
    assert error.why.startswith("the API failed with 500 on a request naming it")
    assert "500 api_error: Internal server error" in str(error)
    assert "its files and Python state are gone" in error.hint
    assert len(api.requests) == 1


def test_a_500_without_a_container_is_retried_as_any_5xx(api):
    api.script(replies.error(500, "api_error", "Internal server error"), replies.text("ok"))
    items = guarded(impatient(api), request(container={"skills": []}))
    assert items[0] == RetryWait(1, 2, items[0].seconds, "500 api_error")
    assert items[-1].text() == "ok"


def test_a_not_found_naming_the_container_is_a_refused_container(api):
    api.hosted.stale_container("container_old", status=404)
    _, error = collect_until_failure(impatient(api), request(container="container_old"))
    assert isinstance(error, ContainerExpired) and error.why == "the API no longer knows it"
    assert "404 not_found_error: Container container_old not found" in str(error)


@pytest.mark.parametrize("max_retries", [2, 0], ids=["retries-left", "last-try"])
def test_a_retry_after_beyond_the_cap_ends_the_request_saying_when_to_try_again(api, max_retries):
    api.script(replies.error(429, "rate_limit_error", "Rate limited", retry_after=3600))
    client = impatient(api, max_retry_wait=30, max_retries=max_retries)
    items, error = collect_until_failure(client, request())
    assert items == []
    assert str(error).startswith("the Messages API answered 429 rate_limit_error: Rate limited")
    assert str(error).endswith("; it asks for a wait of 60 min before the next try")
    assert error.hint.startswith("try again after ")
    assert "at most 30 s between tries (max_retry_wait)" in error.hint
    assert isinstance(error.cause, anthropic.RateLimitError)
    assert len(api.requests) == 1


def test_retry_after_ms_is_read_before_retry_after(api):
    api.script(
        replies.error(529, "overloaded_error", "Overloaded", retry_after=60, retry_after_ms=20),
        replies.text("Made it."),
    )
    items = guarded(impatient(api, max_retry_wait=30), request())
    assert items[0] == RetryWait(1, 2, 0.02, "529 overloaded_error")
    assert items[-1].text() == "Made it."


def test_an_error_the_server_says_not_to_retry_is_not_retried(api):
    items, error = collect_until_failure(impatient(api), request())  # nothing scripted
    assert items == [] and len(api.requests) == 1  # the fake sends x-should-retry: false
    assert "500 api_error" in str(error) and "already retried" not in error.hint


@pytest.mark.parametrize(
    ("raw", "what", "cause"),
    [
        (GARBLED_JSON, "an event's data is not valid JSON: {", json.JSONDecodeError),
        (NOT_UTF8, "it holds bytes that are not UTF-8: b'\\xff\\xfe", UnicodeDecodeError),
        (
            UNSTARTED_BLOCK,
            "an event names a content block that the stream never started",
            IndexError,
        ),
        (
            BROKEN_UNKNOWN_EVENT,
            "an event is not shaped as the API defines it (TypeError",
            TypeError,
        ),
    ],
    ids=["invalid-json", "not-utf8", "delta-for-unstarted-block", "unknown-event-broken-payload"],
)
def test_a_stream_the_sdk_cannot_read_is_one_line_model_error_with_the_request_id(
    api, raw, what, cause
):
    api.script(replies.inject(replies.text("Hello there, friend."), raw, after_events=4))
    items, error = collect_until_failure(impatient(api), request())
    assert items == [TextChunk("Hello ")]  # the good stream goes on after it: nothing else ended it
    message = str(error)
    assert message.startswith(f"the Messages API sent a stream that cannot be read: {what}")
    assert "(request id req_fake" in message
    assert "\n" not in message and len(message) < 300
    assert error.hint == "the answer was dropped; send the message again"
    assert isinstance(error.cause, cause) and not isinstance(error, IncompleteResponse)
    assert len(api.requests) == 1


def test_tool_input_the_sdk_cannot_parse_is_a_model_error(api):
    use = replies.tool_use("run_bash", {"command": "ls"})
    bad = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "input_json_delta", "partial_json": "}}"},
    }
    api.script(replies.inject(use, bad, after_events=3))
    items, error = collect_until_failure(impatient(api), request())
    assert items == []
    assert str(error).startswith(
        "the Messages API sent a stream that cannot be read: "
        "the model sent tool input that is not valid JSON (request id req_fake"
    )


def test_tool_input_that_is_not_a_json_object_is_a_model_error(api):
    call = {"type": "tool_use", "id": replies.new_tool_use_id(), "name": "run_bash", "input": [1]}
    api.script(replies.message(call, stop_reason="tool_use"))
    items, error = collect_until_failure(impatient(api), request())
    assert items == []
    assert str(error) == "the model sent tool input that is not a JSON object: [1]"


def test_a_stray_event_before_message_start_is_ignored(api):
    stray = {"type": "content_block_stop", "index": 0}
    api.script(replies.inject(replies.text("Fine."), stray, after_events=0))
    assert guarded(impatient(api), request())[-1].text() == "Fine."


@pytest.fixture
def not_an_api():
    """A local server that answers every request with a page that is not an event stream."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Page(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            body = b"<html><body>Please log in to the proxy</body></html>"
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_page_that_is_not_an_event_stream_is_named(not_an_api):
    """A proxy's login page answered with 200 is not 'an answer cut off': say what came."""
    client = AnthropicClient(api_key="test-key", base_url=not_an_api)
    with pytest.raises(ModelError) as raised:
        collect(client, request())
    assert str(raised.value) == (
        f"{not_an_api} answered with text/html instead of an event stream of the Messages API"
    )
    assert "ANTHROPIC_BASE_URL" in raised.value.hint
