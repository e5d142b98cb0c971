"""A kernel's start writes nothing to the terminal that a person cannot act on.

JupyterLab and ``jupyter console`` show a kernel's stderr in their own terminal, so a
warning there comes with every start. The kernel starts from the kernelspec this tree
writes (installed in a temporary prefix), through jupyter_client, as every frontend does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager

from conjure_kernel.notebook.kernelspec import install_kernelspec, kernel_json


@pytest.fixture(autouse=True)
def this_kernelspec(tmp_path, monkeypatch):
    """The conjure kernelspec of this tree, found before any other."""
    prefix = tmp_path / "prefix"
    install_kernelspec(prefix=str(prefix))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))


def run_kernel(folder: Path, *arguments: str, **manager_options: Any) -> tuple[str, KernelManager]:
    """Start a conjure kernel, run a Python cell, shut it down; what it wrote to stderr,
    and its manager."""
    manager = KernelManager(kernel_name="conjure", **manager_options)
    log = folder / "kernel-stderr.txt"
    with log.open("w") as stderr:
        manager.start_kernel(cwd=str(folder), stderr=stderr, extra_arguments=list(arguments))
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive("%%python\nprint(6 * 7)", timeout=60)
            assert reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()
            manager.shutdown_kernel()
    return log.read_text(), manager


def test_a_started_kernel_writes_nothing_to_stderr(tmp_path):
    stderr, _ = run_kernel(tmp_path)
    assert stderr == ""


def test_the_debugger_library_warns_of_nothing_even_where_stderr_is_echoed(tmp_path):
    """ipykernel loads the debugger's library at start; with ``quiet`` off, what the
    kernel writes to ``sys.stderr`` reaches the terminal too, and its check of frozen
    modules would be there."""
    stderr, _ = run_kernel(tmp_path, "--IPKernelApp.quiet=False")
    assert stderr == ""


def test_a_kernel_listening_beyond_this_machine_still_warns_of_plain_tcp(tmp_path):
    stderr, _ = run_kernel(tmp_path, ip="0.0.0.0")
    assert "Kernel is running over TCP without encryption" in stderr


def test_a_frontend_that_asks_for_encryption_gets_it(tmp_path):
    """A frontend configured with ``KernelManager.transport_encryption = "auto"`` gives the
    kernel CurveZMQ keys, since the kernelspec says it takes them, and the cell runs."""
    assert "curve" in kernel_json()["metadata"]["supported_encryption"]  # type: ignore[index]
    stderr, manager = run_kernel(tmp_path, transport_encryption="auto")
    assert manager.curve_publickey is not None
    assert stderr == ""
