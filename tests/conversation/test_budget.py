"""Budgets: limits as people write them, and a session that stops before a call it cannot pay.

Sessions run on the local backend in a temporary folder, against the scripted client:
each scripted step reports its own usage, as the API does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from backends.scripted_client import ScriptedClient
from backends.test_loop import assert_every_tool_use_answered

from conjure_kernel.clients.base import ModelResponse, Usage
from conjure_kernel.clients.pricing import Spend
from conjure_kernel.clients.replay_client import RecordedTurn, ReplayClient
from conjure_kernel.conversation.budget import Budget, Limit, turn_spend
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.errors import BudgetExceeded
from conjure_kernel.events import Notice, TurnEnded, TurnFailed

STEP = Usage(input_tokens=1000, output_tokens=500)
"""1,500 tokens; on claude-sonnet-5-5, $0.002 + $0.005 = $0.007."""


def step(stop: str = "tool_use", index: int = 0, usage: Usage = STEP) -> ModelResponse:
    if stop == "tool_use":
        call = {
            "type": "tool_use",
            "id": f"t{index}",
            "name": "bash_tool",
            "input": {"command": "true"},
        }
        content = [call]
    else:
        content = [{"type": "text", "text": "done"}]
    return ModelResponse({"role": "assistant", "content": content}, stop, usage)


def runaway(steps: int) -> list[ModelResponse]:
    return [step("tool_use", index) for index in range(steps)]


@pytest.fixture
def sessions(tmp_path) -> Iterator[Any]:
    made: list[Session] = []

    def make(client: Any, budget: Budget, model: str = "claude-sonnet-5-5") -> Session:
        session = Session(
            client=client, model=model, settings={"workdir": str(tmp_path)}, budget=budget
        )
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


def chat(session: Session, message: str, **options: Any) -> list:
    async def collect() -> list:
        return [event async for event in session.chat(message, **options)]

    return asyncio.run(asyncio.wait_for(collect(), 30))


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("$0.50", Limit(0.5, "dollars")),
        ("2$", Limit(2, "dollars")),
        ("200k", Limit(200_000, "tokens")),
        ("1.5M", Limit(1_500_000, "tokens")),
        ("50000 tokens", Limit(50_000, "tokens")),
        ("none", None),
        ("", None),
    ],
)
def test_a_limit_is_dollars_or_tokens_as_people_write_them(text, limit):
    assert Limit.parse(text) == limit


@pytest.mark.parametrize("text", ["abc", "$", "-1", "$0", "5 euros"])
def test_a_limit_that_is_neither_says_what_is_accepted(text):
    with pytest.raises(ValueError, match=r"dollars \(\$0.50\) or tokens \(200k\)|more than 0"):
        Limit.parse(text)


def test_a_limit_prints_as_it_is_typed_and_suggests_a_round_higher_one():
    assert [str(Limit.parse(t)) for t in ("$1", "$0.005", "200k", "1.5M", "800")] == [
        "$1.00",
        "$0.005",
        "200k",
        "1.5M",
        "800",
    ]
    assert Limit(1, "dollars").raised(Spend(1.23)) == Limit(2, "dollars")
    assert Limit(200_000, "tokens").raised(Spend(tokens=390_000)) == Limit(600_000, "tokens")


def test_a_runaway_turn_stops_before_the_call_that_would_start_over_the_cell_limit(sessions):
    client = ScriptedClient(runaway(10))
    session = sessions(client, Budget(cell=Limit(3000, "tokens")))
    events = chat(session, "loop")
    assert len(client.requests) == 2  # 1,500 then 3,000 tokens: the third call is not made
    failed = events[-1]
    assert isinstance(failed, TurnFailed) and isinstance(failed.error, BudgetExceeded)
    error = failed.error
    assert str(error) == (
        "the cell budget of 3k is spent: $0.014 (3,000 tokens) so far in this cell; this turn "
        "made 2 model call(s) for $0.014 (3,000 tokens), so the next model call was not made"
    )
    assert (error.scope, error.limit, error.raise_to) == ("cell", "3k", "6k")
    assert error.hint == "raise the cell limit (to 6k, for example) or remove it"
    [record] = session.transcript
    assert record.error["error"] == "BudgetExceeded"
    assert record.spend == Spend(0.014, 3000) == record.total_spend
    assert_every_tool_use_answered(session.messages)


def test_earlier_turns_of_the_same_cell_count_against_its_limit(sessions):
    client = ScriptedClient([step("end_turn")])
    session = sessions(client, Budget(cell=Limit(0.01, "dollars")))
    events = chat(session, "again", cell_spent=Spend(0.01, 1500))
    assert isinstance(events[-1].error, BudgetExceeded)
    assert client.requests == [] and session.messages == []  # the message was taken back


def test_the_notebook_limit_counts_every_turn(sessions):
    client = ScriptedClient([step("end_turn"), step("end_turn"), step("end_turn")])
    session = sessions(client, Budget(notebook=Limit(0.01, "dollars")))
    assert isinstance(chat(session, "one")[-1], TurnEnded)  # $0.007
    assert isinstance(chat(session, "two")[-1], TurnEnded)  # starts at $0.007: under
    third = chat(session, "three")[-1]  # starts at $0.014: over
    assert isinstance(third, TurnFailed) and third.error.scope == "notebook"
    assert "$0.014 (3,000 tokens) so far in this notebook" in str(third.error)
    assert len(client.requests) == 2
    assert [m["role"] for m in session.messages] == ["user", "assistant"] * 2
    assert session.spent == Spend(0.014, 3000)
    assert [record.total_spend for record in session.transcript] == [
        Spend(0.007, 1500),
        Spend(0.014, 3000),
        Spend(0.014, 3000),
    ]


def test_a_dollar_limit_on_a_model_without_a_price_warns_and_counts_tokens(sessions):
    client = ScriptedClient([step("end_turn")])
    session = sessions(client, Budget(cell=Limit(0.01, "dollars")), model="claude-someday-9")
    events = chat(session, "hello")
    [notice] = [event for event in events if isinstance(event, Notice)]
    assert (
        notice.level == "warning"
        and "no price is known for the model claude-someday-9" in notice.text
    )
    assert isinstance(events[-1], TurnEnded)
    assert session.spent == Spend(0.0, 1500, unpriced=True)


def test_a_replayed_turn_costs_nothing_and_is_not_limited(sessions):
    recorded = RecordedTurn("hello", [step("end_turn", usage=Usage(10**9, 10**9))])
    session = sessions(ReplayClient([recorded]), Budget(cell=Limit(1, "tokens")))
    events = chat(session, "hello")
    assert isinstance(events[-1], TurnEnded)
    assert session.spent == Spend() and session.transcript[0].spend is None


def test_restoring_a_notebook_restores_what_it_spent(sessions):
    saved = TurnRecord(
        "a", "local", "claude-sonnet-5-5", steps=[step("end_turn")], spend=Spend(0.5, 10)
    )
    older = TurnRecord("b", "local", "claude-sonnet-5-5", steps=[step("end_turn")])
    replayed = TurnRecord(
        "c", "local", "claude-sonnet-5-5", steps=[step("end_turn")], replayed=True
    )
    assert turn_spend(older) == Spend(0.007, 1500)  # saved before spend was: priced from its steps
    session = sessions(ScriptedClient([]), Budget())
    session.restore([saved, older, replayed])
    assert session.spent == Spend(0.507, 1510)
