"""Fitting the conversation in the window, the model options, and thinking across models.

The session's requests go through its ``ContextKeeper``; these tests read what each
request carried (the scripted client keeps them) and what the trace said.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from backends.scripted_client import ScriptedClient, text_reply, tool_use_reply

from conjure_kernel.clients.base import ModelRequest, ModelResponse, Usage
from conjure_kernel.clients.model_facts import ModelFacts, Supports, facts_of
from conjure_kernel.clients.model_options import ModelOptions
from conjure_kernel.conversation.context import ContextKeeper
from conjure_kernel.conversation.context_edits import turn_starts
from conjure_kernel.conversation.session import Session
from conjure_kernel.errors import ConjureError, PromptTooLong
from conjure_kernel.events import Notice, TurnFailed

BIG_OUTPUT = "head -c 3000 /dev/zero | tr '\\0' a"


@pytest.fixture
def sessions() -> Iterator[list[Session]]:
    made: list[Session] = []
    yield made
    for session in made:
        session.close()


@pytest.fixture
def new_session(sessions, tmp_path):
    def make(client: Any, *, window: int | None = None, **kwargs: Any) -> Session:
        session = Session(
            client=client, model="claude-test", settings={"workdir": str(tmp_path)}, **kwargs
        )
        if window is not None:
            session.context.facts = lambda model: ModelFacts(window, Supports())
        sessions.append(session)
        return session

    return make


def chat(session: Session, message: str) -> list:
    async def collect() -> list:
        return [event async for event in session.chat(message)]

    return asyncio.run(asyncio.wait_for(collect(), 30))


def notices(events: list) -> list[str]:
    return [event.text for event in events if isinstance(event, Notice)]


def tool_turns(count: int) -> list[ModelResponse]:
    """Each turn: one command that prints 3,000 characters, then a short answer."""
    script = []
    for turn in range(count):
        command = {"command": BIG_OUTPUT, "description": "print"}
        script += [tool_use_reply((f"t{turn}", "bash_tool", command)), text_reply(f"Done {turn}.")]
    return script


def assert_valid(messages: list[Any]) -> None:
    """Every tool_use answered by a tool_result in the next message, roles alternating."""
    for index, message in enumerate(messages):
        content = message["content"]
        uses = [b["id"] for b in content if isinstance(b, dict) and b.get("type") == "tool_use"]
        if uses:
            answered = {b["tool_use_id"] for b in messages[index + 1]["content"]}
            assert set(uses) <= answered
    roles = [message["role"] for message in messages]
    assert all(a != b for a, b in itertools.pairwise(roles))


# -- the kernel's own edits --------------------------------------------------------------


def test_a_conversation_many_times_the_window_keeps_going_on_valid_requests(new_session):
    client = ScriptedClient(tool_turns(60))
    session = new_session(client, window=6_000)
    said: list[str] = []
    for turn in range(60):
        events = chat(session, f"question {turn}")
        assert not any(isinstance(event, TurnFailed) for event in events)
        said += notices(events)
    sent = sum(len(str(request.messages)) for request in client.requests[-2:]) / 2
    assert len(str(session.messages)) > 10 * sent  # the session kept it all, sent a part
    assert any(text.startswith("cleared ") and "earlier tool results" in text for text in said)
    assert any(text.startswith("compacted ") and "into a digest" in text for text in said)
    for request in client.requests:
        assert_valid(list(request.messages))
        assert session.context.estimate(request) < 6_000
    assert len(session.transcript) == 60 and len(turn_starts(session.messages)) == 60


def test_the_digest_opens_the_first_kept_turn_and_names_the_earlier_ones(new_session):
    client = ScriptedClient([*tool_turns(3), text_reply("Fine.")])
    session = new_session(client)
    for turn in range(3):
        chat(session, f"question {turn}")
    line = session.context.compact_now(session.messages, session.model)
    assert line.startswith("compacted 3 turns into a digest")
    chat(session, "and now?")
    first = client.requests[-1].messages[0]
    digest, asked = first["content"]
    assert "Turn 1. Asked: question 0" in digest["text"] and "Answered: Done 2." in digest["text"]
    assert asked == {"type": "text", "text": "and now?"}
    assert len(client.requests[-1].messages) == 1
    assert len(session.messages) == 14  # nothing was taken out of the session


def test_compacting_twice_without_a_turn_between_says_there_is_nothing_to_do(new_session):
    session = new_session(ScriptedClient(tool_turns(1)))
    chat(session, "question")
    session.context.compact_now(session.messages, session.model)
    assert session.context.compact_now(session.messages, session.model).startswith(
        "nothing to compact"
    )


def test_cleared_results_keep_every_call_answered_and_the_newest_whole(new_session):
    client = ScriptedClient(tool_turns(12))
    session = new_session(client, window=6_000)
    for turn in range(12):
        chat(session, f"question {turn}")
    last = client.requests[-1].messages
    results = [
        block["content"]
        for message in last
        if isinstance(message["content"], list)
        for block in message["content"]
        if block.get("type") == "tool_result"
    ]
    assert results[-1].startswith("a" * 100)
    assert any(str(content).startswith("[cleared to fit the context window") for content in results)
    assert_valid(list(last))


def test_a_reset_forgets_the_edits(new_session):
    client = ScriptedClient([*tool_turns(12), text_reply("Hello.")])
    session = new_session(client, window=6_000)
    for turn in range(12):
        chat(session, f"question {turn}")
    assert session.context.cleared_before > 0
    session.reset()
    chat(session, "hello")
    assert session.context.cleared_before == 0
    assert client.requests[-1].messages == [{"role": "user", "content": "hello"}]


# -- the API's edits ---------------------------------------------------------------------


def test_a_model_with_context_editing_gets_the_api_edits_and_its_beta():
    keeper = ContextKeeper(lambda model: ModelFacts(100_000, Supports(context_editing=True)))
    sent, said = keeper.shape(ModelRequest("m", "system", [{"role": "user", "content": "hi"}]))
    edits = sent.extra["context_management"]["edits"]
    assert [edit["type"] for edit in edits] == ["clear_tool_uses_20250919", "compact_20260112"]
    assert edits[0]["trigger"] == {"type": "input_tokens", "value": 50_000}
    assert "context-management-2025-06-27" in sent.betas and said == []


def test_what_the_api_cleared_and_compacted_is_said_in_words():
    keeper = ContextKeeper(lambda model: ModelFacts(100_000, Supports(context_editing=True)))
    request = ModelRequest("m", "", [{"role": "user", "content": "hi"}])
    content = [{"type": "compaction", "content": "summary", "signature": "s"}]
    response = ModelResponse(
        {"role": "assistant", "content": content},
        "end_turn",
        Usage(100, 10),
        applied_edits=(
            {
                "type": "clear_tool_uses_20250919",
                "cleared_tool_uses": 31,
                "cleared_input_tokens": 112_000,
            },
        ),
    )
    said = [notice.text for notice in keeper.learn(request, response)]
    assert said == [
        "the API cleared 31 earlier tool results, ~112k tokens",
        "the API compacted the earlier conversation into a summary",
    ]
    assert ModelResponse.from_json(response.to_json()).applied_edits == response.applied_edits


# -- model options -----------------------------------------------------------------------


def test_options_become_request_fields_where_the_model_takes_them():
    thinks = Supports(thinking=True, effort=True)
    options = ModelOptions().updated(["effort=high"])
    assert options.request_fields(thinks) == {
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": "high"},
    }
    assert ModelOptions().request_fields(Supports()) == {}
    assert ModelOptions(thinking="off").request_fields(thinks) == {"thinking": {"type": "disabled"}}


def test_options_a_model_would_refuse_are_refused_in_one_line():
    opus = facts_of("claude-opus-5-5").supports
    off = ModelOptions().updated(["thinking=off"])
    assert "always thinks" in off.refusal("claude-opus-5-5", opus)
    assert off.request_fields(opus) == {"thinking": {"type": "adaptive", "display": "summarized"}}
    no_effort = Supports(effort=False)
    assert "effort" in ModelOptions(effort="max").refusal("m", no_effort)
    with pytest.raises(ConjureError, match="effort takes low, medium, high, xhigh, max"):
        ModelOptions().updated(["effort=huge"])
    with pytest.raises(ConjureError, match="unknown model option 'speed=fast'"):
        ModelOptions().updated(["speed=fast"])


def test_the_session_sends_the_options_it_holds(new_session):
    client = ScriptedClient([text_reply("Hi.")])
    session = new_session(client)
    session.context.facts = lambda model: ModelFacts(None, Supports(thinking=True, effort=True))
    session.context.options = ModelOptions(effort="low")
    chat(session, "hello")
    extra = client.requests[0].extra
    assert extra["output_config"] == {"effort": "low"}
    assert extra["thinking"]["display"] == "summarized"


# -- thinking across models --------------------------------------------------------------


def thinking_reply(text: str) -> ModelResponse:
    content = [
        {"type": "thinking", "thinking": "Let me see.", "signature": "sig"},
        {"type": "text", "text": text},
    ]
    return ModelResponse({"role": "assistant", "content": content}, "end_turn", Usage(10, 5))


def thinking_blocks(request: ModelRequest) -> int:
    return sum(
        block.get("type") == "thinking"
        for message in request.messages
        if isinstance(message["content"], list)
        for block in message["content"]
    )


def test_thinking_goes_back_unchanged_to_the_model_that_wrote_it(new_session):
    client = ScriptedClient([thinking_reply("One."), thinking_reply("Two.")])
    session = new_session(client)
    chat(session, "first")
    events = chat(session, "second")
    assert thinking_blocks(client.requests[1]) == 1 and notices(events) == []
    assert client.requests[1].messages[1] == session.messages[1]


def test_a_new_model_gets_no_thinking_of_the_old_one_and_the_trace_says_so(new_session):
    client = ScriptedClient([thinking_reply("One."), thinking_reply("Two."), text_reply("3")])
    session = new_session(client)
    chat(session, "first")
    session.model = "claude-other"
    events = chat(session, "second")
    assert thinking_blocks(client.requests[1]) == 0
    assert notices(events) == [
        "dropped 1 thinking blocks written by claude-test: claude-other would refuse them"
    ]
    chat(session, "third")  # the new model's own thinking goes back again
    assert thinking_blocks(client.requests[2]) == 1
    assert thinking_blocks(ModelRequest("m", "", session.messages)) == 2  # all kept


def test_restored_turns_send_no_thinking_whatever_the_model(new_session):
    """A saved turn's thinking may have been redacted, which breaks its signature."""
    client = ScriptedClient([thinking_reply("One.")])
    session = new_session(client)
    chat(session, "first")
    for model in ("claude-test", "claude-other"):
        later = new_session(ScriptedClient([text_reply("Two.")]))
        later.model = model
        later.restore(list(session.transcript))
        chat(later, "second")
        assert thinking_blocks(later.client.requests[0]) == 0  # type: ignore[attr-defined]
        assert thinking_blocks(ModelRequest("m", "", later.messages)) == 1  # kept


