"""The labextension in a real JupyterLab: the status-bar item, per-cell highlighting, saved
turns (thinking included) in a notebook opened with no kernel, and the turn renderer in the
light and dark themes.

Fixtures and Chromium as in test_lab_quickstart.py (tests/ui/conftest.py). With
``CONJURE_README_SHOT=1`` the theme test also refreshes docs/turn-light.png and
docs/turn-dark.png.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from lab_pages import (
    CONJURE_STATUS,
    GREETER,
    TURN,
    close_file_browser,
    lab_page,
    menu,
    new_cell,
    open_notebook,
    run_new_cell,
    switch_theme,
    text_contrast,
    wait_for_text,
)

from conjure_kernel.clients.base import DEFAULT_MODEL
from conjure_kernel.conversation.transcript import TURN_SCHEMA
from conjure_kernel.notebook.display import TURN_MIME_TYPE

DOCS = Path(__file__).resolve().parents[2] / "docs"
TURN_1_ANSWER = "has 4 lines, 18 words and 100 characters"


def _status(backend: str, model: str) -> str:
    return f"Conjure · {backend} · {model}"


# What a fresh kernel starts with: the defaults, unless the environment overrides them.
STARTED_BACKEND = os.environ.get("CONJURE_BACKEND") or "local"
STARTED_MODEL = os.environ.get("CONJURE_MODEL") or DEFAULT_MODEL


def test_status_bar_shows_the_backend_and_model_and_follows_their_changes(
    lab_server: Any, browser: Any, tmp_path: Path
) -> None:
    with lab_page(browser, lab_server, tmp_path / "status-failure.png") as page:
        open_notebook(page, lab_server, "quickstart.ipynb")
        wait_for_text(page, CONJURE_STATUS, _status(STARTED_BACKEND, STARTED_MODEL))

        run_new_cell(page, GREETER)
        run_new_cell(page, "%backend native").get_by_text("native").first.wait_for()
        wait_for_text(page, CONJURE_STATUS, _status("native", STARTED_MODEL))

        run_new_cell(page, "%model claude-ui-test-1")
        wait_for_text(page, CONJURE_STATUS, _status("native", "claude-ui-test-1"))
        run_new_cell(page, "%config ConjureMagics.model = 'claude-ui-test-2'")
        wait_for_text(page, CONJURE_STATUS, _status("native", "claude-ui-test-2"))
        title = page.locator(CONJURE_STATUS).get_attribute("title")
        assert "native backend" in title and "claude-ui-test-2" in title, title

        # A restarted kernel is a fresh session: its defaults come back.
        menu(page, "Kernel", "Restart Kernel…")
        page.click(".jp-Dialog .jp-mod-accept")
        wait_for_text(page, CONJURE_STATUS, _status(STARTED_BACKEND, STARTED_MODEL))


def _language(cell: Any) -> str | None:
    return cell.locator(".cm-content").get_attribute("data-language")


def test_chat_cells_are_highlighted_as_markdown_and_python_cells_as_python(
    lab_server: Any, browser: Any, tmp_path: Path
) -> None:
    with lab_page(browser, lab_server, tmp_path / "highlight-failure.png") as page:
        open_notebook(page, lab_server, "quickstart.ipynb")
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        python_cell = cells.filter(has_text="%%python").first
        chat_cell = cells.filter(has_text="Write a four-line poem").first
        assert _language(python_cell) == "python"
        assert _language(chat_cell) == "markdown"
        assert _language(cells.filter(has_text="%backend local").first) == "python"

        # The Python is coloured by JupyterLab's highlighter: `import` as a keyword.
        keyword = python_cell.locator(".cm-line span", has_text=re.compile(r"^import$")).first
        colours = keyword.evaluate(
            """span => {
                const probe = document.createElement('span');
                probe.style.color = 'var(--jp-mirror-editor-keyword-color)';
                span.closest('.cm-editor').append(probe);
                const expected = getComputedStyle(probe).color;
                probe.remove();
                return [getComputedStyle(span).color, expected];
            }"""
        )
        assert colours[0] == colours[1], colours

        # The language follows the first line as it is typed.
        cell = new_cell(page)
        page.keyboard.insert_text("Summarise the **poem**")
        page.wait_for_function(
            "cell => cell.querySelector('.cm-content').dataset.language === 'markdown'",
            arg=cell.element_handle(),
        )
        page.keyboard.press("Control+a")
        page.keyboard.insert_text("%%python\nimport os")
        page.wait_for_function(
            "cell => cell.querySelector('.cm-content').dataset.language === 'python'",
            arg=cell.element_handle(),
        )


THOUGHT = "The person wants a poem.\n\nFour lines, then count them."


def _with_thinking(root: Path) -> str:
    """A copy of the quickstart whose first turn thought before it answered (its record
    as conjure-kernel saves one, with the thinking's label; the quickstart must have been
    recorded with schema 4, by notebooks/record_examples.py)."""
    notebook = json.loads((root / "quickstart.ipynb").read_text(encoding="utf-8"))
    turns = [
        output["data"][TURN_MIME_TYPE]
        for cell in notebook["cells"]
        for output in cell.get("outputs", [])
        if TURN_MIME_TYPE in output.get("data", {})
    ]
    assert turns[0]["schema"] == TURN_SCHEMA
    labels = {"line": "thinking · 10 words"}
    turns[0]["timeline"].insert(0, {"type": "thinking", "text": THOUGHT, "labels": labels})
    (root / "thinking.ipynb").write_text(json.dumps(notebook), encoding="utf-8")
    return "thinking.ipynb"


def test_a_saved_notebook_opened_with_no_kernel_renders_its_turns(
    lab_server_without_conjure_kernel: Any, browser: Any, tmp_path: Path
) -> None:
    server = lab_server_without_conjure_kernel
    with lab_page(browser, server, tmp_path / "no-kernel-failure.png") as page:
        open_notebook(page, server, _with_thinking(server.root), kernel=False)
        # Its kernel is not available here, so JupyterLab asks; keep "No Kernel".
        dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
        assert dialog.locator("select").input_value() == "null"
        dialog.locator(".jp-mod-accept").click()
        page.wait_for_selector("#jp-main-statusbar >> text=No Kernel")

        turns = page.locator(TURN)
        turns.filter(has_text=TURN_1_ANSWER).wait_for()
        assert turns.count() == 2
        assert page.locator(f"{TURN} .jp-RenderedConjureTurn-toolCall").count() == 5
        assert page.locator(".jp-OutputArea-output .conjure-turn").count() == 0  # no HTML fallback
        first = turns.filter(has_text=TURN_1_ANSWER)
        assert first.locator(".jp-RenderedConjureTurn-answer li strong").all_inner_texts() == [
            "in",
            "at",
            "night",
        ]
        # The thinking: one muted row above the answer, folded under its length until opened.
        thinking = first.locator("details.jp-RenderedConjureTurn-thinking")
        assert page.locator(".jp-RenderedConjureTurn-thinking").count() == thinking.count() == 1
        assert thinking.locator("summary").inner_text() == "thinking · 10 words"
        assert not thinking.get_by_text("Four lines").is_visible()
        colour = "node => getComputedStyle(node).color"
        muted = thinking.locator("summary").evaluate(colour)
        answer = first.locator(".jp-RenderedConjureTurn-answer").first.evaluate(colour)
        assert muted != answer
        thinking.locator("summary").click()
        thinking.get_by_text("Four lines").wait_for()
        # No Conjure kernel, no status; the highlighting comes from the notebook's metadata.
        assert not page.locator(CONJURE_STATUS).is_visible()
        cells = page.locator(".jp-Notebook .jp-CodeCell")
        assert _language(cells.filter(has_text="%%python").first) == "python"
        assert _language(cells.filter(has_text="Write a four-line poem").first) == "markdown"


# What a reader of a turn reads, each measured against what is painted behind it.
LEGIBLE = [
    ".jp-RenderedConjureTurn-answer li",
    ".jp-RenderedConjureTurn-toolName",
    ".jp-RenderedConjureTurn-toolDetail",
    ".jp-RenderedConjureTurn-toolStatus",
    ".jp-RenderedConjureTurn-toolDuration",
    ".jp-RenderedConjureTurn-toolCommand",
    ".jp-RenderedConjureTurn-toolResultText",
    ".jp-RenderedConjureTurn-footer",
]


def _contrasts(turn: Any) -> dict[str, float]:
    return {name: text_contrast(turn.locator(name).first) for name in LEGIBLE}


def _shoot(page: Any, turn: Any, name: str, tmp_path: Path) -> None:
    cell = page.locator(".jp-Notebook .jp-Cell", has=turn)
    cell.evaluate("cell => cell.scrollIntoView({block: 'start'})")
    page.mouse.move(0, 0)
    paths = [tmp_path / name]
    if os.environ.get("CONJURE_README_SHOT") == "1":
        paths.append(DOCS / name)
    for path in paths:
        page.screenshot(path=str(path))
    print(f"screenshot: {paths[-1]}")


def test_a_saved_turn_is_legible_in_the_light_and_dark_themes(
    lab_server: Any, browser: Any, tmp_path: Path
) -> None:
    with lab_page(browser, lab_server, tmp_path / "theme-failure.png") as page:
        open_notebook(page, lab_server, "quickstart.ipynb")
        close_file_browser(page)
        turn = page.locator(TURN, has_text=TURN_1_ANSWER)
        turn.locator(".jp-RenderedConjureTurn-toolSummary", has_text="bash_tool").click()
        turn.locator(
            ".jp-RenderedConjureTurn-toolCall[open] .jp-RenderedConjureTurn-toolResult"
        ).wait_for()

        switch_theme(page, "JupyterLab Light")
        light = _contrasts(turn)
        answer_light = turn.locator(".jp-RenderedConjureTurn-answer").first.evaluate(
            "node => getComputedStyle(node).color"
        )
        _shoot(page, turn, "turn-light.png", tmp_path)

        switch_theme(page, "JupyterLab Dark")
        # The theme's stylesheet lands after the body's attribute: wait for the new colours.
        page.wait_for_function(
            "([node, before]) => getComputedStyle(node).color !== before",
            arg=[
                turn.locator(".jp-RenderedConjureTurn-answer").first.element_handle(),
                answer_light,
            ],
        )
        dark = _contrasts(turn)
        _shoot(page, turn, "turn-dark.png", tmp_path)

        print(f"contrast ratios, light: {light}\ndark: {dark}")
        low = {
            theme: {name: round(ratio, 2) for name, ratio in ratios.items() if ratio < 4.5}
            for theme, ratios in (("light", light), ("dark", dark))
        }
        assert low == {"light": {}, "dark": {}}, f"text below WCAG AA contrast (4.5): {low}"
