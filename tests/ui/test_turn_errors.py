"""A turn that fails, in a real JupyterLab and Notebook 7: an interrupt and a budget stop
are said once, in the turn, with no error output repeating them below it.

The cell still fails (the kernel's reply says so, and Run All stops there: see
tests/notebook/test_kernel_widget_frontend.py). Fixtures and Chromium as in
tests/ui/conftest.py; the kernel talks to the local Messages API (tests/fakeapi).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fakeapi import FakeMessagesAPI, replies
from lab_pages import (
    RUNNING,
    TURN,
    lab_page,
    menu,
    new_cell,
    open_notebook,
    run_new_cell,
    use_api,
    write_new_notebook,
)

NAME = "failing.ipynb"
# Error outputs and stderr both render with this MIME type in JupyterLab and Notebook 7.
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def finished(cell: Any) -> Any:
    """The cell's outputs, once the cell has run (its prompt shows a number)."""
    cell.locator(".jp-InputArea-prompt", has_text=re.compile(r"\[\d+\]")).wait_for()
    return cell.locator(".jp-OutputArea")


def test_an_interrupt_and_a_budget_stop_are_said_once(
    any_server: Any, browser: Any, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    server = any_server
    write_new_notebook(server.root / NAME)
    with lab_page(browser, server, tmp_path / f"turn-errors-{server.app}-failure.png") as page:
        open_notebook(page, server, NAME)
        use_api(page, api)
        run_new_cell(page, "%permissions auto")

        api.script(replies.tool_use("bash_tool", {"command": "sleep 60"}))
        cell = new_cell(page)
        page.keyboard.insert_text("Wait a minute")
        page.keyboard.press("Shift+Enter")
        cell.locator(".conjure-trace").locator(RUNNING).wait_for()
        menu(page, "Kernel", "Interrupt Kernel")
        outputs = finished(cell)
        outputs.locator(TURN).get_by_text("interrupted", exact=False).first.wait_for()
        assert outputs.inner_text().count("TurnInterrupted") == 1
        assert outputs.locator(STDERR).count() == 0

        run_new_cell(page, "%budget cell=1")  # one token: no model call fits
        stopped = run_new_cell(page, "Write a long essay")
        stopped.locator(TURN).get_by_text("raise the limit with %budget cell=").wait_for()
        assert stopped.inner_text().count("BudgetExceeded") == 1
        assert stopped.locator(STDERR).count() == 0
