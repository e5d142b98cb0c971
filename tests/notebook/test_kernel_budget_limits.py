"""Budgets under a runaway model in real kernels: no cell and no notebook spends past its
limit, in dollars or tokens, and prices a person configures hold models the package does
not list.

The local Messages API answers every request with all the ``max_tokens`` it allows
(``budget_support.runaway``), each answer making the next prompt longer: asked as it is,
a single call could blow through each of these limits.
"""

from __future__ import annotations

import json

from budget_support import model_requests, runaway
from fakeapi import replies
from kernel_harness import assert_every_tool_use_answered

from conjure_kernel.clients.pricing import Spend, spend_of
from conjure_kernel.clients.request_params import TASK_BUDGET_BETA
from conjure_kernel.conversation.budget import MIN_ANSWER_TOKENS

RUN_AWAY = "Write files until I stop you."


def steps_spend(result) -> Spend:
    record = result.record()
    return sum((spend_of(step.model or record.model, step.usage) for step in record.steps), Spend())


def test_a_runaway_cell_never_spends_past_its_dollar_limit(api, kernel):
    api.responder = runaway
    shown = kernel.run("%budget cell=$1").text()
    assert shown.startswith("budget: cell=$1.00 notebook=none")  # $1, not IPython's $-expansion
    result = kernel.run(RUN_AWAY)
    assert result.reply["content"]["ename"] == "BudgetExceeded"
    record = result.record()
    assert record.spend is not None and record.spend.dollars <= 1.0
    assert steps_spend(result).dollars <= 1.0
    sent = model_requests(api)
    assert len(sent) == len(record.steps) >= 2  # stopped before a call, never during one
    assert min(request.body["max_tokens"] for request in sent) >= MIN_ANSWER_TOKENS
    # $1 at Sonnet 5.5's $10 per million output tokens: the model is told 100,000 tokens
    assert sent[0].body["output_config"]["task_budget"]["total"] == 100_000
    assert sent[0].headers["anthropic-beta"] == TASK_BUDGET_BETA
    traceback = "\n".join(result.reply["content"]["traceback"])
    assert f"left after {record.spend.describe()} so far in this cell" in traceback
    assert "the next model call could cost up to $" in traceback
    assert "hint: raise the limit with %budget cell=$" in traceback
    assert f"{record.spend.short()} this turn" in result.bundles()[-1]["text/markdown"]

    api.responder = None
    api.script(replies.text("Stopped, as asked."))
    follow_up = kernel.run("Are you there?")
    assert follow_up.status == "ok", follow_up.error  # a new cell has its own budget
    assert_every_tool_use_answered(model_requests(api)[-1].body["messages"])


def test_a_runaway_notebook_never_spends_past_its_token_limit(api, kernel):
    api.responder = runaway
    assert kernel.run("%budget notebook=120k").status == "ok"
    first = kernel.run(RUN_AWAY)
    assert first.reply["content"]["ename"] == "BudgetExceeded"
    calls = len(model_requests(api))
    second = kernel.run("And a little more?")
    assert second.reply["content"]["ename"] == "BudgetExceeded"
    assert len(model_requests(api)) == calls  # no call was made
    spent = second.record().total_spend
    assert spent is not None and spent.tokens <= 120_000
    assert "so far in this notebook" in second.reply["content"]["evalue"]

    assert kernel.run("%budget notebook=none").status == "ok"
    api.responder = None
    api.script(replies.text("Here again."))
    assert kernel.run("Go on").status == "ok"
    history = model_requests(api)[-1].body["messages"]
    assert_every_tool_use_answered(history)


def test_configured_prices_hold_a_model_the_package_does_not_list(api, kernel, tmp_path):
    (tmp_path / "prices.json").write_text(
        json.dumps({"claude-someday-9": {"input": 3, "output": 15}})
    )
    assert kernel.run("%model claude-someday-9").status == "ok"
    shown = kernel.run("%budget prices=prices.json cell=$0.30").text()
    assert "prices configured for: claude-someday-9" in shown
    assert "no price is known" not in shown
    api.responder = runaway
    result = kernel.run(RUN_AWAY)
    assert result.reply["content"]["ename"] == "BudgetExceeded"
    spend = result.record().spend
    assert spend is not None and not spend.unpriced and 0 < spend.dollars <= 0.30
    assert f"{spend.short()} this turn" in result.bundles()[-1]["text/markdown"]

    configured = '{"claude-otherday-1": {"input": 1, "output": 5}}'
    assert kernel.run(f"%config GuardMagics.prices = {configured}").status == "ok"
    shown = kernel.run("%budget").text()
    assert "prices configured for: claude-otherday-1, claude-someday-9" in shown


def test_a_price_file_of_another_shape_is_one_line_saying_what_is_expected(kernel, tmp_path):
    (tmp_path / "prices.json").write_text(json.dumps({"claude-someday-9": {"input": 3}}))
    result = kernel.run("%budget prices=prices.json")
    assert result.reply["content"]["ename"] == "UsageError"
    message = result.reply["content"]["evalue"]
    assert message.startswith("prices=prices.json: claude-someday-9: missing output; expected {")
    assert "\n" not in message
    unpriced = kernel.run("%model claude-someday-9\n%budget cell=$1").text()
    assert "no price is known for claude-someday-9" in unpriced  # nothing was configured