class CountingClient(ScriptedClient):
    """Refuses the first request whose prompt is over ``limit`` characters as the API
    does, counting one token a character: more than the session's estimate."""

    def __init__(self, responses: list[ModelResponse], limit: int) -> None:
        super().__init__(responses)
        self.limit = limit
        self.refused = 0

    async def stream(self, request: ModelRequest):  # type: ignore[override]
        size = len(str(request.messages))
        if size > self.limit and not self.refused:
            self.refused += 1
            raise PromptTooLong(f"prompt is too long: {size} tokens > {self.limit}", tokens=size)
        async for item in super().stream(request):
            yield item


def test_a_prompt_the_api_counts_too_long_is_sent_again_once_room_is_made(new_session):
    client = CountingClient(tool_turns(8), limit=9_000)
    session = new_session(client, window=12_000)
    said = []
    for turn in range(8):
        events = chat(session, f"question {turn}")
        assert not any(isinstance(event, TurnFailed) for event in events)
        said += notices(events)
    assert client.refused == 1, said
    assert any(text.startswith(("cleared ", "compacted ")) for text in said), said


def test_a_prompt_that_cannot_be_made_smaller_fails_with_what_to_do(new_session):
    client = CountingClient([text_reply("never")], limit=10)
    session = new_session(client, window=12_000)
    [failed] = [event for event in chat(session, "hello there") if isinstance(event, TurnFailed)]
    assert isinstance(failed.error, PromptTooLong) and "%compact" in failed.error.hint
    assert session.messages == []  # the turn left nothing half done


