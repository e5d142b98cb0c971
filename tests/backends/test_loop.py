"""The shared tool-use loop: event order, concurrency, and a history that stays valid."""

from __future__ import annotations

import asyncio
import copy
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from backends.scripted_client import ScriptedClient, text_reply, tool_use_reply
from fakeapi import FakeMessagesAPI, replies

from conjure_kernel.backends import loop as loop_module
from conjure_kernel.backends.gate import OPEN, Verdict
from conjure_kernel.backends.loop import INTERRUPTED, run_tool_loop
from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import ModelRequest, ModelResponse, TextChunk, Usage
from conjure_kernel.clients.replay import UNFINISHED, Replay, ReplayTurn
from conjure_kernel.errors import ModelError, TurnLimitReached
from conjure_kernel.events import (
    ApprovalAnswered,
    ApprovalAsked,
    ModelStepFinished,
    Notice,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    TurnEnded,
    UsageReported,
)
from conjure_kernel.tools.call_watch import UNWATCHED, CallWatch
from conjure_kernel.tools.values import ToolCall, ToolResult

GUARD = 10.0
"""Seconds before a scenario that should finish at once counts as hung."""

Handler = Callable[[ToolCall], Awaitable[ToolResult]]


class FakeExecutor:
    """Offers the named tools and runs each call through ``handler``; keeps every call."""

    def __init__(self, handler: Handler, names: tuple[str, ...] = ("echo", "wait")) -> None:
        self.handler = handler
        self.calls: list[ToolCall] = []
        self._tools = [
            {"name": name, "description": name, "input_schema": {"type": "object"}}
            for name in names
        ]

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self._tools

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        self.calls.append(call)
        return await self.handler(call)

    async def aclose(self) -> None:
        pass


async def echo(call: ToolCall) -> ToolResult:
    return ToolResult(call.id, f"echo {call.input.get('text', '')}")


class FailingClient:
    """Raises ``error`` on the request numbered ``fail_on`` (1-based); scripted before that."""

    def __init__(self, responses: list[ModelResponse], fail_on: int, error: Exception) -> None:
        self.scripted = ScriptedClient(responses)
        self.fail_on = fail_on
        self.error = error
        self.requests = 0

    async def stream(self, request: ModelRequest) -> AsyncIterator[TextChunk | ModelResponse]:
        self.requests += 1
        if self.requests == self.fail_on:
            raise self.error
        async for item in self.scripted.stream(request):
            yield item


STEP_USAGE = Usage(10, 5)


def reply(*blocks: dict[str, Any], stop: str, usage: Usage = STEP_USAGE) -> ModelResponse:
    return ModelResponse({"role": "assistant", "content": list(blocks)}, stop, usage)


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def tool_use(id_: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": id_, "name": name, "input": arguments}


def run_turn(client, executor, history: list, **options: Any) -> list:
    """Run one turn to its end and return its events; a hang fails as a timeout."""

    async def collect() -> list:
        turn = run_tool_loop(
            "do it", client, executor, system="sys", model="m", messages=history, **options
        )
        return [event async for event in turn]

    return asyncio.run(asyncio.wait_for(collect(), GUARD))


def assert_every_tool_use_answered(history: list[dict[str, Any]]) -> None:
    """Each assistant tool_use is answered, in order, by the very next user message."""
    for index, message in enumerate(history):
        if message["role"] != "assistant" or isinstance(message["content"], str):
            continue
        ids = [b["id"] for b in message["content"] if b.get("type") == "tool_use"]
        if not ids:
            continue
        answer = history[index + 1]
        assert answer["role"] == "user"
        assert [b["tool_use_id"] for b in answer["content"]] == ids
        assert all(b["type"] == "tool_result" for b in answer["content"])


def test_events_come_in_stream_step_usage_tool_end_order():
    client = ScriptedClient(
        [
            reply(text("Let me look."), tool_use("t1", "echo", text="hi"), stop="tool_use"),
            reply(text("Done."), stop="end_turn"),
        ]
    )
    events = run_turn(client, FakeExecutor(echo), [])
    assert [type(event) for event in events] == [
        TextDelta,
        ModelStepFinished,
        UsageReported,
        ToolCallStarted,
        ToolCallFinished,
        TextDelta,
        ModelStepFinished,
        UsageReported,
        TurnEnded,
    ]
    assert [e.step for e in events if isinstance(e, ModelStepFinished)] == [1, 2]
    assert events[0].text == "Let me look." and events[5].text == "Done."
    assert events[4].result.content == "echo hi"
    assert events[-1].stop_reason == "end_turn" and events[-1].text == "Done."


def test_a_text_answer_ends_the_turn_and_extends_the_history():
    history: list = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "ok"},
    ]
    client = ScriptedClient([text_reply("Hello.")])
    events = run_turn(client, FakeExecutor(echo), history)
    assert isinstance(events[-1], TurnEnded) and events[-1].text == "Hello."
    assert history[2:] == [
        {"role": "user", "content": "do it"},
        {"role": "assistant", "content": [text("Hello.")]},
    ]
    assert client.requests[0].messages == history[:3]
    assert client.requests[0].system == "sys" and client.requests[0].model == "m"


