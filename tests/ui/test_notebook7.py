"""Notebook 7 (the ``notebook`` package, which the test extra installs) in a real Chromium:
a turn with tool calls shows its trace live, each row once and changing state in place,
then the saved turn once, with no error output.

Fixtures and Chromium as in tests/ui/conftest.py; the kernel talks to the local Messages
API (tests/fakeapi), so no key is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakeapi import FakeMessagesAPI, replies
from lab_pages import (
    OK,
    RUNNING,
    TURN,
    chat_cell,
    lab_page,
    open_notebook,
    run_new_cell,
    use_api,
    write_new_notebook,
)

NAME = "chat.ipynb"
TRACE = ".conjure-trace"
TRACE_ROW = f"{TRACE} .conjure-tool"
SAVED_TOOL = f"{TURN} .jp-RenderedConjureTurn-toolCall"
# Error outputs and stderr both render with this MIME type in JupyterLab and Notebook 7.
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def test_a_turn_with_tool_calls_shows_its_trace_live_and_once(
    notebook7_server: Any, browser: Any, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    write_new_notebook(notebook7_server.root / NAME)
    with lab_page(browser, notebook7_server, tmp_path / "notebook7-failure.png") as page:
        open_notebook(page, notebook7_server, NAME)
        use_api(page, api)
        run_new_cell(page, "%permissions auto")

        api.script(
            replies.tool_use("bash_tool", {"command": "sleep 2; echo slept"}),
            replies.tool_use("bash_tool", {"command": "sleep 4; echo again"}),
            replies.text("I slept."),
        )
        cell = chat_cell(page, "Sleep for a moment, twice")
        trace = cell.locator(TRACE)
        trace.locator(RUNNING).wait_for()  # the first row, while it runs
        assert trace.count() == 1 and cell.locator(TRACE_ROW).count() == 1
        trace.locator(OK).wait_for()  # the first row turned ok in place
        assert trace.locator(RUNNING).count() == 1  # the second runs
        assert cell.locator(TRACE_ROW).count() == 2

        cell.locator(TURN).get_by_text("I slept.").wait_for()  # then the saved turn, alone
        assert cell.locator(TRACE).count() == 0
        assert cell.locator(TURN).count() == 1
        assert cell.locator(SAVED_TOOL).count() == 2
        assert cell.locator(".jp-OutputArea-output").count() == 1
        assert cell.locator(STDERR).count() == 0
