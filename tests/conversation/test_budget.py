"""Budgets: limits as people write them, and sessions that never spend past them.

The runaway sessions use the real SDK against the local Messages API, whose usage comes
from each request's size, with a model that answers every request with all the
``max_tokens`` it is given (``budget_support.runaway``): a single call of it could blow
through any of these limits if it were sent as asked. The rest run on the local backend
in a temporary folder against the scripted client.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from backends.scripted_client import ScriptedClient
from backends.test_loop import assert_every_tool_use_answered
from budget_support import model_requests, runaway
from fakeapi import FakeMessagesAPI, replies

from conjure_kernel.clients.anthropic_client import AnthropicClient
from conjure_kernel.clients.base import ModelRequest, ModelResponse, Usage
from conjure_kernel.clients.pricing import PRICES, Price, Spend, configure_prices, spend_of
from conjure_kernel.clients.replay import Replay, ReplayTurn
from conjure_kernel.clients.request_params import TASK_BUDGET_BETA
from conjure_kernel.conversation.budget import (
    MIN_ANSWER_TOKENS,
    Budget,
    BudgetGuard,
    Limit,
    turn_spend,
)
from conjure_kernel.conversation.session import Session
from conjure_kernel.conversation.transcript import TurnRecord
from conjure_kernel.conversation.worst_case import PromptLedger, WorstCase
from conjure_kernel.errors import BudgetExceeded
from conjure_kernel.events import Notice, TurnEnded, TurnFailed

STEP = Usage(input_tokens=1000, output_tokens=500)
"""1,500 tokens; on claude-sonnet-5-5, $0.002 + $0.005 = $0.007."""
BIG_PROMPT = "Summarise this: " + "lorem ipsum dolor sit amet " * 4_000
"""About 100 kB: some 27,000 tokens as the local API counts them."""


def step(stop: str = "end_turn", usage: Usage = STEP) -> ModelResponse:
    return ModelResponse(
        {"role": "assistant", "content": [{"type": "text", "text": "done"}]}, stop, usage
    )


@pytest.fixture
def api() -> Iterator[FakeMessagesAPI]:
    with FakeMessagesAPI(responder=runaway) as server:
        yield server


@pytest.fixture
def sessions(tmp_path) -> Iterator[Any]:
    made: list[Session] = []

    def make(client: Any, budget: Budget, model: str = "claude-sonnet-5-5") -> Session:
        if isinstance(client, FakeMessagesAPI):
            client = AnthropicClient(api_key="test-key", base_url=client.url)
        session = Session(
            client=client, model=model, settings={"workdir": str(tmp_path)}, budget=budget
        )
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


@pytest.fixture
def priced() -> Iterator[None]:
    """Prices configured by a test are forgotten after it."""
    yield
    configure_prices({})


def chat(session: Session, message: str, **options: Any) -> list:
    async def collect() -> list:
        return [event async for event in session.chat(message, **options)]

    return asyncio.run(asyncio.wait_for(collect(), 60))


def stopped(events: list) -> BudgetExceeded:
    failed = events[-1]
    assert isinstance(failed, TurnFailed) and isinstance(failed.error, BudgetExceeded), failed
    return failed.error


# -- limits ------------------------------------------------------------------------------


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
    assert Limit(1, "dollars").raised(Spend(0.9), needed=1.2) == Limit(4, "dollars")


# -- the worst case of one call ----------------------------------------------------------


def test_a_prompt_is_bounded_by_its_bytes_then_by_the_last_usage_and_what_was_added():
    first = ModelRequest("claude-sonnet-5-5", "system", [{"role": "user", "content": "hé"}])
    ledger = PromptLedger()
    from_bytes = ledger.bound(first)
    assert from_bytes > len("system") + len('{"role": "user", "content": "hé"}')
    ledger.record(first, Usage(input_tokens=10, cache_read_input_tokens=5))
    answer = {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}
    second = ModelRequest("claude-sonnet-5-5", "system", [*first.messages, answer])
    assert ledger.bound(second) == 15 + len(
        b'{"role": "assistant", "content": [{"type": "text", "text": "ok"}]}'
    )
    assert ledger.bound(ModelRequest("claude-sonnet-5-5", "other", second.messages)) == (
        ledger.bound(second) + len("other")
    )
    assert ledger.bound(ModelRequest("claude-opus-5-5", "system", second.messages)) > (
        ledger.bound(second)
    )  # another model's tokenizer: every byte counts again


def test_the_bound_holds_for_every_prompt_the_api_bills(api):
    """Each request of a growing conversation bills at most its bound (the local API counts
    a quarter token per byte; the real one at most one)."""
    client = AnthropicClient(api_key="test-key", base_url=api.url)
    ledger = PromptLedger()
    history: list[Any] = [{"role": "user", "content": BIG_PROMPT}]
    bounds, billed = [], []

    async def converse() -> None:
        for system in ("You help.", "You help.", "You help, briefly."):
            request = ModelRequest("claude-sonnet-5-5", system, list(history), max_tokens=2000)
            bounds.append(ledger.bound(request))
            *_, response = [item async for item in client.stream(request)]
            ledger.record(request, response.usage)
            billed.append(response.usage.all_input)
            history.append(response.message)
            call = response.tool_uses()[0]["id"]
            history.append(
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call}]}
            )
        await client.aclose()

    asyncio.run(converse())
    assert all(bound >= tokens for bound, tokens in zip(bounds, billed, strict=True))
    assert bounds[1] < bounds[0] + 4 * 2000 + 1000  # anchored: not the whole history again


def test_a_turn_is_bounded_from_the_last_prompt_billed_not_from_every_byte(api, sessions):
    api.responder = None
    api.script(replies.text("Read it."), replies.text("Still here."))
    session = sessions(api, Budget())
    assert isinstance(chat(session, BIG_PROMPT)[-1], TurnEnded)
    # fewer tokens than the history has bytes, more than it was billed
    session.budget = Budget(cell=Limit(60_000, "tokens"))
    assert isinstance(chat(session, "Still there?")[-1], TurnEnded)
    assert model_requests(api)[-1].body["max_tokens"] == 16_000


def test_the_worst_case_prices_every_prompt_token_at_its_dearest():
    sonnet = PRICES["claude-sonnet-4-6"]  # long prompts past 200k cost more
    short = WorstCase(100_000, price=sonnet.for_prompt(100_000))
    assert short.cost(10_000, "dollars") == pytest.approx((100_000 * 3.75 + 10_000 * 15) / 1e6)
    long = WorstCase(300_000, price=sonnet.for_prompt(300_000))
    assert long.cost(10_000, "dollars") == pytest.approx((300_000 * 7.50 + 10_000 * 22.50) / 1e6)
    assert short.cost(10_000, "tokens") == 110_000
    assert short.longest_answer("tokens", 150_000) == 50_000
    assert short.longest_answer("dollars", short.cost(4_321, "dollars")) == 4_320
    assert WorstCase(1).longest_answer("dollars", 1.0) is None  # no price: dollars are not held


def test_server_tools_read_the_prompt_at_each_step_of_the_apis_own_loop():
    tools = [{"type": "code_execution_20260521", "name": "code_execution"}]
    request = ModelRequest("claude-sonnet-5-5", "", [], tools, max_tokens=4_000)
    worst = WorstCase.of(request, 10_000)
    assert worst.reads == 10 and worst.cost(4_000, "tokens") == 140_000


def test_a_thinking_budget_is_lowered_below_the_answer_it_must_fit_in():
    thinking = {"type": "enabled", "budget_tokens": 12_000, "display": "summarized"}
    request = ModelRequest(
        "claude-sonnet-5-5", "", [], max_tokens=16_000, extra={"thinking": thinking}
    )
    guard = BudgetGuard(Budget(cell=Limit(10_000, "tokens")), cell=Spend(), notebook=Spend())
    ledger = PromptLedger()
    sent = guard.fit(request, ledger)
    assert sent.max_tokens == 10_000 - ledger.bound(request) < 12_000
    assert sent.extra["thinking"] == {**thinking, "budget_tokens": sent.max_tokens - 1_024}
    assert request.max_tokens == 16_000  # the caller's request is left as it was
    tight = BudgetGuard(
        Budget(cell=Limit(ledger.bound(request) + 2_000, "tokens")), cell=Spend(), notebook=Spend()
    )
    with pytest.raises(
        BudgetExceeded, match=r"in this cell, none spent yet; .*an answer of 2,048"
    ):  # to think, then say
        tight.fit(request, ledger)


# -- runaway sessions --------------------------------------------------------------------


def test_a_runaway_cell_lowers_max_tokens_then_stops_before_a_call_it_cannot_pay(api, sessions):
    session = sessions(api, Budget(cell=Limit(0.50, "dollars")))
    error = stopped(chat(session, BIG_PROMPT))
    [record] = session.transcript
    steps = [spend_of(s.model, s.usage) for s in record.steps]
    assert record.spend is not None and record.spend.dollars == pytest.approx(
        sum(s.dollars for s in steps)
    )
    assert record.spend.dollars <= 0.50
    sent = [request.body["max_tokens"] for request in model_requests(api)]
    assert len(sent) == len(record.steps) >= 2  # every call that went out was answered
    assert sent[0] == 16_000 and MIN_ANSWER_TOKENS <= min(sent) < 16_000  # lowered to fit
    assert error.scope == "cell" and error.limit == "$0.50"
    assert str(error).startswith(
        f"the cell budget of $0.50 has {Limit(0.5, 'dollars').describe(0.5 - record.spend.dollars)} "
        f"left after {record.spend.describe()} so far in this cell; this turn made "
        f"{len(sent)} model call(s) for {record.spend.describe()}; the next model call could "
        "cost up to $"
    )
    assert str(error).endswith(f"and an answer of {MIN_ANSWER_TOKENS:,}), so it was not made")
    assert_every_tool_use_answered(session.messages)


def test_a_runaway_notebook_stays_under_its_token_limit_across_turns(api, sessions):
    session = sessions(api, Budget(notebook=Limit(120_000, "tokens")))
    first = stopped(chat(session, "Write files until I stop you."))
    second = stopped(chat(session, "More, please."))
    assert (first.scope, second.scope) == ("notebook", "notebook")
    assert session.spent.tokens <= 120_000
    assert sum(r.body["max_tokens"] for r in model_requests(api)) >= 2 * 16_000
    assert [record.total_spend for record in session.transcript] == [session.spent] * 2
    assert session.transcript[1].steps == []  # the second cell made no call at all


def test_a_spent_cell_makes_no_call_at_all(sessions):
    client = ScriptedClient([step()])
    session = sessions(client, Budget(cell=Limit(0.01, "dollars")))
    error = stopped(chat(session, "again", cell_spent=Spend(0.01, 1500)))
    assert str(error) == (
        "the cell budget of $0.01 is spent: $0.010 (1,500 tokens) so far in this cell, "
        "so the next model call was not made"
    )
    # enough for what was spent and the call that was not made, which could cost over $0.01
    assert Limit.parse(error.raise_to).amount >= 0.03
    assert error.hint == f"raise the cell limit (to {error.raise_to}, for example) or remove it"
    assert client.requests == [] and session.messages == []  # the message was taken back


def test_the_tightest_limit_is_told_to_the_model_as_its_task_budget(api, sessions):
    session = sessions(api, Budget(cell=Limit(0.50, "dollars"), notebook=Limit(1, "dollars")))
    stopped(chat(session, "Write files until I stop you."))
    first, second, *_ = model_requests(api)
    # $0.50 at Sonnet 5.5's $10 per million output tokens buys 50,000 of them
    budget = {"type": "tokens", "total": 50_000, "remaining": 50_000}
    assert first.body["output_config"] == {"task_budget": budget}
    assert first.headers["anthropic-beta"] == TASK_BUDGET_BETA
    told = second.body["output_config"]["task_budget"]
    spent = session.transcript[0].steps[0]
    left = 0.50 - spend_of(spent.model, spent.usage).dollars
    assert told["total"] == 50_000 and abs(told["remaining"] - left * 100_000) <= 1


@pytest.mark.parametrize(
    ("model", "limit"),
    [("claude-sonnet-4-6", Limit(1, "dollars")), ("claude-sonnet-5-5", Limit(15_000, "tokens"))],
    ids=["a model without task budgets", "a budget under the API's smallest"],
)
def test_no_task_budget_goes_where_the_api_would_refuse_it(api, sessions, model, limit):
    api.responder = None
    api.script(replies.text("Short."))
    session = sessions(api, Budget(cell=limit), model=model)
    assert isinstance(chat(session, "Hello")[-1], TurnEnded)
    [request] = model_requests(api)
    assert "task_budget" not in request.body.get("output_config", {})
    assert TASK_BUDGET_BETA not in request.headers.get("anthropic-beta", "")


def test_without_limits_a_request_goes_out_as_asked(api, sessions):
    api.responder = None
    api.script(replies.text("Short."))
    session = sessions(api, Budget())
    assert isinstance(chat(session, BIG_PROMPT)[-1], TurnEnded)
    [request] = model_requests(api)
    assert request.body["max_tokens"] == 16_000 and "output_config" not in request.body


# -- prices ------------------------------------------------------------------------------


def test_a_dollar_limit_on_a_model_without_a_price_warns_and_counts_tokens(sessions):
    client = ScriptedClient([step()])
    session = sessions(client, Budget(cell=Limit(0.01, "dollars")), model="claude-someday-9")
    events = chat(session, "hello")
    [notice] = [event for event in events if isinstance(event, Notice)]
    assert (
        notice.level == "warning"
        and "no price is known for the model claude-someday-9" in notice.text
    )
    assert isinstance(events[-1], TurnEnded)
    assert client.requests[0].max_tokens == 16_000  # nothing to hold it to
    assert session.spent == Spend(0.0, 1500, unpriced=True)


def test_a_configured_price_holds_a_model_the_table_lacks(api, sessions, priced):
    configure_prices(
        {"claude-someday-9": Price(input=3, output=15, cache_write=3.75, cache_read=0.3)}
    )
    session = sessions(api, Budget(cell=Limit(0.30, "dollars")), model="claude-someday-9")
    events = chat(session, "Write files until I stop you.")
    assert not [event for event in events if isinstance(event, Notice)]
    stopped(events)
    spent = session.transcript[0].spend
    assert spent is not None and not spent.unpriced and 0 < spent.dollars <= 0.30


# -- replay and restore ------------------------------------------------------------------


def test_a_replayed_turn_costs_nothing_and_is_not_limited(sessions):
    recorded = ReplayTurn("hello", [step(usage=Usage(10**9, 10**9))])
    session = sessions(ScriptedClient([]), Budget(cell=Limit(1, "tokens")))
    session.use_replay(Replay([recorded]))
    events = chat(session, "hello")
    assert isinstance(events[-1], TurnEnded)
    assert session.spent == Spend() and session.transcript[0].spend is None


def test_restoring_a_notebook_restores_what_it_spent(sessions):
    saved = TurnRecord("a", "local", "claude-sonnet-5-5", steps=[step()], spend=Spend(0.5, 10))
    older = TurnRecord("b", "local", "claude-sonnet-5-5", steps=[step()])
    replayed = TurnRecord("c", "local", "claude-sonnet-5-5", steps=[step()], replayed=True)
    assert turn_spend(older) == Spend(0.007, 1500)  # saved before spend was: priced from its steps
    session = sessions(ScriptedClient([]), Budget())
    session.restore([saved, older, replayed])
    assert session.spent == Spend(0.507, 1510)