# -- what a model's listing allows, and edge cases of the edits ---------------------------


def test_only_what_the_listing_names_is_asked_for():
    no_adaptive = Supports(thinking=True, adaptive=False, effort=True, efforts=("low", "high"))
    options = ModelOptions(effort="high")
    assert options.request_fields(no_adaptive) == {"output_config": {"effort": "high"}}
    assert "takes only effort low, high" in ModelOptions(effort="max").refusal("m", no_adaptive)
    assert "effort" not in ModelOptions(effort="max").request_fields(no_adaptive)
    clearing_only = Supports(context_editing=True, edits=("clear_tool_uses_20250919",))
    keeper = ContextKeeper(lambda model: ModelFacts(100_000, clearing_only))
    sent, _ = keeper.shape(ModelRequest("m", "", [{"role": "user", "content": "hi"}]))
    assert [e["type"] for e in sent.extra["context_management"]["edits"]] == [
        "clear_tool_uses_20250919"
    ]
    none_listed = Supports(context_editing=True, edits=())
    assert not ContextKeeper(lambda model: ModelFacts(100_000, none_listed)).by_api("m")


def test_a_hosted_continuation_is_not_asked_to_compact():
    keeper = ContextKeeper(lambda model: ModelFacts(100_000, Supports(context_editing=True)))
    paused = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "text", "text": "…"}]},
    ]
    sent, _ = keeper.shape(ModelRequest("m", "", paused))
    assert [e["type"] for e in sent.extra["context_management"]["edits"]] == [
        "clear_tool_uses_20250919"
    ]


