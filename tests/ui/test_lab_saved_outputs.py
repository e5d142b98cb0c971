"""``%history``, ``%backend`` and ``%model`` in a real JupyterLab and Notebook 7: live while
the session runs, then the same HTML after a kernel restart and in the saved notebook
opened again, never "Error displaying widget: model not found".

A notebook saves a widget's output as its model's id alone, and a restarted kernel has
no model under that id: the saved notebook must hold no widget view for these outputs.
The kernel talks to the local Messages API (tests/fakeapi); fixtures and Chromium as in
tests/ui/conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakeapi import FakeMessagesAPI, replies
from lab_pages import (
    TURN,
    lab_page,
    open_notebook,
    restart_kernel,
    run_new_cell,
    save_notebook,
    use_api,
    write_new_notebook,
)

from conjure_kernel.clients.base import DEFAULT_MODEL

NAME = "session.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_ERROR = "Error displaying widget"
HISTORY = ".conjure-history"
PICKER = ".conjure-picker"
PICKER_LINE = f"backend: local · model: {DEFAULT_MODEL}"


def cell_outputs(page: Any, source: str) -> Any:
    """The outputs of the cell whose input is ``source``."""
    return page.locator(".jp-Cell", has=page.get_by_text(source, exact=True)).locator(
        ".jp-OutputArea"
    )


def assert_read_as_html(page: Any) -> None:
    """The history and both picker lines show as their HTML; no widget view fails."""
    history = cell_outputs(page, "%history").locator(HISTORY)
    history.get_by_text("1 turn(s), 2 message(s)").wait_for()
    for magic in ("%backend", "%model"):
        cell_outputs(page, magic).locator(PICKER, has_text=PICKER_LINE).wait_for()
    assert page.get_by_text(WIDGET_ERROR).count() == 0


def test_history_and_pickers_read_the_same_after_a_restart_and_a_reopen(
    any_server: Any, browser: Any, api: FakeMessagesAPI, tmp_path: Path
) -> None:
    server = any_server
    write_new_notebook(server.root / NAME)
    with lab_page(browser, server, tmp_path / f"saved-outputs-{server.app}-failure.png") as page:
        open_notebook(page, server, NAME)
        use_api(page, api)
        history = run_new_cell(page, "%history").locator(HISTORY)
        history.get_by_text("0 turn(s)").wait_for()
        backend = run_new_cell(page, "%backend").locator(PICKER)
        backend.locator("select").first.wait_for()  # live
        backend.get_by_role("button", name="Apply").click()
        backend.get_by_text(PICKER_LINE).wait_for()  # used: its line took its place
        assert backend.locator("select").count() == 0
        run_new_cell(page, "%model").locator(f"{PICKER} select").first.wait_for()

        api.script(replies.text("Hello there."))
        run_new_cell(page, "Say hello").locator(TURN).get_by_text("Hello there.").wait_for()
        history.get_by_text("1 turn(s), 2 message(s)").wait_for()  # it followed the turn
        history.locator("summary").filter(has_text="Say hello").click()
        history.get_by_text("Hello there.").wait_for()  # the row opens onto the turn
        assert page.locator(f"{PICKER} select").count() == 0  # the next cell froze %model's
        assert_read_as_html(page)

        saved = save_notebook(page, server.root / NAME, "1 turn(s), 2 message(s)")
        restart_kernel(page)
        assert_read_as_html(page)
        open_notebook(page, server, NAME)  # the saved notebook, opened again
        assert_read_as_html(page)

    outputs = [output for cell in saved["cells"] for output in cell.get("outputs", [])]
    assert [output for output in outputs if WIDGET_VIEW in output.get("data", {})] == []
