"""A ``%backend`` picker left unused when JupyterLab shuts the kernel down or restarts it:
the notebook saved afterwards holds its line, not a widget view that reads "Error
displaying widget: model not found" once reopened.

The kernel redraws a live picker as its line as it shuts down (kernel.py), while
JupyterLab still listens. A restart cannot be helped from the kernel: JupyterLab forgets
the old kernel's outputs before it asks for the restart, so it drops the redraw; the
labextension drops the widget view itself then (labextension/src/pickers.ts).
Fixtures and Chromium as in tests/ui/conftest.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fakeapi import FakeMessagesAPI
from lab_pages import (
    lab_page,
    menu,
    open_notebook,
    restart_kernel,
    run_new_cell,
    save_notebook,
    use_api,
    write_new_notebook,
)

from conjure_kernel.clients.base import DEFAULT_MODEL

NAME = "picker.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PICKER = ".conjure-picker"
PICKER_LINE = f"backend: local · model: {DEFAULT_MODEL}"


@pytest.mark.parametrize("how", ["shut down", "restart"])
def test_an_unused_picker_is_saved_as_its_line_once_the_kernel_goes(
    lab_server: Any, browser: Any, api: FakeMessagesAPI, tmp_path: Path, how: str
) -> None:
    server = lab_server
    write_new_notebook(server.root / NAME)
    with lab_page(browser, server, tmp_path / "picker-shutdown-failure.png") as page:
        open_notebook(page, server, NAME)
        use_api(page, api)
        picker = run_new_cell(page, "%backend").locator(PICKER)
        picker.locator("select").first.wait_for()  # live, and never used
        if how == "restart":
            restart_kernel(page)
        else:
            menu(page, "Kernel", "Shut Down Kernel")
        picker.get_by_text(PICKER_LINE).wait_for()
        assert picker.locator("select").count() == 0
        saved = save_notebook(page, server.root / NAME, "conjure-picker")

    [cell] = [cell for cell in saved["cells"] if "".join(cell["source"]) == "%backend"]
    shown = [output.get("data", {}) for output in cell["outputs"]]  # a print has none
    assert [data for data in shown if WIDGET_VIEW in data] == []
    assert any(PICKER_LINE in "".join(data.get("text/html", "")) for data in shown)