def test_parallel_tool_calls_run_concurrently():
    """Each call waits for the other to start: run one after the other, they deadlock."""
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    async def rendezvous(call: ToolCall) -> ToolResult:
        other = "b" if call.id == "a" else "a"
        started[call.id].set()
        await started[other].wait()
        return ToolResult(call.id, f"{call.id} met {other}")

    client = ScriptedClient(
        [
            tool_use_reply(("a", "wait", {}), ("b", "wait", {})),
            text_reply("Both met."),
        ]
    )
    history: list = []
    events = run_turn(client, FakeExecutor(rendezvous), history)
    finished = {e.call.id: e.result.content for e in events if isinstance(e, ToolCallFinished)}
    assert finished == {"a": "a met b", "b": "b met a"}


def test_results_are_appended_in_call_order_even_when_they_finish_in_reverse():
    second_done = asyncio.Event()

    async def first_waits_for_second(call: ToolCall) -> ToolResult:
        if call.id == "first":
            await second_done.wait()
        else:
            second_done.set()
        return ToolResult(call.id, f"result of {call.id}")

    client = ScriptedClient(
        [
            tool_use_reply(("first", "wait", {}), ("second", "echo", {})),
            text_reply("ok"),
        ]
    )
    history: list = []
    events = run_turn(client, FakeExecutor(first_waits_for_second), history)
    assert [e.call.id for e in events if isinstance(e, ToolCallStarted)] == ["first", "second"]
    assert [e.call.id for e in events if isinstance(e, ToolCallFinished)] == ["second", "first"]
    results = history[2]["content"]
    assert [(b["tool_use_id"], b["content"]) for b in results] == [
        ("first", "result of first"),
        ("second", "result of second"),
    ]
    assert_every_tool_use_answered(history)
    assert client.requests[1].messages == history[:3]


def test_unknown_tool_is_an_error_result_naming_the_available_tools():
    executor = FakeExecutor(echo, names=("echo", "wait"))
    client = ScriptedClient([tool_use_reply(("t1", "rm_rf", {})), text_reply("Sorry.")])
    history: list = []
    events = run_turn(client, executor, history)
    result = next(e.result for e in events if isinstance(e, ToolCallFinished))
    assert result.is_error
    assert result.content == "unknown tool 'rm_rf'; available tools: echo, wait"
    assert executor.calls == []
    assert history[2]["content"][0]["is_error"] is True
    assert isinstance(events[-1], TurnEnded)


def test_an_executor_that_raises_becomes_an_error_result_and_the_turn_goes_on():
    async def crash(call: ToolCall) -> ToolResult:
        raise RuntimeError("disk on fire")

    client = ScriptedClient([tool_use_reply(("t1", "echo", {})), text_reply("It crashed.")])
    history: list = []
    events = run_turn(client, FakeExecutor(crash), history)
    result = next(e.result for e in events if isinstance(e, ToolCallFinished))
    assert result.is_error and result.content == "RuntimeError: disk on fire"
    assert history[2]["content"][0]["content"] == "RuntimeError: disk on fire"
    assert isinstance(events[-1], TurnEnded) and events[-1].text == "It crashed."


def test_tool_results_carry_the_measured_duration(monkeypatch):
    """The loop times each call around the executor; a fake clock makes that exact."""
    ticks = iter([100.0, 102.5])
    monkeypatch.setattr(
        loop_module, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks))
    )
    client = ScriptedClient([tool_use_reply(("t1", "echo", {})), text_reply("ok")])

    async def echo(call: ToolCall) -> ToolResult:
        return ToolResult(call.id, "echoed")

    events = run_turn(client, FakeExecutor(echo), [])
    result = next(e.result for e in events if isinstance(e, ToolCallFinished))
    assert result.duration == 2.5


