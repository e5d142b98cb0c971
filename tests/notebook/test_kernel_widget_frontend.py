"""A real kernel as JupyterLab and Notebook 7 drive it: a widget manager has connected.

The test client opens the comm a widget manager opens (``jupyter.widget.control``), so
the kernel serves it widgets; the iopub messages are then played as a notebook keeps
them, a redraw replacing the output shown under its display id. What is checked is what
the saved notebook holds and what a person sees once: the history and the pickers leave
no widget view (a restarted kernel knows no model for it), and a failed turn is said in
the turn, not again in an error output. The browser tests (tests/ui) show the same in
JupyterLab and Notebook 7.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fakeapi import replies
from kernel_harness import TURN_MIME, CellResult, RunningKernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
Output = tuple[str | None, dict[str, Any]]


@pytest.fixture
def widget_kernel(api, tmp_path) -> Iterator[RunningKernel]:
    """A conjure kernel (tools run without asking) that a widget manager connected to."""
    env = {"ANTHROPIC_API_KEY": "sk-test-key-123", "ANTHROPIC_BASE_URL": api.url}
    with RunningKernel("conjure", cwd=tmp_path, env=env) as kernel:
        client = kernel.client
        opened = {"comm_id": uuid.uuid4().hex, "target_name": "jupyter.widget.control", "data": {}}
        client.shell_channel.send(client.session.msg("comm_open", opened))
        assert kernel.run("%permissions auto").status == "ok"
        yield kernel


def played(*results: CellResult) -> list[list[Output]]:
    """Each cell's outputs as a notebook keeps them: ``(display id, bundle)``, a redraw
    replacing the outputs shown under its id in every cell, an error as its traceback."""
    cells: list[list[Output]] = []
    for result in results:
        outputs: list[Output] = []
        cells.append(outputs)
        for message in result.messages:
            kind, content = message["msg_type"], message["content"]
            shown_as = content.get("transient", {}).get("display_id")
            if kind == "update_display_data":
                for cell in cells:
                    cell[:] = [(i, content["data"] if i == shown_as else b) for i, b in cell]
            elif kind in ("display_data", "execute_result"):
                outputs.append((shown_as, content["data"]))
            elif kind == "error":
                outputs.append((None, {"error": "\n".join(content["traceback"])}))
    return cells


def shown_text(outputs: list[Output]) -> str:
    return "\n".join(bundle.get("text/plain", bundle.get("error", "")) for _, bundle in outputs)


def test_history_and_pickers_leave_no_widget_view_in_the_notebook(api, widget_kernel):
    history = widget_kernel.run("%history")
    backend = widget_kernel.run("%backend")
    model = widget_kernel.run("%model")
    assert any(WIDGET_VIEW in bundle for bundle in backend.bundles())  # a live picker
    assert any(WIDGET_VIEW in bundle for bundle in model.bundles())
    api.script(replies.text("Hello there."))
    turn = widget_kernel.run("Say hello")
    assert turn.status == "ok", turn.error

    cells = played(history, backend, model, turn)
    assert [WIDGET_VIEW in bundle for cell in cells for _, bundle in cell] == [False] * sum(
        map(len, cells)
    )
    (history_output,) = cells[0]
    assert "1 turn(s), 2 message(s)" in history_output[1]["text/html"]  # redrawn after the turn
    assert "Hello there." in history_output[1]["text/html"]  # the row opens onto it
    for picker in (cells[1], cells[2]):
        assert "backend: local · model: claude-sonnet-5-5" in picker[-1][1]["text/html"]


def test_a_budget_stop_is_said_once_in_the_turn_and_still_fails_the_cell(widget_kernel):
    assert widget_kernel.run("%budget cell=1").status == "ok"  # one token: no call fits
    stopped = widget_kernel.run("Write a long essay")
    content = stopped.reply["content"]
    assert content["status"] == "error" and content["ename"] == "BudgetExceeded"
    assert "hint: raise the limit with %budget cell=" in "\n".join(content["traceback"])

    (outputs,) = played(stopped)
    assert [bundle for _, bundle in outputs if "error" in bundle] == []
    assert shown_text(outputs).count("BudgetExceeded") == 1
    (saved,) = [bundle for _, bundle in outputs if TURN_MIME in bundle]
    assert "raise the limit with %budget cell=" in saved["text/plain"]  # the magic to type
    assert saved[TURN_MIME]["error"]["hint"].startswith("raise the limit with %budget cell=")


def test_an_interrupt_is_said_once_in_the_turn(api, widget_kernel, tmp_path):
    command = "touch started; sleep 30"
    api.script(replies.tool_use("bash_tool", {"command": command}), replies.text("done"))
    sent = widget_kernel.start("Sleep for a while")
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():  # the command runs in the kernel's folder
        assert time.monotonic() < deadline, "the command did not start"
        time.sleep(0.1)
    widget_kernel.manager.interrupt_kernel()
    interrupted = widget_kernel.wait_for(sent, timeout=60)
    assert interrupted.reply["content"]["ename"] == "TurnInterrupted"

    (outputs,) = played(interrupted)
    assert [bundle for _, bundle in outputs if "error" in bundle] == []
    assert shown_text(outputs).count("TurnInterrupted") == 1
    api.script(replies.text("Still here."))
    assert widget_kernel.run("Are you there?").status == "ok"


def test_other_errors_keep_their_error_output(widget_kernel):
    assert widget_kernel.run("%budget cell=1").status == "ok"
    assert widget_kernel.run("Write a long essay").status == "error"  # the hook is installed
    raised = widget_kernel.run(
        "%%python\nfrom conjure_kernel.errors import ConjureError\nraise ConjureError('no turn')"
    )
    assert played(raised) == [[(None, {"error": "ConjureError: no turn"})]]
