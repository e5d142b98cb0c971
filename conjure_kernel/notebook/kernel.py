"""The Conjure kernel: an IPython kernel whose plain cells are chat messages.

Routing happens in one place, ``route_cell``, installed as IPython's first input
transformer: a cell starting with ``%`` or ``!`` stays IPython, a ``%%python`` cell
becomes its body, and anything else becomes a ``%%conjure`` cell. Everything after
that (history, execution counts, interrupts, error replies) is ipykernel's own.

The kernel's app gives it a ``RedactingSession``, so output that is not a chat turn
(Python, ``!`` commands, displays, errors) has ``%secret`` values removed before it
leaves the kernel, and a notebook the frontend saves cannot hold them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp
from traitlets import Instance, List, default

from .._version import __version__
from .extension import load_ipython_extension, magics_of, unload_ipython_extension
from .recording import runner
from .secrets import RedactingSession
from .status import StatusChannel

__all__ = ["ConjureKernel", "ConjureKernelApp", "is_chat_cell", "launch", "route_cell"]

PYTHON_MARKER = "%%python"


def is_chat_cell(code: str) -> bool:
    """A cell is a chat message unless it starts with ``%`` or ``!`` (or is empty)."""
    stripped = code.lstrip()
    return bool(stripped) and not stripped.startswith(("%", "!"))


def route_cell(lines: list[str]) -> list[str]:
    """IPython cleanup transformer: turn a cell into the Python that IPython should run."""
    code = "".join(lines)
    if is_chat_cell(code):
        return ["%%conjure\n", *lines]
    stripped = code.lstrip()
    if stripped.startswith(PYTHON_MARKER) and stripped[
        len(PYTHON_MARKER) : len(PYTHON_MARKER) + 1
    ] in ("", "\n", " "):
        return stripped.split("\n", 1)[1:2] or [""]
    return lines


class ConjureKernel(IPythonKernel):
    """IPythonKernel with chat cells; the magics do the talking, the kernel only routes."""

    implementation = "conjure"
    implementation_version = __version__
    banner = "Conjure: chat with Claude and Agent Skills. Plain cells go to Claude; %%python runs Python."
    language_info = {
        "name": "conjure",
        "version": __version__,
        "mimetype": "text/x-markdown",
        "file_extension": ".md",
        "pygments_lexer": "markdown",
        "codemirror_mode": "markdown",
    }

    help_links = List(
        [
            {"text": "Claude API documentation", "url": "https://docs.claude.com/en/api/overview"},
            {"text": "Agent Skills specification", "url": "https://agentskills.io/specification"},
            {"text": "Python Reference", "url": "https://docs.python.org/3"},
            {"text": "IPython Reference", "url": "https://ipython.readthedocs.io/en/stable/"},
        ]
    ).tag(config=True)

    session = Instance(RedactingSession, help="Sends every message; redacts the output ones.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _start_next_to_the_notebook()
        self.shell.input_transformers_cleanup.insert(0, route_cell)
        load_ipython_extension(self.shell)
        self.session.redact = magics_of(self.shell).redact  # %secret names count at once
        StatusChannel.attach(self.shell)  # the conjure.status comm target

    def do_shutdown(self, restart: bool) -> dict[str, Any]:
        """Close the conversation first: its backend's processes and sandbox end with it."""
        unload_ipython_extension(self.shell)
        return super().do_shutdown(restart)

    async def do_is_complete(self, code: str) -> dict[str, str]:
        if is_chat_cell(code):
            return {"status": "complete"}
        return super().do_is_complete(code)


def _start_next_to_the_notebook() -> None:
    """Work in the notebook's folder when a headless runner left the kernel in its own.

    JupyterLab and ``jupyter execute`` start a kernel in the notebook's folder, so the
    notebook's relative paths (``%skills skills``, ``workdir=scratch``) mean the same
    everywhere; papermill leaves it where papermill runs (``papermill
    notebooks/quickstart.ipynb out.ipynb`` from a repository's root). A runner that
    chose another folder for the kernel is left alone.
    """
    if os.environ.get("JPY_SESSION_NAME"):  # a Jupyter Server chose the folder
        return
    started_by = runner()
    if started_by is None:
        return
    notebook, runner_folder = started_by
    if Path.cwd() == runner_folder != notebook.parent:
        os.chdir(notebook.parent)


class ConjureKernelApp(IPKernelApp):
    """IPKernelApp whose one Session, shared by every channel and output stream, redacts."""

    @default("session")
    def _redacting_session(self) -> RedactingSession:
        return RedactingSession(parent=self)


def launch(argv: list[str] | None = None) -> None:
    """Start the kernel; ``argv`` are IPKernelApp's options (``-f CONNECTION_FILE``…)."""
    ConjureKernelApp.launch_instance(argv=argv, kernel_class=ConjureKernel)