def test_max_iterations_stops_the_turn_with_a_valid_history():
    client = ScriptedClient(
        [tool_use_reply((f"t{n}", "echo", {"text": str(n)})) for n in range(1, 5)]
    )
    history: list = []
    with pytest.raises(TurnLimitReached, match="after 2 steps") as raised:
        run_turn(client, FakeExecutor(echo), history, max_iterations=2)
    assert "max_iterations" in raised.value.hint
    assert len(client.requests) == 2
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant", "user"]
    assert_every_tool_use_answered(history)
    assert [b["content"] for b in history[-1]["content"]] == ["echo 2"]


def test_cancelling_mid_tool_answers_every_tool_use_as_interrupted():
    history: list = []
    cleaned_up: list[str] = []

    async def scenario() -> None:
        both_running = asyncio.Event()
        running: set[str] = set()

        async def hang(call: ToolCall) -> ToolResult:
            running.add(call.id)
            if running == {"a", "b"}:
                both_running.set()
            try:
                await asyncio.sleep(3600)
            finally:
                cleaned_up.append(call.id)
            raise AssertionError("unreachable")

        client = ScriptedClient([tool_use_reply(("a", "wait", {}), ("b", "wait", {}))])

        async def consume() -> None:
            turn = run_tool_loop(
                "go", client, FakeExecutor(hang), system="s", model="m", messages=history
            )
            async for _ in turn:
                pass

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(both_running.wait(), GUARD)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, GUARD)

    asyncio.run(scenario())
    assert sorted(cleaned_up) == ["a", "b"]
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[-1]["content"] == [
        {"type": "tool_result", "tool_use_id": i, "content": INTERRUPTED, "is_error": True}
        for i in ("a", "b")
    ]
    assert "interrupted" in INTERRUPTED


def test_a_model_error_before_any_answer_leaves_the_history_unchanged():
    history: list = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": [text("ok")]},
    ]
    before = copy.deepcopy(history)
    client = FailingClient([], fail_on=1, error=ModelError("overloaded"))
    with pytest.raises(ModelError, match="overloaded"):
        run_turn(client, FakeExecutor(echo), history)
    assert history == before


def test_a_model_error_after_a_tool_step_keeps_that_step_answered():
    client = FailingClient(
        [tool_use_reply(("t1", "echo", {"text": "x"}))], fail_on=2, error=ModelError("reset")
    )
    history: list = []
    with pytest.raises(ModelError, match="reset"):
        run_turn(client, FakeExecutor(echo), history)
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[-1]["content"][0]["content"] == "echo x"
    assert_every_tool_use_answered(history)


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI() as server:
        yield server


def real_client(api: FakeMessagesAPI) -> AnthropicClient:
    """The real client over HTTP, with waits short enough for a test."""
    return AnthropicClient(api_key="test-key", base_url=api.url, max_retry_wait=0.05)


def turn_until_failure(client, executor, history: list) -> tuple[list, Exception]:
    """The events a turn yielded before it raised, and what it raised."""
    events: list = []

    async def collect() -> None:
        turn = run_tool_loop("do it", client, executor, system="sys", model="m", messages=history)
        async for event in turn:
            events.append(event)

    with pytest.raises(ModelError) as caught:
        asyncio.run(asyncio.wait_for(collect(), GUARD))
    return events, caught.value


GARBLED = b'event: content_block_delta\ndata: {"type": "content_block_delta", "ind\n\n'


def test_a_retry_shows_a_notice_before_the_answers_text(api):
    api.script(replies.error(529, "overloaded_error", "Overloaded"), replies.text("Made it."))
    events = run_turn(real_client(api), FakeExecutor(echo), [])
    assert isinstance(events[0], Notice) and events[0].level == "warning"
    assert events[0].text.startswith("waiting for the API: 529 overloaded_error, retry 1 of 2 in ")
    assert isinstance(events[1], TextDelta)
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Made it."
    assert isinstance(events[-1], TurnEnded)


def test_a_garbled_stream_fails_the_turn_and_takes_its_message_back(api):
    history: list = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": [text("ok")]},
    ]
    before = copy.deepcopy(history)
    api.script(replies.inject(replies.text("Half an answer."), GARBLED, after_events=4))
    events, error = turn_until_failure(real_client(api), FakeExecutor(echo), history)
    assert "stream that cannot be read" in str(error) and "request id" in str(error)
    assert [type(e) for e in events] == [TextDelta]  # the half answer was shown, never kept
    assert history == before


def test_a_garbled_stream_after_a_tool_step_keeps_the_history_valid(api):
    api.script(
        replies.tool_use("echo", {"text": "x"}),
        replies.inject(replies.text("Half an answer."), GARBLED, after_events=4),
    )
    history: list = []
    events, error = turn_until_failure(real_client(api), FakeExecutor(echo), history)
    assert "stream that cannot be read" in str(error)
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    assert history[-1]["content"][0]["content"] == "echo x"
    assert_every_tool_use_answered(history)
    assert not any(isinstance(e, TurnEnded) for e in events)


