"""Fixtures for the real-browser tests: Debian's Chromium and a real ``jupyter lab`` server.

The browser tests skip when Chromium (``/usr/bin/chromium``) or the ``playwright`` Python
package is missing, unless ``CONJURE_REQUIRE_BROWSER=1`` is set (CI sets it), in which case
they fail instead, so a missing browser cannot hide behind a skip. Install the browser with
``bash scripts/install-browser.sh`` and the package with the ``test`` extra.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "conjure-ui-test-token"
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
SERVER_START_TIMEOUT = 60.0


def _missing_browser() -> str | None:
    """Why the browser test cannot run here, or None if it can."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} not found (install it with: bash scripts/install-browser.sh)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The Chromium binary; skips (or fails under CONJURE_REQUIRE_BROWSER=1) if unusable."""
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("CONJURE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"CONJURE_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture
def browser(chromium_executable: str) -> Iterator[Any]:
    """A headless Chromium driven by Playwright (a fresh profile per launch)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=chromium_executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class LabServer:
    base_url: str
    token: str
    root: Path
    log: Path
    app: str = "jupyterlab"
    """``jupyterlab``, or ``notebook`` for Notebook 7."""

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}token={self.token}"

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    for sig, timeout in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def api() -> Iterator[Any]:
    """A fake Messages API for the test's kernel (see ``lab_pages.use_api``)."""
    from fakeapi import FakeMessagesAPI

    with FakeMessagesAPI() as server:
        yield server


@pytest.fixture
def lab_server(chromium_executable: str, tmp_path: Path) -> Iterator[LabServer]:
    """A ``jupyter lab`` serving a copy of notebooks/ (quickstart.ipynb and skills/), no API key."""
    with start_lab(tmp_path) as server:
        yield server


@pytest.fixture
def lab_server_without_conjure_kernel(
    chromium_executable: str, tmp_path: Path
) -> Iterator[LabServer]:
    """The same server, as a reader without the Conjure kernel has it: the labextension is
    installed but the ``conjure`` kernelspec is not offered, so notebooks open with no kernel."""
    with start_lab(tmp_path, ["--KernelSpecManager.allowed_kernelspecs=python3"]) as server:
        yield server


@pytest.fixture
def notebook7_server(chromium_executable: str, tmp_path: Path) -> Iterator[LabServer]:
    """``jupyter notebook`` (Notebook 7) serving the same folder as ``lab_server``."""
    with start_lab(tmp_path, app="notebook") as server:
        yield server


@pytest.fixture(params=["jupyterlab", "notebook"])
def any_server(request: Any, chromium_executable: str, tmp_path: Path) -> Iterator[LabServer]:
    """JupyterLab, then Notebook 7: a test that takes it runs in each."""
    with start_lab(tmp_path, app=request.param) as server:
        yield server


@contextmanager
def start_lab(
    tmp_path: Path, extra_args: Sequence[str] = (), *, app: str = "jupyterlab"
) -> Iterator[LabServer]:
    """Start ``jupyter lab`` (or ``app``: ``notebook`` for Notebook 7, whose page then
    exposes the app, which says when its kernel is ready, as it has no status bar) on a
    free port with fresh settings; stop it and its kernels after."""
    if app == "notebook":
        extra_args = [*extra_args, "--JupyterNotebookApp.expose_app_in_browser=True"]
    # A short root path: it shows in the tool calls (and in the README screenshot).
    root = Path(tempfile.mkdtemp(prefix="quickstart-"))
    shutil.copy2(NOTEBOOKS / "quickstart.ipynb", root / "quickstart.ipynb")
    shutil.copytree(NOTEBOOKS / "skills", root / "skills")

    # No "Would you like to receive official Jupyter news?" toast over the page.
    settings = tmp_path / "lab-settings"
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false"})
    )

    env = dict(os.environ)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        env.pop(name, None)
    env["JUPYTERLAB_SETTINGS_DIR"] = str(settings)
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")  # ignore ~/.jupyter

    port = _free_port()
    log = tmp_path / "jupyter-lab.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                app,
                "--no-browser",
                f"--IdentityProvider.token={TOKEN}",
                "--allow-root",
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--ServerApp.root_dir={root}",
                f"--LabServerApp.workspaces_dir={tmp_path / 'ws'}",
                *extra_args,
            ],
            env=env,
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(f"http://127.0.0.1:{port}", TOKEN, root, log, app)
    try:
        _wait_until_serving(proc, server)
        yield server
    finally:
        _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_serving(proc: subprocess.Popen, server: LabServer) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(
                f"jupyter lab exited with {proc.returncode}:\n{server.log_tail()}",
                pytrace=False,
            )
        try:
            with urllib.request.urlopen(server.url("/api/status"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"jupyter lab did not answer /api/status within {SERVER_START_TIMEOUT:.0f} s:\n"
                f"{server.log_tail()}",
                pytrace=False,
            )
        time.sleep(0.1)
