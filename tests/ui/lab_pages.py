"""What a person does in JupyterLab and Notebook 7, as Playwright steps shared by the
browser tests.

Kept apart from conftest.py because these are plain functions on a page, not
fixtures; tests/ui is on ``sys.path`` (its conftest.py puts it there), so a test
imports them with ``from lab_pages import ...``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conjure_kernel.notebook.kernelspec import NOTEBOOK_KERNELSPEC

__all__ = [
    "CONJURE_STATUS",
    "GREETER",
    "TURN",
    "close_file_browser",
    "lab_page",
    "menu",
    "new_cell",
    "open_notebook",
    "restart_kernel",
    "run_new_cell",
    "save_notebook",
    "switch_theme",
    "text_contrast",
    "wait_for_text",
    "write_new_notebook",
]

# The saved-turn renderer's widget is the output node itself (see test_lab_quickstart.py).
# A native skill, so `%backend native` can start with no Docker and no API key.
GREETER = """%%python
from conjure_kernel import NativeSkill

class Greeter(NativeSkill):
    name = "greeter"
    description = "Greets a person by name."

    def execute(self, command, context):
        return f"Hello, {command}!"
"""

TURN = ".jp-OutputArea-output.jp-RenderedConjureTurn"
RUNNING = '[title="running"]'
"""A tool row of the live trace while its call runs (its state mark)."""
OK = '[title="ok"]'
"""A tool row of the live trace once its call went well."""
CONJURE_STATUS = "#jp-main-statusbar .jp-ConjureStatus"
KERNEL_IDLE = "#jp-main-statusbar >> text=Idle"

_KERNEL_READY = """() => {
  const kernel = window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel;
  return kernel?.connectionStatus === 'connected' && kernel?.status === 'idle';
}"""
SAVE_TIMEOUT = 30.0


@contextmanager
def lab_page(browser: Any, server: Any, failure_shot: Path) -> Iterator[Any]:
    """A new browser page; if the test fails, a screenshot, the console and the server log."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(60_000)
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
    try:
        yield page
    except BaseException:
        try:
            page.screenshot(path=str(failure_shot))
            print(f"failure screenshot: {failure_shot}")
        except Exception as exc:
            print(f"no failure screenshot: {exc}")
        print("browser console:\n" + "\n".join(console[-50:]))
        print("jupyter lab log:\n" + server.log_tail())
        raise


def open_notebook(page: Any, server: Any, name: str, *, kernel: bool = True) -> None:
    """Show notebook ``name`` in the server's app; with ``kernel``, wait until its kernel
    can run cells.

    Not JupyterLab's toolbar indicator: it turns idle before the kernel's websocket is
    open, and cells run before that are silently dropped; the status bar's "Idle" comes
    after. Notebook 7 has no status bar: its page says when the kernel is connected.
    """
    if server.app == "notebook":
        page.goto(server.url(f"/notebooks/{name}"))
        if kernel:
            page.wait_for_function(_KERNEL_READY)
        return
    page.goto(server.url(f"/lab/tree/{name}"))
    if kernel:
        page.wait_for_selector(KERNEL_IDLE)


def write_new_notebook(path: Path) -> None:
    """An empty notebook on the Conjure kernel, as File > New would make it."""
    notebook = {
        "cells": [],
        "metadata": {"kernelspec": dict(NOTEBOOK_KERNELSPEC)},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(notebook))


def save_notebook(page: Any, path: Path, containing: str) -> dict[str, Any]:
    """Save the notebook shown (Ctrl+S) and wait until ``path`` holds ``containing``."""
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + SAVE_TIMEOUT
    while containing not in path.read_text():
        if time.monotonic() > deadline:
            pytest.fail(f"{path.name} was not saved within {SAVE_TIMEOUT:.0f} s", pytrace=False)
        time.sleep(0.2)
    return json.loads(path.read_text())


def restart_kernel(page: Any) -> None:
    """Kernel > Restart Kernel…, then wait until the new kernel has run a cell, its first."""
    menu(page, "Kernel", "Restart Kernel…")
    page.click(".jp-Dialog .jp-mod-accept")
    page.wait_for_selector(".jp-Dialog", state="detached")
    cell = new_cell(page)
    page.keyboard.insert_text("%%python\nprint(6 * 7)")
    page.keyboard.press("Shift+Enter")
    cell.locator(".jp-InputArea-prompt", has_text="[1]").wait_for()
    cell.locator(".jp-OutputArea").get_by_text("42").wait_for()


