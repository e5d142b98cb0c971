"""The main user journey in a real browser: open the quickstart notebook in JupyterLab,
run all cells with no API key, and see the replayed chat turns with their tool calls.

Chromium (Debian's ``/usr/bin/chromium``) is driven by the Python ``playwright`` package;
no Playwright-managed browser is downloaded. Environment variables:

- ``CONJURE_SHOT``: where to save the screenshot taken after the run (default: tmp).
- ``CONJURE_README_SHOT=1``: also save it to ``docs/quickstart-lab.png`` for the README.
- ``CONJURE_REQUIRE_BROWSER=1``: fail instead of skipping when the browser is missing.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from lab_pages import run_new_cell

README_SHOT = Path(__file__).resolve().parents[2] / "docs" / "quickstart-lab.png"

TURN_1_ANSWER = "has 4 lines, 18 words and 100 characters"
TURN_2_ANSWER = "Here is the new version"
RUN_TIMEOUT_MS = 120_000
CODE_CELLS = 7  # in notebooks/quickstart.ipynb

# Outputs the user must see. A saved turn is shown by the labextension's renderer
# (labextension/src), whose widget is the output node itself; the text/html fallback
# (.conjure-turn) is what a running turn's live view uses, and it must be gone by the end.
TURN = ".jp-OutputArea-output.jp-RenderedConjureTurn"
TOOL = f"{TURN} .jp-RenderedConjureTurn-toolCall"
HTML_FALLBACK = ".jp-OutputArea-output .conjure-turn"
# Errors and stderr streams both render as data-mime-type="application/vnd.jupyter.stderr"
# in JupyterLab 4, so a traceback is told apart by its text (the saved notebook is
# checked for error outputs as well).
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def _menu(page, menu: str, item: str) -> None:
    page.click(f".lm-MenuBar-itemLabel:text-is('{menu}')")
    page.click(f".lm-Menu-itemLabel:text-is('{item}')")


def _tracebacks(page) -> list[str]:
    texts = page.locator(STDERR).all_inner_texts()
    return [t for t in texts if "Traceback" in t or re.search(r"^\w+(Error|Exception)\b", t, re.M)]


def _wait_for_turns(page) -> None:
    """Wait for both replayed answers; stop early with the traceback if a cell fails."""
    answer_1 = page.locator(TURN, has_text=TURN_1_ANSWER)
    answer_2 = page.locator(TURN, has_text=TURN_2_ANSWER)
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if (errors := _tracebacks(page)) != []:
            pytest.fail("a cell failed while running all cells:\n" + "\n\n".join(errors))
        # Only the saved bundle is drawn by the renderer, and its footer says the turn
        # was replayed (the recorded outputs were cleared before the run).
        if (
            answer_1.filter(has_text="replayed from the recording").count() == 1
            and answer_2.filter(has_text="replayed from the recording").count() == 1
        ):
            return
        page.wait_for_timeout(200)
    pytest.fail(
        f"the replayed turns did not show within {RUN_TIMEOUT_MS // 1000} s; outputs:\n"
        + "\n---\n".join(page.locator(".jp-OutputArea-output").all_inner_texts())
    )


def _screenshot(page, paths: list[Path]) -> None:
    """A view of the first chat turn: its message, answer and an opened tool call."""
    # Close the file browser so the notebook gets the full width.
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()
        page.wait_for_selector(
            ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current", state="detached"
        )
    turn = page.locator(TURN, has_text=TURN_1_ANSWER)
    turn.locator(".jp-RenderedConjureTurn-toolSummary", has_text="bash_tool").click()
    turn.locator(
        ".jp-RenderedConjureTurn-toolCall[open] .jp-RenderedConjureTurn-toolResult"
    ).wait_for()
    cell = page.locator(".jp-Notebook .jp-Cell", has=turn)
    cell.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)  # let the scroll and the layout settle
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path))


def test_quickstart_runs_in_jupyterlab(lab_server: Any, browser: Any, tmp_path: Path) -> None:
    shot = Path(os.environ.get("CONJURE_SHOT") or tmp_path / "quickstart-lab.png")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        page.goto(lab_server.url("/lab/tree/quickstart.ipynb"))
        # Not the toolbar's indicator: it turns idle before the kernel's websocket is
        # open, and cells run before that are silently dropped.
        page.wait_for_selector("#jp-main-statusbar >> text=Idle")
        page.wait_for_selector(TURN)  # the recorded outputs are shown

        # Clear the recorded outputs, so everything seen afterwards is new.
        _menu(page, "Edit", "Clear Outputs of All Cells")
        page.wait_for_selector(".jp-OutputArea-output", state="detached")

        _menu(page, "Run", "Run All Cells")
        _wait_for_turns(page)
        # The last cell, %history, shows a widget summarising the session.
        page.wait_for_selector(".jp-OutputArea-output >> text=2 turn(s), 14 message(s)")
        page.wait_for_selector("#jp-main-statusbar >> text=Idle")

        assert page.locator(TURN).count() == 2
        # The renderer, not the text/html fallback, shows both turns.
        assert page.locator(HTML_FALLBACK).count() == 0
        assert page.locator(TOOL).count() == 5
        assert page.locator(f'{TOOL}[data-status="ok"]').count() == 5
        assert page.locator(f"{TOOL}.jp-mod-error, {TOOL}.jp-mod-running").count() == 0
        statuses = page.locator(f"{TOOL} .jp-RenderedConjureTurn-toolStatus").all_inner_texts()
        assert sorted(statuses) == ["exit 0", "ok", "ok", "ok", "ok"], statuses
        names = page.locator(f"{TOOL} .jp-RenderedConjureTurn-toolName").all_inner_texts()
        assert names == ["create_file", "view", "bash_tool", "str_replace", "view"], names
        problems = ".jp-RenderedConjureTurn-drift, .jp-RenderedConjureTurn-error, .jp-RenderedConjureTurn-notice"
        assert page.locator(f"{problems}, .conjure-drift, .conjure-error").count() == 0
        # The answer's Markdown went through JupyterLab's parser (a list with bold words).
        first = page.locator(TURN, has_text=TURN_1_ANSWER)
        assert first.locator(".jp-RenderedConjureTurn-answer li strong").all_inner_texts() == [
            "in",
            "at",
            "night",
        ]
        assert (
            "replayed from the recording"
            in first.locator(".jp-RenderedConjureTurn-footer").inner_text()
        )
        assert _tracebacks(page) == []
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        assert len(prompts) == CODE_CELLS, prompts
        assert all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in prompts), prompts

        # The tools really ran, in the served folder.
        poem = lab_server.root / "scratch" / "poem.txt"
        assert poem.is_file(), sorted(p.name for p in lab_server.root.iterdir())
        assert "kernels hum at dawn" in poem.read_text()

        # Save, and check the notebook on disk: every code cell ran, none failed.
        _menu(page, "File", "Save Notebook")
        saved = lab_server.root / "quickstart.ipynb"
        deadline = time.monotonic() + 30
        while "replayed from the recording" not in saved.read_text():
            assert time.monotonic() < deadline, "the notebook was not saved"
            time.sleep(0.2)
        code = [c for c in json.loads(saved.read_text())["cells"] if c["cell_type"] == "code"]
        assert all(c["execution_count"] for c in code)
        assert [o for c in code for o in c["outputs"] if o["output_type"] == "error"] == []

        readme = os.environ.get("CONJURE_README_SHOT") == "1"
        _screenshot(page, [shot, README_SHOT] if readme else [shot])
        print(f"screenshot: {shot}")
    except BaseException:
        failure = shot.with_name(shot.stem + "-failure.png")
        try:
            page.screenshot(path=str(failure))
            print(f"failure screenshot: {failure}")
        except Exception as exc:
            print(f"no failure screenshot: {exc}")
        print("browser console:\n" + "\n".join(console[-50:]))
        print("jupyter lab log:\n" + lab_server.log_tail())
        raise


def test_a_fresh_kernel_finds_its_notebook_to_restore_and_replay(
    lab_server: Any, browser: Any, tmp_path: Path
) -> None:
    """In JupyterLab the kernel knows its notebook, so restore and replay need no path."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    try:
        page.goto(lab_server.url("/lab/tree/quickstart.ipynb"))
        page.wait_for_selector("#jp-main-statusbar >> text=Idle")
        restored = run_new_cell(page, "%history restore")
        restored.get_by_text(
            re.compile(r"restored 2 turn\(s\), 14 message\(s\) from .*quickstart\.ipynb")
        ).wait_for()
        replay = run_new_cell(page, "%replay")
        replay.get_by_text("replaying 2 recorded turn(s) from quickstart.ipynb").wait_for()
        history = run_new_cell(page, "%history")
        history.get_by_text("2 turn(s), 14 message(s)").wait_for()
        assert _tracebacks(page) == []
    except BaseException:
        page.screenshot(path=str(tmp_path / "restore-failure.png"))
        print(f"failure screenshot: {tmp_path / 'restore-failure.png'}")
        print("jupyter lab log:\n" + lab_server.log_tail())
        raise
