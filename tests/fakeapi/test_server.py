"""The fake Messages API, driven by the real anthropic SDK: if the SDK accepts it, so will our client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import pytest

from fakeapi import FakeMessagesAPI, PromptCache, replies
from fakeapi.__main__ import load_script

HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


def sdk(api: FakeMessagesAPI, **options) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=api.url, **options)


def ask(client: anthropic.Anthropic, messages=HELLO, **params):
    params.setdefault("model", "claude-sonnet-5-5")
    params.setdefault("max_tokens", 1000)
    return client.messages.stream(messages=messages, **params)


def test_streamed_text_arrives_in_several_deltas_and_accumulates(api):
    api.script(replies.text("Hello there, how are you?"))
    with ask(sdk(api)) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == final.content[0].text == "Hello there, how are you?"
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    assert final.model == "claude-sonnet-5-5" and final.id.startswith("msg_")


def test_stream_follows_the_real_event_order(api):
    api.script(replies.tool_use("run_bash", {"command": "ls -la"}, text="Let me check."))
    body = {"model": "m", "max_tokens": 10, "messages": HELLO, "stream": True}
    with httpx2.stream("POST", f"{api.url}/v1/messages", json=body) as response:
        assert response.headers["content-type"] == "text/event-stream"
        lines = list(response.iter_lines())
    events = [line.split(": ", 1)[1] for line in lines if line.startswith("event:")]
    assert events[0] == "message_start" and events[-2:] == ["message_delta", "message_stop"]
    assert "ping" in events
    assert events.count("content_block_start") == events.count("content_block_stop") == 2


def test_non_streaming_create_returns_the_json_message(api):
    api.script(replies.text("Plain answer"))
    message = sdk(api).messages.create(model="m", max_tokens=10, messages=HELLO)
    assert message.content[0].text == "Plain answer"
    assert message.stop_reason == "end_turn"
    assert api.requests[0].body.get("stream") is None


def test_tool_input_streams_in_pieces_and_the_sdk_parses_it(api):
    api.script(replies.tool_use("run_bash", {"command": "ls -la /tmp"}, text="Let me check."))
    with ask(sdk(api)) as stream:
        json_events = [event for event in stream if event.type == "input_json"]
        final = stream.get_final_message()
    assert len(json_events) >= 2
    text, call = final.content
    assert text.text == "Let me check."
    assert call.type == "tool_use" and call.name == "run_bash"
    assert call.input == {"command": "ls -la /tmp"}
    assert call.id.startswith("toolu_")
    assert final.stop_reason == "tool_use"


def test_parallel_tool_uses_get_unique_ids(api):
    api.script(replies.tool_uses([("read", {"path": "a"}), ("read", {"path": "b"})]))
    with ask(sdk(api)) as stream:
        final = stream.get_final_message()
    ids = [block.id for block in final.content]
    assert [block.input["path"] for block in final.content] == ["a", "b"]
    assert len(set(ids)) == 2 and all(i.startswith("toolu_") for i in ids)


def test_requests_are_recorded_with_bearer_auth_and_body(api):
    api.script(replies.text("ok"))
    with ask(sdk(api), system="Be brief.") as stream:
        stream.until_done()
    (request,) = api.requests
    assert (request.method, request.path) == ("POST", "/v1/messages")
    assert request.headers["authorization"] == "Bearer test-key"
    assert "x-api-key" not in request.headers
    assert request.body["system"] == "Be brief."
    assert request.body["stream"] is True


def test_overloaded_529_is_retried_by_the_sdk(api):
    overloaded = replies.error(529, "overloaded_error", "Overloaded", retry_after=0.01)
    api.script(overloaded, overloaded, replies.text("finally"))
    with ask(sdk(api, max_retries=2)) as stream:
        assert stream.get_final_text() == "finally"
    assert len(api.requests) == 3
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1", "2"]


def test_bad_request_is_not_retried(api):
    api.script(
        replies.error(
            400, "invalid_request_error", "messages: text content blocks must be non-empty"
        )
    )
    with pytest.raises(anthropic.BadRequestError) as caught, ask(sdk(api)) as stream:
        stream.until_done()
    assert caught.value.type == "invalid_request_error"
    assert "non-empty" in caught.value.api_message
    assert caught.value.request_id.startswith("req_")
    assert len(api.requests) == 1


def test_mid_stream_error_event_raises_status_200_with_its_type(api):
    api.script(replies.stream_error("overloaded_error", after_text="Working on it"))
    seen = []
    with pytest.raises(anthropic.APIStatusError) as caught, ask(sdk(api)) as stream:
        seen.extend(stream.text_stream)
    assert "".join(seen) == "Working on it"
    assert caught.value.status_code == 200
    assert caught.value.type == "overloaded_error"
    assert len(api.requests) == 1


def test_truncated_stream_leaves_the_sdk_without_a_stop_reason(api):
    api.script(replies.truncated("cut off mid"))
    with ask(sdk(api)) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "cut off mid"
    assert final.stop_reason is None


def test_dropped_connection_surfaces_as_raw_httpx2_error(api):
    api.script(replies.truncated("cut off", drop_connection=True))
    with pytest.raises(httpx2.RemoteProtocolError), ask(sdk(api, max_retries=0)) as stream:
        stream.until_done()


def test_second_request_over_the_same_prefix_reads_the_cache(api):
    api.responder = lambda body: replies.text("ok")
    system = [{"type": "text", "text": "S" * 400, "cache_control": {"type": "ephemeral"}}]
    first = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "Q1", "cache_control": {"type": "ephemeral"}}],
        }
    ]
    client = sdk(api)
    usage1 = client.messages.create(model="m", max_tokens=10, system=system, messages=first).usage
    second = [
        {"role": "user", "content": [{"type": "text", "text": "Q1"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
        {
            "role": "user",
            "content": [{"type": "text", "text": "Q2", "cache_control": {"type": "ephemeral"}}],
        },
    ]
    usage2 = client.messages.create(model="m", max_tokens=10, system=system, messages=second).usage
    assert usage1.cache_read_input_tokens == 0 and usage1.cache_creation_input_tokens > 100
    assert usage2.cache_read_input_tokens == usage1.cache_creation_input_tokens
    assert usage2.input_tokens == 0 and usage2.cache_creation_input_tokens > 0


def test_no_breakpoints_means_no_cache_and_another_model_misses(api):
    api.responder = lambda body: replies.text("ok")
    client = sdk(api)
    plain = client.messages.create(model="m", max_tokens=10, system="S" * 400, messages=HELLO).usage
    again = client.messages.create(model="m", max_tokens=10, system="S" * 400, messages=HELLO).usage
    assert plain.cache_read_input_tokens == again.cache_read_input_tokens == 0
    assert plain.input_tokens == again.input_tokens > 100
    marked = [{"type": "text", "text": "S" * 400, "cache_control": {"type": "ephemeral"}}]
    client.messages.create(model="m", max_tokens=10, system=marked, messages=HELLO)
    other = client.messages.create(
        model="other", max_tokens=10, system=marked, messages=HELLO
    ).usage
    assert other.cache_read_input_tokens == 0


def test_count_tokens_matches_the_uncached_input(api):
    client = sdk(api)
    counted = client.messages.count_tokens(model="m", messages=HELLO, system="S" * 400)
    api.script(replies.text("ok"))
    usage = client.messages.create(model="m", max_tokens=10, messages=HELLO, system="S" * 400).usage
    assert counted.input_tokens == usage.input_tokens > 100


def test_unknown_path_is_a_404_in_the_api_error_shape(api):
    response = httpx2.get(f"{api.url}/v1/nothing")
    assert response.status_code == 404
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "not_found_error"


def test_exhausted_script_is_a_clear_500_that_is_not_retried(api):
    with pytest.raises(anthropic.InternalServerError) as caught, ask(sdk(api)) as stream:
        stream.until_done()
    assert "script is exhausted" in caught.value.api_message
    assert len(api.requests) == 1


def test_responder_answers_once_the_script_is_used_up(api):
    api.script(replies.text("scripted"))
    api.responder = replies.echo
    client = sdk(api)
    first = client.messages.create(model="m", max_tokens=10, messages=HELLO)
    second = client.messages.create(
        model="m", max_tokens=10, messages=[{"role": "user", "content": "ping?"}]
    )
    assert first.content[0].text == "scripted"
    assert second.content[0].text == "echo: ping?"
    assert api.pending == 0


def test_slow_reply_and_latency_still_deliver_the_answer():
    with FakeMessagesAPI(latency=0.05) as api:
        api.script(replies.slow(replies.text("late"), 0.1))
        message = sdk(api).messages.create(model="m", max_tokens=10, messages=HELLO)
    assert message.content[0].text == "late"


def test_slow_between_events_streams_every_event(api):
    api.script(replies.slow(replies.text("a b"), 0.02, between_events=True))
    with ask(sdk(api)) as stream:
        events = [event.type for event in stream]
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"


def raw_stream(
    api: FakeMessagesAPI, *, timeout: float = 10.0
) -> tuple[list[bytes], Exception | None]:
    """The SSE body's lines as bytes, and the error that ended the read early, if any."""
    body = {"model": "m", "max_tokens": 10, "messages": HELLO, "stream": True}
    lines: list[bytes] = []
    with httpx2.stream(
        "POST", f"{api.url}/v1/messages", json=body, timeout=httpx2.Timeout(timeout)
    ) as response:
        try:
            for chunk in response.iter_raw():
                lines.extend(chunk.splitlines())
        except httpx2.ReadTimeout as err:
            return lines, err
    return lines, None