def test_a_failed_compaction_is_no_summary_and_cuts_nothing():
    keeper = ContextKeeper(lambda model: ModelFacts(100_000, Supports(context_editing=True)))
    failed = {"role": "assistant", "content": [{"type": "compaction", "content": None}]}
    messages = [{"role": "user", "content": "one"}, failed, {"role": "user", "content": "two"}]
    keeper.last_model = keeper.compaction_model = "m"
    sent, _ = keeper.shape(ModelRequest("m", "", messages))
    assert len(sent.messages) == 3
    response = ModelResponse(failed, "end_turn", Usage(10, 1))
    assert keeper.learn(sent, response) == []


def test_plain_chat_past_the_window_is_compacted_without_an_empty_clearing(new_session):
    replies_ = [text_reply("x" * 4000) for _ in range(8)]
    session = new_session(ScriptedClient(replies_), window=6_000)
    said = [text for turn in range(8) for text in notices(chat(session, f"question {turn}"))]
    assert said and not any(text.startswith("cleared 0") for text in said)
    assert any(text.startswith("compacted ") for text in said)


def test_the_maximum_the_api_names_becomes_the_window():
    keeper = ContextKeeper(lambda model: ModelFacts(1_000_000, Supports()))
    request = ModelRequest("m", "", [{"role": "user", "content": "hi"}])
    assert keeper.counted(request, 5, 200_000) and keeper.window("m") == 200_000
    assert not keeper.counted(request, 5, 300_000)  # nothing new


def test_a_hosted_step_does_not_calibrate_the_estimate():
    keeper = ContextKeeper()
    request = ModelRequest("m", "", [{"role": "user", "content": "hi " * 100}])
    use = {"type": "server_tool_use", "id": "s1", "name": "bash_code_execution", "input": {}}
    hosted = ModelResponse({"role": "assistant", "content": [use]}, "end_turn", Usage(50_000, 1))
    before = keeper.tokens_per_char
    keeper.learn(request, hosted)
    assert keeper.tokens_per_char == before


def test_the_digest_stays_the_same_text_whatever_the_estimate_says(new_session):
    client = ScriptedClient([*tool_turns(3), text_reply("a"), text_reply("b")])
    session = new_session(client)
    for turn in range(3):
        chat(session, f"question {turn}")
    session.context.compact_now(session.messages, session.model)
    chat(session, "four")
    session.context.tokens_per_char = 0.9  # a very different ratio
    chat(session, "five")
    first, second = (request.messages[0]["content"][0] for request in client.requests[-2:])
    assert first == second