def test_usage_is_summed_over_the_steps():
    client = ScriptedClient(
        [
            reply(tool_use("t1", "echo"), stop="tool_use", usage=Usage(10, 5, 1, 2)),
            reply(text("done"), stop="end_turn", usage=Usage(7, 3, 0, 4)),
        ]
    )
    events = run_turn(client, FakeExecutor(echo), [])
    reported = [e.usage for e in events if isinstance(e, UsageReported)]
    assert reported == [Usage(10, 5, 1, 2), Usage(17, 8, 1, 6)]
    assert events[-1].usage == Usage(17, 8, 1, 6)


def test_tool_use_with_a_stop_reason_other_than_tool_use_ends_the_turn():
    client = ScriptedClient([reply(tool_use("t1", "echo"), stop="max_tokens")])
    executor = FakeExecutor(echo)
    history: list = []
    events = run_turn(client, executor, history)
    assert isinstance(events[-1], TurnEnded) and events[-1].stop_reason == "max_tokens"
    assert executor.calls == []
    assert [m["role"] for m in history] == ["user", "assistant", "user"]
    answer = history[-1]["content"][0]
    assert answer["tool_use_id"] == "t1" and answer["is_error"]
    assert answer["content"].startswith("not run: the answer reached max_tokens")
    assert "interrupted" not in answer["content"]
    assert_every_tool_use_answered(history)
    shown = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(e.call.id, e.result.content) for e in shown] == [("t1", answer["content"])]


def test_a_call_that_finished_before_the_interrupt_keeps_its_result():
    """Only calls still running are interrupted; the model must not redo finished work."""
    history: list = []

    async def scenario() -> None:
        async def fast_or_hang(call: ToolCall) -> ToolResult:
            if call.id == "slow":
                await asyncio.sleep(3600)
            return ToolResult(call.id, f"{call.id} done")

        client = ScriptedClient([tool_use_reply(("fast", "echo", {}), ("slow", "wait", {}))])
        fast_finished = asyncio.Event()

        async def consume() -> None:
            turn = run_tool_loop(
                "go", client, FakeExecutor(fast_or_hang), system="s", model="m", messages=history
            )
            async for event in turn:
                if isinstance(event, ToolCallFinished):
                    fast_finished.set()

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(fast_finished.wait(), GUARD)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, GUARD)

    asyncio.run(scenario())
    assert_every_tool_use_answered(history)
    answers = {b["tool_use_id"]: (b["content"], b["is_error"]) for b in history[-1]["content"]}
    assert answers == {"fast": ("fast done", False), "slow": (INTERRUPTED, True)}


def test_a_call_unfinished_when_recorded_is_not_run_on_replay_and_the_model_is_told():
    """A replay names the calls that had not finished when recorded: they must not start."""
    client = ScriptedClient(
        [reply(tool_use("t1", "echo"), stop="tool_use"), reply(text("ok"), stop="end_turn")]
    )
    executor = FakeExecutor(echo)
    replay = Replay([ReplayTurn("go", [], unfinished=frozenset({"t1"}))])
    replay.prepare_turn("go", {})
    messages: list = []

    async def scenario() -> list:
        turn = run_tool_loop(
            "go", client, executor, system="", model="m", messages=messages, replay=replay
        )
        return [event async for event in turn]

    events = asyncio.run(scenario())
    assert executor.calls == []
    [finished] = [e for e in events if isinstance(e, ToolCallFinished)]
    assert (finished.result.content, finished.result.is_error) == (UNFINISHED, True)
    assert messages[2]["content"][0]["content"] == UNFINISHED


class ScriptedGate:
    """Decides each call from ``verdicts`` (OPEN when absent); a question gets its answer
    from ``answers``, or waits forever when there is none."""

    def __init__(self, verdicts: dict[str, Verdict], answers: dict[str, Verdict] | None = None):
        self.verdicts = verdicts
        self.answers = answers or {}
        self.checked: list[str] = []
        self.asked: list[str] = []
        self.asking = asyncio.Event()

    def check(self, call: ToolCall) -> Verdict:
        self.checked.append(call.id)
        return self.verdicts.get(call.id, OPEN)

    async def ask(self, call: ToolCall, question: Verdict) -> Verdict:
        self.asked.append(call.id)
        self.asking.set()
        if call.id not in self.answers:
            await asyncio.sleep(3600)
        return self.answers[call.id]


