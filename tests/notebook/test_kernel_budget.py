"""Budgets in real kernels: a runaway cell stopped before its next model call, the notebook's
limit across cells and a restart, and the spend shown in footers and ``%history``.

The local Messages API reports usage from each request's size, and the default model has
a price, so every step costs what the API would bill for it.
"""

from __future__ import annotations

import nbformat
from fakeapi import replies
from kernel_harness import RunningKernel, assert_every_tool_use_answered

from conjure_kernel.clients.pricing import Spend, spend_of
from conjure_kernel.conversation.budget import Limit
from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC

BIG = {"command": "head -c 20000 /dev/zero | tr '\\0' x"}
"""A command whose 20,000 characters of output make every next step dearer."""


def test_a_runaway_cell_stops_before_the_model_call_that_would_start_over_its_limit(api, kernel):
    api.responder = lambda body: replies.tool_use("bash_tool", BIG)
    shown = kernel.run("%budget cell=$0.05").text()
    assert shown.startswith("budget: cell=$0.05 notebook=none")  # $0.05, not IPython's $-expansion
    result = kernel.run("Print x's until I stop you")
    assert result.status == "error"
    assert result.reply["content"]["ename"] == "BudgetExceeded"
    record = result.record()
    steps = [spend_of(step.model or record.model, step.usage) for step in record.steps]
    before_last = sum(steps[:-1], Spend())
    assert before_last.dollars < 0.05 <= sum(steps, Spend()).dollars  # stopped at the first chance
    assert len(api.requests) == len(steps) < 25
    traceback = "\n".join(result.reply["content"]["traceback"])
    assert f"the cell budget of $0.05 is spent: {record.spend.describe()} so far" in traceback
    hint = "hint: raise the limit with %budget cell=$0.10, or lift it with %budget cell=none"
    assert hint in traceback
    assert "this turn, " in result.bundles()[-1]["text/markdown"]  # the footer shows the spend

    api.responder = None
    api.script(replies.text("Stopped, as asked."))
    follow_up = kernel.run("Are you there?")
    assert follow_up.status == "ok", follow_up.error  # a new cell has its own budget
    assert_every_tool_use_answered(api.requests[-1].body["messages"])


def test_the_notebook_limit_stops_a_later_cell_before_any_call(api, kernel):
    assert kernel.run("%budget notebook=5k").status == "ok"
    api.script(replies.tool_use("bash_tool", BIG), replies.text("That was a lot of x."))
    first = kernel.run("Print some x")
    assert first.status == "ok", first.error  # under 5k tokens when each of its calls started
    spent = first.record().total_spend
    assert spent is not None and spent.tokens > 5000
    requests = len(api.requests)
    second = kernel.run("And a little more?")
    assert second.reply["content"]["ename"] == "BudgetExceeded"
    assert len(api.requests) == requests  # no call was made
    stopped = f"the notebook budget of 5k is spent: {spent.describe()} so far in this notebook"
    assert stopped in second.reply["content"]["evalue"]
    assert kernel.run("%budget notebook=none").status == "ok"
    api.script(replies.text("Here again."))
    assert kernel.run("Go on").status == "ok"
    history = api.requests[-1].body["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant", "user"]
    assert_every_tool_use_answered(history)


def test_history_shows_each_turns_spend_and_the_notebooks(api, kernel):
    api.script(replies.text("one"), replies.text("two"))
    first = kernel.run("First")
    second = kernel.run("Second")
    turn = first.record().spend
    total = second.record().total_spend
    assert turn is not None and total is not None and total.dollars > turn.dollars > 0
    footer = second.bundles()[-1]["text/markdown"].strip().splitlines()[-1]
    assert footer.endswith(
        f"· {second.record().spend.short()} this turn, {total.short()} in this notebook*"
    )
    plain = kernel.run("%history").text()
    assert f"· {total.short()} spent in this notebook" in plain.splitlines()[0]
    assert f"  {turn.short()}  end_turn" in plain.splitlines()[1]


def test_the_notebook_total_survives_a_restart_through_history_restore(api, tmp_path):
    env = {"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": api.url}
    api.script(replies.text("one"), replies.text("two"))
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        for message in ("First", "Second"):
            result = kernel.run(message)
            output = nbformat.v4.new_output("display_data", data=result.bundles()[-1])
            notebook.cells.append(nbformat.v4.new_code_cell(message, outputs=[output]))
        spent = result.record().total_spend
    nbformat.write(notebook, tmp_path / "saved.ipynb")
    assert spent is not None
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        assert kernel.run("%history restore saved.ipynb").status == "ok"
        shown = kernel.run(f"%budget notebook={Limit(spent.tokens, 'tokens')}").text()
        assert f"{spent.describe()} in this notebook" in shown
        refused = kernel.run("Third")
        assert refused.reply["content"]["ename"] == "BudgetExceeded"
        assert len(api.requests) == 2