def event_names(lines: list[bytes]) -> list[str]:
    return [line.split(b": ", 1)[1].decode() for line in lines if line.startswith(b"event:")]


def test_injected_bytes_go_out_verbatim_between_good_events(api):
    garbage = b"event: content_block_delta\ndata: {oops \xff\xfe\n\n"
    api.script(replies.inject(replies.text("Hello there"), garbage, after_events=3))
    lines, failure = raw_stream(api)
    assert failure is None
    assert b"data: {oops \xff\xfe" in lines
    names = event_names(lines)
    assert names[:4] == ["message_start", "content_block_start", "ping", "content_block_delta"]
    assert names[-2:] == ["message_delta", "message_stop"]  # the good stream goes on after it
    written = [line for line in lines if line]
    ping = written.index(b"event: ping")  # the third event: the garbage comes right after it
    assert written[ping + 2 : ping + 4] == [b"event: content_block_delta", b"data: {oops \xff\xfe"]


def test_an_injected_event_is_encoded_like_the_apis_own(api):
    stray = {
        "type": "content_block_delta",
        "index": 7,
        "delta": {"type": "text_delta", "text": "x"},
    }
    api.script(replies.inject(replies.text("Hi"), stray, after_events=2))
    lines, _ = raw_stream(api)
    assert event_names(lines)[2] == "content_block_delta"
    assert json.loads(lines[lines.index(b"event: content_block_delta") + 1][6:]) == stray