NO = Verdict(False, "by the rule bash_tool(rm:*)", "denied by the rule bash_tool(rm:*)")
ASK = Verdict(None, prompt="run `rm x`?")


def test_a_denied_call_never_runs_and_the_model_reads_the_denial():
    client = ScriptedClient(
        [tool_use_reply(("rm", "echo", {"text": "rm"}), ("ok", "echo", {})), text_reply("fine")]
    )
    executor = FakeExecutor(echo)
    history: list = []
    events = run_turn(client, executor, history, gate=ScriptedGate({"rm": NO}))
    assert [call.id for call in executor.calls] == ["ok"]
    assert [type(e) for e in events[2:7]] == [
        ApprovalAnswered,
        ToolCallStarted,
        ToolCallStarted,
        ToolCallFinished,
        ToolCallFinished,
    ]
    answered = events[2]
    assert (answered.call.id, answered.allowed, answered.reason) == (
        "rm",
        False,
        "by the rule bash_tool(rm:*)",
    )
    results = {b["tool_use_id"]: (b["content"], b["is_error"]) for b in history[2]["content"]}
    assert results == {"rm": ("denied by the rule bash_tool(rm:*)", True), "ok": ("echo ", False)}


def test_calls_are_decided_in_the_models_order_and_a_question_waits_for_its_answer():
    yes = Verdict(True, "by the person")
    gate = ScriptedGate({"a": ASK, "b": OPEN, "c": ASK}, {"a": yes, "c": NO})
    client = ScriptedClient(
        [tool_use_reply(("a", "echo", {}), ("b", "echo", {}), ("c", "echo", {})), text_reply("ok")]
    )
    executor = FakeExecutor(echo)
    events = run_turn(client, executor, [], gate=gate)
    assert gate.checked == ["a", "b", "c"] and gate.asked == ["a", "c"]
    approvals = [e for e in events if isinstance(e, ApprovalAsked | ApprovalAnswered)]
    assert [(type(e).__name__, e.call.id) for e in approvals] == [
        ("ApprovalAsked", "a"),
        ("ApprovalAnswered", "a"),
        ("ApprovalAsked", "c"),
        ("ApprovalAnswered", "c"),
    ]
    assert approvals[0].prompt == "run `rm x`?"
    assert sorted(call.id for call in executor.calls) == ["a", "b"]  # OPEN left no entry


def test_an_interrupt_while_asking_leaves_every_call_answered():
    """The earlier denial stays a denial; the call being asked about, and the ones after it,
    were never started and are answered as interrupted."""
    history: list = []
    gate = ScriptedGate({"rm": NO, "ask": ASK})
    executor = FakeExecutor(echo)

    async def scenario() -> None:
        client = ScriptedClient(
            [tool_use_reply(("rm", "echo", {}), ("ask", "echo", {}), ("later", "echo", {}))]
        )

        async def consume() -> None:
            turn = run_tool_loop(
                "go", client, executor, system="s", model="m", messages=history, gate=gate
            )
            async for _ in turn:
                pass

        task = asyncio.ensure_future(consume())
        await asyncio.wait_for(gate.asking.wait(), GUARD)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, GUARD)

    asyncio.run(scenario())
    assert executor.calls == []
    assert_every_tool_use_answered(history)
    answers = {b["tool_use_id"]: b["content"] for b in history[-1]["content"]}
    assert answers == {
        "rm": "denied by the rule bash_tool(rm:*)",
        "ask": INTERRUPTED,
        "later": INTERRUPTED,
    }


def test_unanswered_server_and_connector_calls_are_taken_out_of_the_turn():
    """A pause cut short leaves calls the API ran without their results; the API refuses
    such a history, for its MCP connector's calls as for its own tools'."""
    from conjure_kernel.backends.loop import drop_unanswered_server_calls

    messages = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "working"},
                {"type": "server_tool_use", "id": "s1", "name": "bash_code_execution"},
                {"type": "bash_code_execution_tool_result", "tool_use_id": "s1", "content": {}},
                {"type": "mcp_tool_use", "id": "m1", "name": "add", "server_name": "calc"},
                {"type": "mcp_tool_use", "id": "m2", "name": "add", "server_name": "calc"},
                {"type": "mcp_tool_result", "tool_use_id": "m1", "content": []},
                {"type": "server_tool_use", "id": "s2", "name": "bash_code_execution"},
            ],
        },
    ]
    drop_unanswered_server_calls(messages, 0)
    kept = [block.get("id") or block["tool_use_id"] for block in messages[1]["content"][1:]]
    assert kept == ["s1", "s1", "m1", "m1"]
