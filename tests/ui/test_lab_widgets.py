"""The live widgets in a real JupyterLab: a turn's tool trace while it runs, the session
history as turns finish, and the backend picker.

The kernel talks to the local Messages API (tests/fakeapi), so no key is needed; the
notebook points the SDK at it with ``%env`` before the first turn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakeapi import FakeMessagesAPI, replies
from lab_pages import (
    CONJURE_STATUS,
    GREETER,
    OK,
    RUNNING,
    TURN,
    chat_cell,
    lab_page,
    open_notebook,
    run_new_cell,
    use_api,
    wait_for_text,
)

from conjure_kernel.clients.base import DEFAULT_MODEL

TRACE = ".conjure-trace"
HISTORY_ROWS = ".conjure-history .conjure-history-row"
PICKER = ".conjure-picker"


def test_a_live_turn_its_history_and_the_picker(
    lab_server: Any, browser: Any, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    with lab_page(browser, lab_server, tmp_path / "widgets-failure.png") as page:
        open_notebook(page, lab_server, "quickstart.ipynb")
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
        # the first row turned ok while the second runs: rows change state in place
        trace.locator(OK).wait_for()
        assert trace.locator(RUNNING).count() == 1
        cell.locator(TURN).get_by_text("I slept.").wait_for()  # then the saved turn
        assert cell.locator(TRACE).count() == 0

        history = run_new_cell(page, "%history")
        history.locator(HISTORY_ROWS).first.wait_for()
        assert history.locator(HISTORY_ROWS).count() == 1
        api.script(replies.text("Still here."))
        chat_cell(page, "Are you there?").locator(TURN).get_by_text("Still here.").wait_for()
        page.wait_for_function(
            f"document.querySelectorAll('{HISTORY_ROWS}').length === 2"
        )  # the history widget gained the new turn by itself

        run_new_cell(page, GREETER)  # the native backend needs a native skill
        picker = run_new_cell(page, "%backend").locator(PICKER)
        picker.locator("select").first.select_option("native")
        picker.get_by_role("button", name="Apply").click()
        wait_for_text(page, CONJURE_STATUS, f"Conjure · native · {DEFAULT_MODEL}")
