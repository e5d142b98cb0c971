"""Today's API rules in the fake, driven by the real SDK: the context window, signed
thinking, the models that refuse forced tool use, context editing and compaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from fakeapi import FakeMessagesAPI, replies
from fakeapi.editing import CLEARED
from fakeapi.models import capabilities, model_info

SONNET = "claude-sonnet-5-5"
EDITING = "context-management-2025-06-27"
COMPACTING = "compact-2026-01-12"
BIG = "lorem ipsum dolor sit amet " * 400
"""About 2,700 tokens as the fake counts them."""


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def client(api: FakeMessagesAPI) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="test-key", base_url=api.url, max_retries=0)


def ask(client: anthropic.Anthropic, messages: list, *, model: str = SONNET, **params: Any):
    """The final message of a streamed request (beta when ``betas`` is given)."""
    messages_api = client.beta.messages if "betas" in params else client.messages
    with messages_api.stream(model=model, max_tokens=1000, messages=messages, **params) as stream:
        return stream.get_final_message()


def sent(message) -> dict:
    """An SDK message as the next request sends it back."""
    return {"role": "assistant", "content": [b.to_dict(exclude_none=True) for b in message.content]}


def refused(
    client: anthropic.Anthropic, messages: list, **params: Any
) -> anthropic.BadRequestError:
    """The 400 that ``ask`` gets."""
    with pytest.raises(anthropic.BadRequestError) as caught:
        ask(client, messages, **params)
    return caught.value


def said(text: str) -> dict:
    return {"role": "user", "content": text}


# The context window


def test_a_prompt_past_the_window_is_refused_before_any_reply_is_used(api, client):
    api.models.models.append(model_info("claude-small-1", "Small", context=20_000))
    api.script(replies.text("fits"))
    error = refused(client, [said(BIG * 8)], model="claude-small-1")
    assert error.status_code == 400 and error.body["error"]["type"] == "invalid_request_error"
    message = error.body["error"]["message"]
    assert message.startswith("prompt is too long: ") and message.endswith(" > 20000 maximum")
    assert int(message.split()[4]) > 20_000
    assert api.pending == 1
    assert ask(client, [said(BIG)], model="claude-small-1").content[0].text == "fits"


def test_a_model_the_list_lacks_has_a_million_token_window(api, client):
    api.script(replies.text("fits"))
    assert ask(client, [said(BIG * 8)], model="claude-unlisted-1").content[0].text == "fits"
    assert api.prompts[0].input_tokens > 20_000


# Signed thinking


def test_thinking_goes_back_as_it_came_and_is_refused_changed(api, client):
    api.script(
        replies.message(replies.thinking("Plan the table."), {"type": "text", "text": "Hi"}),
        replies.text("accepted"),
    )
    first = ask(client, [said("Hello")])
    block = first.content[0]
    assert block.thinking == "Plan the table." and block.signature != "fake-signature"
    history = [said("Hello"), sent(first), said("Go on")]
    assert ask(client, history).content[0].text == "accepted"
    edited = {**history[1], "content": [{**history[1]["content"][0], "thinking": "Plan another."}]}
    error = refused(client, [said("Hello"), edited, said("Go on")])
    assert error.body["error"]["message"] == (
        "messages.1.content.0: Invalid `signature` in `thinking` block"
    )
    forged = {**history[1], "content": [{**history[1]["content"][0], "signature": "c2ln"}]}
    assert refused(client, [said("Hello"), forged, said("Go on")]).status_code == 400


def test_thinking_written_for_another_model_is_refused(api, client):
    api.script(replies.message(replies.thinking("Sonnet's plan."), {"type": "text", "text": "Hi"}))
    history = [said("Hello"), sent(ask(client, [said("Hello")])), said("Go on")]
    error = refused(client, history, model="claude-opus-5-5")
    assert "Invalid `signature` in `thinking` block" in error.body["error"]["message"]


def test_redacted_thinking_is_bound_to_the_model(api, client):
    api.script(
        replies.message(
            {"type": "redacted_thinking", "data": "opaque"}, {"type": "text", "text": "x"}
        ),
        replies.text("accepted"),
    )
    first = ask(client, [said("Hello")])
    history = [said("Hello"), sent(first), said("Go on")]
    assert ask(client, history).content[0].text == "accepted"
    raw = {**history[1], "content": [{"type": "redacted_thinking", "data": "opaque"}]}
    error = refused(client, [said("Hello"), raw, said("Go on")])
    assert error.body["error"]["message"] == (
        "messages.1.content.0: Invalid `data` in `redacted_thinking` block"
    )


def test_omitted_thinking_comes_empty_with_a_signature_that_verifies(api, client):
    api.script(
        replies.message(replies.thinking("Hidden plan."), {"type": "text", "text": "Hi"}),
        replies.text("accepted"),
    )
    thinking = {"type": "adaptive", "display": "omitted"}
    with client.messages.stream(
        model=SONNET, max_tokens=100, messages=[said("Hello")], thinking=thinking
    ) as stream:
        events = [event.type for event in stream]
        first = stream.get_final_message()
    assert first.content[0].thinking == "" and first.content[0].signature
    assert "thinking" not in events and "signature" in events
    history = [said("Hello"), sent(first), said("Go on")]
    assert ask(client, history, thinking=thinking).content[0].text == "accepted"


# Model rules


@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-opus-5-5-20260922"])
@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "run"}])
def test_opus_5_5_refuses_a_forced_tool_choice(client, model, choice):
    tools = [{"name": "run", "description": "Run.", "input_schema": {"type": "object"}}]
    error = refused(client, [said("Hi")], model=model, tools=tools, tool_choice=choice)
    assert error.body["error"]["message"].startswith(f"tool_choice: {model} does not support")


def test_opus_5_5_refuses_thinking_off_and_lists_it_so(api, client):
    error = refused(client, [said("Hi")], model="claude-opus-5-5", thinking={"type": "disabled"})
    assert (
        error.body["error"]["message"]
        == 'thinking.type: "disabled" is not supported by claude-opus-5-5'
    )
    assert not client.models.retrieve(
        "claude-opus-5-5"
    ).capabilities.thinking.types.disabled.supported
    api.script(replies.text("off"))
    assert ask(client, [said("Hi")], thinking={"type": "disabled"}).content[0].text == "off"


def test_thinking_rules_out_a_forced_tool_choice_on_every_model(api, client):
    tools = [{"name": "run", "description": "Run.", "input_schema": {"type": "object"}}]
    forced = {"tools": tools, "tool_choice": {"type": "any"}}
    error = refused(client, [said("Hi")], thinking={"type": "adaptive"}, **forced)
    assert error.body["error"]["message"] == (
        "Thinking may not be enabled when tool_choice forces tool use."
    )
    api.script(replies.tool_use("run", {}))
    assert ask(client, [said("Hi")], **forced).stop_reason == "tool_use"


def test_unsupported_effort_thinking_and_editing_are_refused_as_listed(api, client):
    plain = capabilities(thinking=False, effort=False, editing=False)
    api.models.models.append(model_info("claude-plain-1", "Plain", caps=plain))
    to_plain = {"model": "claude-plain-1"}
    cases = {
        "output_config.effort": {"output_config": {"effort": "high"}},
        "thinking.type": {"thinking": {"type": "adaptive"}},
        "context_management.edits.0": {
            "betas": [EDITING],
            "context_management": {"edits": [{"type": "clear_thinking_20251015"}]},
        },
    }
    for where, params in cases.items():
        error = refused(client, [said("Hi")], **to_plain, **params)
        assert error.body["error"]["message"].startswith(where), where
    assert api.prompts == []


# Context editing


def thinking_turns(api: FakeMessagesAPI, count: int) -> list[dict]:
    """A conversation of ``count`` assistant turns, each with signed thinking."""
    history: list[dict] = []
    for turn in range(count):
        thought = api.signatures.sign(replies.thinking(f"Thought {turn}. {BIG}"), SONNET)
        history += [
            said(f"Question {turn}"),
            {"role": "assistant", "content": [thought, {"type": "text", "text": "ok"}]},
        ]
    return [*history, said("Last question")]


def test_clear_thinking_keeps_the_last_turns_and_reports_what_it_cleared(api, client):
    history = thinking_turns(api, 3)
    api.script(replies.text("cleared"), replies.text("kept"))
    edits = {
        "edits": [
            {"type": "clear_thinking_20251015", "keep": {"type": "thinking_turns", "value": 1}}
        ]
    }
    final = ask(client, history, betas=[EDITING], context_management=edits)
    (applied,) = final.context_management.applied_edits
    assert applied.type == "clear_thinking_20251015" and applied.cleared_thinking_turns == 2
    read = api.prompts[0].prompt["messages"]
    assert [len(read[i]["content"]) for i in (1, 3, 5)] == [1, 1, 2]
    keep_all = {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}
    untouched = ask(client, history, betas=[EDITING], context_management=keep_all)
    assert untouched.context_management.applied_edits == []
    assert final.usage.input_tokens + applied.cleared_input_tokens == untouched.usage.input_tokens


def tool_steps(count: int, name: str = "run") -> list[dict]:
    """A user message, then ``count`` tool uses named ``name``, each with a large result."""
    history = [said("Start")]
    for step in range(count):
        id = f"toolu_{name}_{step}"
        use = {"type": "tool_use", "id": id, "name": name, "input": {"step": step}}
        result = {"type": "tool_result", "tool_use_id": id, "content": BIG}
        history += [{"role": "assistant", "content": [use]}, {"role": "user", "content": [result]}]
    return history


def clear_tools(**edit: Any) -> dict:
    return {"edits": [{"type": "clear_tool_uses_20250919", **edit}]}


def test_clear_tool_uses_clears_all_but_the_last_results_past_its_trigger(api, client):
    history = tool_steps(6)
    api.script(replies.text("a"), replies.text("b"), replies.text("c"))
    edit = clear_tools(
        trigger={"type": "input_tokens", "value": 5_000}, keep={"type": "tool_uses", "value": 2}
    )
    final = ask(client, history, betas=[EDITING], context_management=edit)
    (applied,) = final.context_management.applied_edits
    assert applied.cleared_tool_uses == 4 and applied.cleared_input_tokens > 4 * 2_000
    results = [m["content"][0]["content"] for m in api.prompts[0].prompt["messages"][2::2]]
    assert results == [CLEARED] * 4 + [BIG] * 2
    high = clear_tools(trigger={"type": "input_tokens", "value": 50_000})
    below = ask(client, history, betas=[EDITING], context_management=high)
    assert below.context_management.applied_edits == []
    greedy = {**edit["edits"][0], "clear_at_least": {"type": "input_tokens", "value": 20_000}}
    unmet = ask(client, history, betas=[EDITING], context_management={"edits": [greedy]})
    assert unmet.context_management.applied_edits == []


def test_clear_tool_uses_by_count_spares_excluded_tools_and_can_clear_inputs(api, client):
    history = tool_steps(3, name="keep_me") + tool_steps(3)[1:]
    api.script(replies.text("ok"))
    edit = clear_tools(
        trigger={"type": "tool_uses", "value": 5},
        keep={"type": "tool_uses", "value": 1},
        exclude_tools=["keep_me"],
        clear_tool_inputs=True,
    )
    final = ask(client, history, betas=[EDITING], context_management=edit)
    assert final.context_management.applied_edits[0].cleared_tool_uses == 2
    read = api.prompts[0].prompt["messages"]
    cleared = [m["content"][0]["content"] == CLEARED for m in read[2::2]]
    assert cleared == [False, False, False, True, True, False]
    assert [m["content"][0]["input"] for m in read[1::2]][3:] == [{}, {}, {"step": 2}]


def test_the_window_holds_the_prompt_after_the_edits(api, client):
    api.models.models.append(model_info("claude-small-1", "Small", context=20_000))
    history = tool_steps(10)
    assert refused(client, history, model="claude-small-1").status_code == 400
    api.script(replies.text("fits"))
    edit = clear_tools(trigger={"type": "input_tokens", "value": 10_000})
    final = ask(client, history, model="claude-small-1", betas=[EDITING], context_management=edit)
    assert final.content[0].text == "fits" and api.prompts[0].input_tokens <= 20_000


def test_context_management_needs_its_beta_headers_and_thinking_first(client):
    thinking_edit = {"type": "clear_thinking_20251015"}
    cases = [
        ({"edits": [thinking_edit]}, [COMPACTING], "context-management-2025-06-27"),
        ({"edits": [{"type": "compact_20260112"}]}, [EDITING], "compact-2026-01-12"),
        (
            {"edits": [{"type": "clear_tool_uses_20250919"}, thinking_edit]},
            [EDITING],
            "must be the first",
        ),
    ]
    for config, betas, expected in cases:
        error = refused(client, [said("Hi")], betas=betas, context_management=config)
        assert expected in error.body["error"]["message"]
    without_beta = {"extra_body": {"context_management": {"edits": [thinking_edit]}}}
    assert EDITING in refused(client, [said("Hi")], **without_beta).body["error"]["message"]


# Compaction


def compact(**edit: Any) -> dict:
    """A compaction edit past 5,000 input tokens."""
    trigger = {"type": "input_tokens", "value": 5_000}
    return {"edits": [{"type": "compact_20260112", "trigger": trigger, **edit}]}


def test_compaction_opens_the_reply_and_the_prompt_is_then_counted_from_it(api, client):
    history = [said(f"Part {n}: {BIG}") for n in range(3)]
    api.script(replies.text("compacted answer"), replies.text("next answer"))
    first = ask(client, history, betas=[COMPACTING], context_management=compact())
    block, answer = first.content
    assert block.type == "compaction" and block.content.startswith("Summary of 3 messages.")
    assert "Part 0: lorem ipsum" in block.content and block.signature
    assert answer.text == "compacted answer" and first.stop_reason == "end_turn"
    assert first.usage.input_tokens < 1_000
    assert [i.type for i in first.usage.iterations] == ["compaction", "message"]
    assert first.usage.iterations[0].input_tokens == api.prompts[0].input_tokens > 5_000
    later = [sent(first), said("And now?")]  # the block first, in place of what it summarises
    second = ask(client, later, betas=[COMPACTING], context_management=compact())
    assert second.content[0].text == "next answer"
    assert api.prompts[1].counted_from == 0 and second.usage.input_tokens < 1_000
    assert client.messages.count_tokens(model=SONNET, messages=later).input_tokens < 1_000


def test_pause_after_compaction_returns_the_block_alone_and_the_turn_resumes(api, client):
    api.script(replies.text("resumed"))
    history = [said(BIG * 3)]
    paused = ask(
        client, history, betas=[COMPACTING], context_management=compact(pause_after_compaction=True)
    )
    assert [b.type for b in paused.content] == ["compaction"] and paused.stop_reason == "compaction"
    assert api.pending == 1
    resumed = ask(client, [sent(paused)], betas=[COMPACTING], context_management=compact())
    assert resumed.content[0].text == "resumed" and resumed.content[0].type == "text"


def test_a_compaction_block_changed_or_forged_is_refused(api, client):
    api.script(replies.text("a"))
    first = ask(client, [said(BIG * 3)], betas=[COMPACTING], context_management=compact())
    block = sent(first)["content"][0]
    cases = {
        "compaction_content_mismatch": {**block, "content": block["content"] + " More."},
        "compaction_signature_invalid": {**block, "signature": "0000.c2ln"},
    }
    for code, changed in cases.items():
        history = [said("Hi"), {"role": "assistant", "content": [changed]}, said("Go on")]
        error = refused(client, history, betas=[COMPACTING])
        assert error.error_code == code
        assert error.body["error"]["message"].startswith("messages.1.content.0: ")


def test_a_compaction_block_goes_back_first_and_alone(api, client):
    api.script(replies.text("a"))
    first = ask(client, [said(BIG * 3)], betas=[COMPACTING], context_management=compact())
    block = sent(first)
    misplaced = refused(client, [said("Hi"), block, said("Go on")], betas=[COMPACTING])
    assert misplaced.error_code == "compaction_block_misplaced"
    twice = {"role": "assistant", "content": [*block["content"], *block["content"]]}
    ambiguous = refused(client, [twice, said("Go on")], betas=[COMPACTING])
    assert ambiguous.error_code == "compaction_block_ambiguous"