def test_a_stalled_stream_sends_its_first_events_then_nothing(api):
    api.script(replies.stall(replies.text("Hello there"), 30, after_events=4))
    lines, failure = raw_stream(api, timeout=0.5)
    assert isinstance(failure, httpx2.ReadTimeout)
    assert event_names(lines) == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
    ]


def test_a_pause_sends_no_data_only_pings_then_the_rest_of_the_stream(api):
    api.ping_interval = 0.05
    api.script(replies.pause(replies.text("Hello there"), 0.6, after_events=1))
    lines, failure = raw_stream(api, timeout=0.5)  # longer than the pause: only pings kept it alive
    assert failure is None
    names = event_names(lines)
    assert names[0] == "message_start" and names[-1] == "message_stop"
    pings = names[1 : names.index("content_block_start")]
    assert len(pings) >= 5 and set(pings) == {"ping"}


def test_slow_events_are_kept_alive_with_pings(api):
    api.ping_interval = 0.05
    api.script(replies.slow(replies.text("a b"), 0.3, between_events=True))
    lines, failure = raw_stream(api, timeout=0.2)  # shorter than each wait: pings fill them
    assert failure is None
    names = event_names(lines)
    assert names.count("ping") >= 2 * (len(names) - names.count("ping"))


def test_a_silent_reply_sends_nothing_until_the_client_hangs_up(api):
    api.script(replies.silence(), replies.text("next"))
    body = {"model": "m", "max_tokens": 10, "messages": HELLO, "stream": True}
    with pytest.raises(httpx2.ReadTimeout):
        httpx2.post(f"{api.url}/v1/messages", json=body, timeout=httpx2.Timeout(0.5))
    assert event_names(raw_stream(api)[0])[-1] == "message_stop"  # the server serves on


