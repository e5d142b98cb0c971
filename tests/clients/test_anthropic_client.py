"""AnthropicClient against the local fake Messages API: real SDK, real HTTP, real SSE."""

from __future__ import annotations

import asyncio
import copy
import json
import typing
from collections.abc import Iterator

import anthropic
import pytest
from fakeapi import FakeMessagesAPI, replies

from conjure_kernel.clients.anthropic_client import DEFAULT_MODEL, AnthropicClient, build_params
from conjure_kernel.clients.base import ModelClient, ModelRequest, ModelResponse, TextChunk
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


def request(messages=None, *, system=SYSTEM, tools=(BASH, READ), **extra) -> ModelRequest:
    messages = messages or [{"role": "user", "content": "List the files."}]
    return ModelRequest(DEFAULT_MODEL, system, messages, tools, 1000, extra=extra)


def collect(client: AnthropicClient, req: ModelRequest) -> list[TextChunk | ModelResponse]:
    async def run() -> list[TextChunk | ModelResponse]:
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


def test_cache_breakpoints_mark_system_last_tool_and_last_message(api, client):
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
    assert body["system"] == [
        {"type": "text", "text": SYSTEM, "cache_control": {"type": "ephemeral"}}
    ]
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"] == [
        {"type": "text", "text": "And the hidden ones?", "cache_control": {"type": "ephemeral"}}
    ]
    assert body["messages"][:2] == history[:2]
    assert breakpoints(body) == 3
    assert (history, tools) == before


def test_empty_system_and_tools_are_omitted(api, client):
    api.script(replies.text("Hi."))
    answer(client, request(system="", tools=()))
    body = api.requests[0].body
    assert "system" not in body and "tools" not in body
    assert breakpoints(body) == 1


def test_breakpoints_never_exceed_four_when_history_has_its_own():
    marked = {"type": "text", "text": "old", "cache_control": {"type": "ephemeral"}}
    history = [{"role": "user", "content": [marked]} for _ in range(3)]
    history.append({"role": "user", "content": "new"})
    params = build_params(request(history))
    assert breakpoints(params) == 4
    assert "cache_control" not in params["messages"][0]["content"][0]
    assert params["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert history[0]["content"][0] is marked and "cache_control" in marked


def test_extra_parameters_reach_the_request_body(api, client):
    api.script(replies.text("Hi."))
    answer(client, request(container={"skills": [{"type": "anthropic", "skill_id": "xlsx"}]}))
    assert api.requests[0].body["container"]["skills"][0]["skill_id"] == "xlsx"


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


def test_overloaded_twice_then_success_is_retried_by_the_sdk(api, client):
    api.script(OVERLOADED, OVERLOADED, replies.text("Made it."))
    assert answer(client, request()).text() == "Made it."
    assert len(api.requests) == 3


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
