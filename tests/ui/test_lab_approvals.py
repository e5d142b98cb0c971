"""Approvals answered with the trace's buttons in a real JupyterLab, while the turn waits.

JupyterLab sends widget messages the way it is configured to (by default to a subshell
of its own), and the kernel must handle the click while the cell is still running. The
kernel talks to the local Messages API (tests/fakeapi); the local backend without its
sandbox asks before every command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakeapi import FakeMessagesAPI, replies
from lab_pages import TURN, chat_cell, lab_page, open_notebook, run_new_cell, use_api

TRACE = ".conjure-trace"


def test_the_buttons_of_a_question_answer_it(
    lab_server: Any, browser: Any, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    with lab_page(browser, lab_server, tmp_path / "approvals-failure.png") as page:
        open_notebook(page, lab_server, "quickstart.ipynb")
        use_api(page, api)
        run_new_cell(page, "%backend local sandbox=off")

        api.script(
            replies.tool_use("bash_tool", {"command": "echo $((6*7))"}), replies.text("It is 42.")
        )
        cell = chat_cell(page, "Compute six times seven")
        trace = cell.locator(TRACE)
        trace.get_by_text("run `echo $((6*7))` on the local backend", exact=False).wait_for()
        trace.get_by_text("Always allows bash_tool `echo $((6*7))` from now on").wait_for()
        assert cell.locator(".jp-Stdin").count() == 0, "asked with buttons, not on stdin"
        trace.get_by_role("button", name="Allow once").click()
        turn = cell.locator(TURN)
        turn.get_by_text("It is 42.").wait_for()
        assert "allowed (by the person)" in turn.inner_text()

        api.script(
            replies.tool_use("bash_tool", {"command": "rm -rf build"}), replies.text("Kept it.")
        )
        cell = chat_cell(page, "Clean up")
        trace = cell.locator(TRACE)
        trace.get_by_role("textbox").fill("the build is mine")
        trace.get_by_role("button", name="Deny").click()
        cell.locator(TURN).get_by_text("Kept it.").wait_for()
        assert "denied (by the person: the build is mine)" in cell.locator(TURN).inner_text()
        sent = api.requests[-1].body["messages"][-1]["content"][0]
        assert sent["content"] == "denied by the user: the build is mine"