def test_a_disturbed_reply_is_sent_whole_without_streaming(api):
    api.script(replies.stall(replies.text("whole"), 30), replies.inject(replies.text("too"), b"x"))
    client = sdk(api, max_retries=0)
    for expected in ("whole", "too"):
        message = client.messages.create(model="m", max_tokens=10, messages=HELLO)
        assert message.content[0].text == expected


def test_retry_after_headers_are_sent_as_scripted(api):
    api.script(
        replies.error(429, "rate_limit_error", "slow down", retry_after=3600),
        replies.error(529, "overloaded_error", "busy", retry_after_ms=20),
    )
    client = sdk(api, max_retries=0)
    headers = []
    for _ in range(2):
        with pytest.raises(anthropic.APIStatusError) as caught:
            client.messages.create(model="m", max_tokens=10, messages=HELLO)
        headers.append(caught.value.response.headers)
    assert headers[0]["retry-after"] == "3600" and "retry-after-ms" not in headers[0]
    assert headers[1]["retry-after-ms"] == "20" and "retry-after" not in headers[1]


def test_jsonl_script_lines_become_replies(tmp_path: Path):
    lines = [
        {"text": "hi"},
        {"tool_use": {"name": "run_bash", "input": {"command": "ls"}}},
        {"tool_uses": [{"name": "a", "input": {}}, {"name": "b", "input": {}}]},
        {"error": {"status": 529, "type": "overloaded_error", "message": "busy"}},
        {"error": {"status": 429, "type": "rate_limit_error", "message": "x", "retry_after_ms": 9}},
        {"stream_error": {"type": "api_error"}},
        {"truncated": {"text": "cut"}},
        {"text": "later", "delay": 0.5},
        {"silence": True},
    ]
    path = tmp_path / "script.jsonl"
    path.write_text("# a comment\n" + "\n".join(json.dumps(line) for line in lines) + "\n\n")
    script = load_script(path)
    assert script[0] == replies.text("hi")
    assert script[1].content[0]["input"] == {"command": "ls"}
    assert len(script[2].content) == 2
    assert script[3] == replies.error(529, "overloaded_error", "busy")
    assert script[4] == replies.error(429, "rate_limit_error", "x", retry_after_ms=9)
    assert script[5].type == "api_error"
    assert script[6] == replies.truncated("cut")
    assert script[7] == replies.slow(replies.text("later"), 0.5)
    assert script[8] == replies.silence()


def hosted_step() -> tuple[list[dict], dict]:
    """A paused hosted step: every kind of block a code execution answer holds."""
    use = replies.server_tool_use("bash_code_execution", {"command": "python make.py"})
    edit = replies.server_tool_use("text_editor_code_execution", {"command": "create", "path": "a"})
    blocks = [
        replies.thinking("Build it with openpyxl.", signature="sig-1"),
        {"type": "text", "text": "Creating the workbook."},
        use,
        replies.bash_result(use["id"], stdout="ok\n", file_ids=["file_011"]),
        edit,
        replies.text_editor_result(
            edit["id"],
            {"type": "text_editor_code_execution_create_result", "is_file_update": False},
        ),
        {"type": "redacted_thinking", "data": "opaque"},
    ]
    return blocks, replies.container(
        skills=[{"type": "anthropic", "skill_id": "xlsx", "version": "1"}]
    )


def test_hosted_blocks_container_and_pause_turn_stream_as_the_sdk_expects(api):
    blocks, container = hosted_step()
    api.script(replies.message(*blocks, stop_reason="pause_turn", container=container))
    with ask(sdk(api)) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert {"thinking", "signature", "input_json"} <= set(events)
    assert [block.type for block in final.content] == [block["type"] for block in blocks]
    signed = [api.signatures.sign(block, "claude-sonnet-5-5") for block in blocks]
    assert final.content[0].thinking == "Build it with openpyxl."
    assert final.content[0].signature == signed[0]["signature"] != "sig-1"
    assert final.content[2].input == {"command": "python make.py"}
    assert final.content[3].content.content[0].file_id == "file_011"
    assert final.content[5].content.is_file_update is False
    assert final.content[6].data.startswith("opaque.")
    assert final.stop_reason == "pause_turn"
    assert final.container.id == container["id"] and final.container.skills[0].skill_id == "xlsx"
    assert [b.to_dict(exclude_none=True) for b in final.content] == signed