def menu(page: Any, *labels: str) -> None:
    """Click through the menu bar: ``menu(page, "Settings", "Theme", "JupyterLab Dark")``."""
    page.click(f".lm-MenuBar-itemLabel:text-is('{labels[0]}')")
    for label in labels[1:]:
        page.click(f".lm-Menu-itemLabel:text-is('{label}')")


def wait_for_text(page: Any, selector: str, text: str) -> None:
    """Wait until the element's whole text is ``text`` (not merely contains it)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "([selector, text]) => document.querySelector(selector)?.textContent === text",
            arg=[selector, text],
        )
    except PlaywrightTimeout:
        shown = page.locator(selector).all_text_contents()
        pytest.fail(f"{selector} never read {text!r}; it reads {shown!r}", pytrace=False)


def new_cell(page: Any) -> Any:
    """An empty code cell at the end of the notebook, its editor focused.

    Running the last cell with Shift+Enter leaves a new empty cell below it; that one is
    reused, otherwise a cell is inserted with the command-mode key ``b``.
    """
    cells = page.locator(".jp-Notebook .jp-Cell")
    if cells.last.locator(".jp-InputArea-editor").inner_text().strip():
        count = cells.count()
        cells.last.locator(".jp-InputPrompt").click()
        page.keyboard.press("Escape")
        page.keyboard.press("b")
        page.wait_for_function(
            f"document.querySelectorAll('.jp-Notebook .jp-Cell').length > {count}"
        )
    cell = cells.nth(cells.count() - 1)  # pinned: running it appends another cell
    cell.locator(".jp-InputArea-editor").click()
    return cell


def chat_cell(page: Any, message: str) -> Any:
    """Type a chat message in a new cell and run it without waiting for it to finish."""
    cell = new_cell(page)
    page.keyboard.insert_text(message)
    page.keyboard.press("Shift+Enter")
    return cell


def use_api(page: Any, api: Any) -> None:
    """Point the notebook's kernel at the fake Messages API ``api``, with a made-up key."""
    run_new_cell(page, f"%env ANTHROPIC_BASE_URL={api.url}")
    run_new_cell(page, "%env ANTHROPIC_API_KEY=sk-ui-test")


def run_new_cell(page: Any, source: str) -> Any:
    """Type ``source`` into an empty cell at the end, run it, and return its outputs."""
    cell = new_cell(page)
    page.keyboard.insert_text(source)
    page.keyboard.press("Shift+Enter")
    cell.locator(".jp-InputArea-prompt", has_text=re.compile(r"\[\d+\]")).wait_for()
    return cell.locator(".jp-OutputArea")


def switch_theme(page: Any, theme: str) -> None:
    """Choose ``theme`` from Settings > Theme and wait until it is applied."""
    menu(page, "Settings", "Theme", theme)
    page.wait_for_selector(f"body[data-jp-theme-name='{theme}']", state="attached")


def close_file_browser(page: Any) -> None:
    """Give the notebook the full width (the screenshots read better)."""
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()
        page.wait_for_selector(
            ".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current", state="detached"
        )


# The WCAG contrast ratio of an element's text against what is painted behind it: the
# text colour and every translucent background up to the first opaque one are
# composited, so tinted pills and rows are measured as seen. A canvas turns any CSS
# colour (color-mix() included) into RGBA.
_CONTRAST_JS = """
element => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const rgba = css => {
    context.clearRect(0, 0, 1, 1);
    context.fillStyle = css;
    context.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = context.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]));
  const layers = [];
  for (let node = element; node; node = node.parentElement) {
    const layer = rgba(getComputedStyle(node).backgroundColor);
    if (layer[3] > 0) {
      layers.push(layer);
      if (layer[3] >= 1) {
        break;
      }
    }
  }
  let background = [255, 255, 255];
  for (const layer of layers.reverse()) {
    background = over(layer, background);
  }
  const text = over(rgba(getComputedStyle(element).color), background);
  const luminance = rgb => {
    const [r, g, b] = rgb.map(c => {
      const s = c / 255;
      return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [light, dark] = [luminance(text), luminance(background)].sort((a, b) => b - a);
  return (light + 0.05) / (dark + 0.05);
}
"""


def text_contrast(locator: Any) -> float:
    """The contrast ratio of the element's text on its background (1 to 21; 4.5 is WCAG AA)."""
    return float(locator.evaluate(_CONTRAST_JS))
