"""``%model … effort= thinking=``, ``%context`` and ``%compact`` in a real kernel against
the fake API: what the requests carry, what the person reads, what is refused."""

from __future__ import annotations

import pytest
from fakeapi import FakeMessagesAPI, replies
from kernel_harness import RunningKernel


@pytest.fixture
def kernel(api, tmp_path):
    env = {
        "ANTHROPIC_API_KEY": "sk-test-key-123",
        "ANTHROPIC_BASE_URL": api.url,
        "JUPYTER_DATA_DIR": str(tmp_path / "jupyter"),
    }
    with RunningKernel("conjure", cwd=tmp_path, env=env) as running:
        yield running


def bodies(api: FakeMessagesAPI) -> list[dict]:
    return [request.body for request in api.requests_to("POST", "/v1/messages")]


def test_effort_and_thinking_set_with_the_model_go_out_with_each_request(api, kernel):
    api.script(replies.text("Hello."))
    result = kernel.run("%model claude-opus-5-5 effort=high")
    assert result.status == "ok", result.error
    assert result.text().splitlines()[0] == "claude-opus-5-5 effort=high"
    assert kernel.run("Hi").status == "ok"
    [body] = bodies(api)
    assert body["model"] == "claude-opus-5-5"
    assert body["output_config"]["effort"] == "high"
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}


def test_options_the_model_refuses_are_one_line_and_change_nothing(kernel):
    refused = kernel.run("%model claude-opus-5-5 thinking=off")
    assert refused.error == (
        "UsageError: claude-opus-5-5 always thinks, so thinking=off is refused: use "
        "thinking=auto, and a lower effort to make it think less"
    )
    unknown = kernel.run("%model effort=huge")
    assert unknown.error.startswith("UsageError: effort='huge' is not a choice")
    assert kernel.run("%model").text().splitlines()[0] == "claude-sonnet-5-5"


def test_context_shows_the_window_and_compact_sends_a_digest_from_the_next_turn(api, kernel):
    assert "no request was sent yet" in kernel.run("%context").text()
    api.script(replies.text("First answer."), replies.text("Second answer."), replies.text("3"))
    kernel.run("First question")
    kernel.run("Second question")
    shown = kernel.run("%context").text()
    assert "a window of 1M tokens" in shown and "last request: " in shown
    compacted = kernel.run("%compact")
    assert compacted.text().startswith("compacted 2 turns into a digest")
    kernel.run("Third question")
    first = bodies(api)[-1]["messages"][0]["content"]
    assert "Turn 1. Asked: First question" in first[0]["text"]
    assert "Answered: Second answer." in first[0]["text"]
    assert [message["role"] for message in bodies(api)[-1]["messages"]] == ["user"]
    history = kernel.run("%history").text()
    assert "First question" in history and "Third question" in history