def sse_events(api: FakeMessagesAPI, body: dict) -> list[dict]:
    with httpx2.stream("POST", f"{api.url}/v1/messages", json={**body, "stream": True}) as response:
        return [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]


def test_container_comes_in_message_delta_and_usage_in_both_ends(api):
    blocks, container = hosted_step()
    api.script(replies.message(*blocks, stop_reason="pause_turn", container=container))
    system = [{"type": "text", "text": "S" * 400, "cache_control": {"type": "ephemeral"}}]
    events = sse_events(api, {"model": "m", "max_tokens": 10, "system": system, "messages": HELLO})
    start, delta = events[0], events[-2]
    assert "container" not in start["message"]
    assert delta["delta"] == {
        "stop_reason": "pause_turn",
        "stop_sequence": None,
        "container": container,
    }
    for usage in (start["message"]["usage"], delta["usage"]):
        assert usage["cache_creation_input_tokens"] > 100
        assert usage["cache_read_input_tokens"] == 0
    assert [e["type"] for e in events if e.get("index") == 3] == [
        "content_block_start",
        "content_block_stop",
    ]  # result blocks arrive whole


def test_non_streaming_message_carries_its_container(api):
    api.script(replies.message({"type": "text", "text": "hi"}, container=replies.container()))
    message = sdk(api).messages.create(model="m", max_tokens=10, messages=HELLO)
    assert message.container.id == "container_011CYfake"


def test_more_than_four_breakpoints_is_a_400_that_uses_no_reply(api):
    api.script(replies.text("kept for the next request"))
    mark = {"type": "ephemeral"}
    content = [{"type": "text", "text": f"part {i}", "cache_control": mark} for i in range(5)]
    with pytest.raises(anthropic.BadRequestError, match="A maximum of 4 blocks with cache_control"):
        sdk(api).messages.create(
            model="m", max_tokens=10, messages=[{"role": "user", "content": content}]
        )
    assert api.pending == 1


def test_a_breakpoint_on_a_thinking_block_is_a_400(api):
    thinking = {**replies.thinking("hm"), "cache_control": {"type": "ephemeral"}}
    messages = [*HELLO, {"role": "assistant", "content": [thinking]}]
    with pytest.raises(anthropic.BadRequestError, match="thinking block: cache_control"):
        sdk(api).messages.create(model="m", max_tokens=10, messages=messages)


def marked_blocks(count: int, marked: int) -> dict:
    """A body whose one user message has ``count`` text blocks, a breakpoint on ``marked``."""
    content = [{"type": "text", "text": f"block {i} " * 20} for i in range(count)]
    content[marked] = {**content[marked], "cache_control": {"type": "ephemeral"}}
    return {"model": "m", "messages": [{"role": "user", "content": content}]}


@pytest.mark.parametrize(
    ("added", "hit"), [(PromptCache.LOOKBACK - 1, True), (PromptCache.LOOKBACK, False)]
)
def test_a_breakpoint_reads_an_entry_within_twenty_positions_counting_itself(added, hit):
    """19 blocks after an entry a breakpoint still finds it; 20 blocks after, it does not."""
    cache = PromptCache()
    written = cache.usage(marked_blocks(1, 0))["cache_creation_input_tokens"]
    usage = cache.usage(marked_blocks(1 + added, added))
    assert usage["cache_read_input_tokens"] == (written if hit else 0)


def test_the_longest_written_prefix_is_read_whichever_breakpoint_reaches_it():
    cache = PromptCache()
    cache.usage(marked_blocks(2, 1))
    longer = marked_blocks(40, 39)
    longer["messages"][0]["content"][1]["cache_control"] = {"type": "ephemeral"}
    usage = cache.usage(longer)
    everything = cache.count_tokens(longer)
    assert usage["cache_read_input_tokens"] == cache.count_tokens(marked_blocks(2, 1))
    assert usage["cache_creation_input_tokens"] == everything - usage["cache_read_input_tokens"]
    assert usage["input_tokens"] == 0
    again = cache.usage(longer)
    assert again["cache_read_input_tokens"] == everything


def test_jsonl_content_line_is_a_message_of_any_blocks(tmp_path: Path):
    blocks, container = hosted_step()
    line = {"content": blocks, "stop_reason": "pause_turn", "container": container}
    path = tmp_path / "script.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (reply,) = load_script(path)
    assert reply == replies.message(*blocks, stop_reason="pause_turn", container=container)
