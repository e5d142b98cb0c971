"""Budgets in real kernels: the notebook's limit across a restart, and the spend shown in
footers and ``%history`` (runaway cells and notebooks: test_kernel_budget_limits.py).

The local Messages API reports usage from each request's size, and the default model has
a price, so every step costs what the API would bill for it.
"""

from __future__ import annotations

import nbformat
from fakeapi import replies
from kernel_harness import RunningKernel

from conjure_kernel.conversation.budget import Limit
from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC


def test_history_shows_each_turns_spend_and_the_notebooks(api, kernel):
    api.script(replies.text("one"), replies.text("two"))
    first = kernel.run("First")
    second = kernel.run("Second")
    turn = first.record().spend
    total = second.record().total_spend
    assert turn is not None and total is not None and total.dollars > turn.dollars > 0
    footer = second.bundles()[-1]["text/markdown"].strip().splitlines()[-1]
    assert footer.endswith(
        f"· {second.record().spend.short()} this turn, {total.short()} in this notebook*".replace(
            "$",
            "\\$",  # Markdown escapes a dollar, which JupyterLab would read as maths
        )
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
