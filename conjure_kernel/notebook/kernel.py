"""The Conjure kernel: an IPython kernel whose plain cells are chat messages.

Routing happens in one place, ``route_cell``, installed as IPython's first input
transformer: a cell starting with ``%`` or ``!`` stays IPython, a ``%%python`` cell
becomes its body, ``exit`` or ``quit`` alone stays IPython's exit (see ``ConjureShell``),
and anything else becomes a ``%%conjure`` cell. Everything after that (history,
execution counts, interrupts, error replies) is ipykernel's own.

The kernel's app gives it a ``RedactingSession``, so output that is not a chat turn
(Python, ``!`` commands, displays, errors) has ``%secret`` values removed before it
leaves the kernel, and a notebook the frontend saves cannot hold them.
"""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import logging
import os
from pathlib import Path
from typing import Any

from ipykernel.ipkernel import IPythonKernel
from ipykernel.kernelapp import IPKernelApp
from ipykernel.zmqshell import ZMQInteractiveShell
from IPython.display import display
from traitlets import Instance, List, Type, default

from .._version import __version__
from .extension import load_ipython_extension, magics_of, unload_ipython_extension
from .recording import runner
from .secrets import RedactingSession
from .status import StatusChannel

__all__ = [
    "ConjureKernel",
    "ConjureKernelApp",
    "ConjureShell",
    "is_chat_cell",
    "launch",
    "route_cell",
]

PYTHON_MARKER = "%%python"
EXIT_WORDS = ("exit", "quit", "exit()", "quit()")
"""A cell of just one of these leaves a console, as in IPython, instead of going to Claude."""

STAYING_HINT = (
    "`exit` and `quit` leave a terminal console; in a notebook the kernel keeps running "
    "(the Kernel menu's **Shut Down Kernel** stops it). To send the word to Claude: "
    "`%conjure exit`."
)


def is_chat_cell(code: str) -> bool:
    """A cell is a chat message unless it starts with ``%`` or ``!``, is empty, or is
    ``exit``/``quit`` alone."""
    stripped = code.strip()
    return bool(stripped) and not stripped.startswith(("%", "!")) and stripped not in EXIT_WORDS


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


class ConjureShell(ZMQInteractiveShell):
    """IPython's kernel shell, whose ``exit`` asks the frontend to leave and keeps the
    kernel running until the frontend shuts it down.

    IPython's ``exit`` sends the ``ask_exit`` payload and also stops the kernel's event
    loop, so the kernel ends without the shutdown that closes the conversation (its
    sandbox, MCP servers). Here only the payload goes: a console (``jupyter console``,
    qtconsole) leaves and shuts the kernel down in order, through ``do_shutdown``. A
    notebook ignores the payload and has nothing to leave, so the kernel goes on and the
    cell says how to stop it, in Markdown beside an empty ``text/plain``: a console,
    which leaves, prints an empty line.
    """

    def ask_exit(self) -> None:
        keep = bool(self.keepkernel_on_exit)
        self.payload_manager.write_payload({"source": "ask_exit", "keepkernel": keep})
        display({"text/plain": "", "text/markdown": STAYING_HINT}, raw=True)


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
    shell_class = Type(ConjureShell, help="IPython's kernel shell, with exit for consoles.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _start_next_to_the_notebook()
        self.shell.input_transformers_cleanup.insert(0, route_cell)
        load_ipython_extension(self.shell)
        self.session.redact = magics_of(self.shell).redact  # %secret names count at once
        StatusChannel.attach(self.shell)  # the conjure.status comm target

    def do_shutdown(self, restart: bool) -> dict[str, Any]:
        """Freeze the live pickers, then close the conversation: its backend's processes
        and sandbox end with it.

        A picker's line replaces its widget while the frontend still listens, so the
        notebook it saves holds no widget a new kernel cannot draw; it goes first, before
        closes that may take longer than a frontend waits for a kernel to end.

        Then freeze the heap: collecting it at exit (IPython's reset, the interpreter's
        last collection) takes the kernel about a second once the SDK is loaded, longer
        than a console waits after asking for the shutdown, and ipykernel ends a kernel
        whose parent is gone with "Parent appears to have exited". Nothing left to
        collect matters once the conversation is closed.
        """
        with contextlib.suppress(KeyError):  # unless %unload_ext took the magics away
            magics_of(self.shell).backend_magics.freeze_pickers()
        unload_ipython_extension(self.shell)
        gc.freeze()
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

    def init_sockets(self) -> None:
        """Bind the sockets without ipykernel's "running over TCP without encryption"
        warning when they listen on a loopback address only.

        That is how every Jupyter frontend starts a kernel unless configured otherwise,
        so the warning would come with every start, in the terminal of a JupyterLab or a
        console, about channels that only this machine can reach and that nothing in the
        notebook can change. A kernel listening on another interface still warns; on a
        machine shared with other people, the frontend's
        ``KernelManager.transport_encryption = "auto"`` encrypts the channels (the
        kernelspec declares Curve support).
        """
        on_loopback = self.transport == "tcp" and _is_loopback(self.ip)

        def keep(record: logging.LogRecord) -> bool:
            return not (on_loopback and record.getMessage().startswith(_PLAIN_TCP_WARNING))

        self.log.addFilter(keep)
        try:
            super().init_sockets()
        finally:
            self.log.removeFilter(keep)


_PLAIN_TCP_WARNING = "Kernel is running over TCP without encryption."


def _is_loopback(ip: str) -> bool:
    if ip == "localhost":
        return True
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def launch(argv: list[str] | None = None) -> None:
    """Start the kernel; ``argv`` are IPKernelApp's options (``-f CONNECTION_FILE``…).

    ipykernel loads the debugger's library as the kernel starts, and it warns that
    frozen standard modules may make breakpoints miss; this kernel offers no debugger
    (its kernelspec says so) and keeps the frozen modules for a faster start, so the
    check is turned off.
    """
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    ConjureKernelApp.launch_instance(argv=argv, kernel_class=ConjureKernel)
