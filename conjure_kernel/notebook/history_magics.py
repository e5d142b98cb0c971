"""``%history``, ``%replay`` and ``%reset``: the session's turns, shown, saved, read back or cleared.

Split from magics.py: what a notebook recorded (restoring turns, answering from them) and
what the session has said so far are their own job. ``ConjureMagics`` creates this class,
registers it beside itself, and asks it to refresh the shown histories after each turn;
``environment_replay`` is the replay ``python -m conjure_kernel replay`` asks a new
session to answer from.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..errors import ConjureError
from .backend_magics import known_backend
from .frontends import widget_manager_connected
from .history import history_bundle
from .recording import export_markdown, export_notebook, read_replay, read_turns, resolve_notebook
from .status import notify_status_changed
from .wording import worded_for_notebook

if TYPE_CHECKING:
    from ..clients.replay import Replay
    from .magics import ConjureMagics
    from .widgets import HistoryView

__all__ = ["HistoryMagics", "environment_replay"]


@magics_class
class HistoryMagics(Magics):
    """The turns of the session that ``ConjureMagics`` runs."""

    def __init__(self, shell: Any = None, *, conjure: ConjureMagics, **kwargs: Any) -> None:
        self.conjure = conjure
        self._histories: list[HistoryView] = []
        """``%history`` tables shown so far: each is redrawn when a turn ends."""
        super().__init__(shell=shell, **kwargs)

    @magic_arguments()
    @argument("action", nargs="?", default="show", help="show (default), restore, or export.")
    @argument(
        "target", nargs="?", help="restore: the notebook to read; export: FILE.md or FILE.ipynb."
    )
    @line_magic
    def history(self, line: str) -> None:
        """Show the session's turns, restore them from a notebook, or export them."""
        args = parse_argstring(self.history, line)
        if args.action == "show":
            self._show()
        elif args.action == "restore":
            notebook = resolve_notebook(args.target, self.conjure.user_namespace)
            turns = read_turns(notebook)
            session = self.conjure.session
            session.restore(turns)
            print(
                f"restored {len(turns)} turn(s), {len(session.messages)} message(s) from {notebook}"
            )
        elif args.action == "export":
            self._export(args.target)
        else:
            raise UsageError(
                f"unknown %history action {args.action!r}; use show, restore or export"
            )

    def _show(self) -> None:
        """A table that keeps up with later turns where the frontend redraws outputs (it
        draws widgets), else the turns as they are now."""
        session, redact = self.conjure.session, self.conjure.redact
        if widget_manager_connected():
            from .widgets import HistoryView

            shown = HistoryView(
                session.transcript, redact, messages=len(session.messages), spent=session.spent
            )
            shown.show()
            self._histories.append(shown)
            return
        bundle = history_bundle(
            session.transcript, redact, messages=len(session.messages), spent=session.spent
        )
        display(bundle, raw=True)

    def _export(self, target: str | None) -> None:
        if not target or Path(target).suffix not in (".md", ".ipynb"):
            raise UsageError("%history export needs FILE.md or FILE.ipynb")
        path = Path(target).expanduser()
        writer = export_markdown if path.suffix == ".md" else export_notebook
        transcript = self.conjure.session.transcript
        try:
            writer(transcript, path, redact=self.conjure.redact)
        except OSError as error:
            raise UsageError(
                f"cannot write {path}: {error.strerror or error}; "
                "choose a file in a folder that exists and that you can write to"
            ) from None
        print(f"wrote {len(transcript)} turn(s) to {path}")

    def refresh(self) -> None:
        """Bring every shown history table up to date after a turn."""
        session = self.conjure._session
        if session is None:
            return
        for shown in self._histories:
            shown.refresh(session.transcript, messages=len(session.messages), spent=session.spent)

    @line_magic
    def reset(self, line: str) -> None:
        """Start a fresh conversation (backend, model and skills stay)."""
        self.conjure.session.reset()
        print("the conversation was reset")

    @magic_arguments()
    @argument(
        "notebook",
        nargs="?",
        help="Recorded notebook to answer from, or 'off'; default: this notebook.",
    )
    @argument(
        "--backend",
        metavar="NAME",
        default="",
        help="Run the tools on this backend; the notebook's own %%backend cells are overridden.",
    )
    @argument(
        "--live",
        action="store_true",
        help="Re-run recorded MCP calls on their servers where they run here.",
    )
    @line_magic
    def replay(self, line: str) -> None:
        """Answer from a notebook's recording instead of the API; tools still run for real."""
        args = parse_argstring(self.replay, line)
        if args.notebook == "off":
            self.conjure.session.use_replay(None)
            print("replay is off; turns go to the Messages API")
            return
        backend = args.backend or _replay_backend()
        if backend:
            known_backend(backend)
        notebook = resolve_notebook(args.notebook, self.conjure.user_namespace)
        replay = read_replay(notebook, backend=backend)
        replay.live = args.live
        session = self.conjure.session
        switching = bool(backend) and backend != session.backend_name
        try:
            session.use_replay(replay)
        except ConjureError as error:  # the asked backend cannot start here
            raise worded_for_notebook(error) from None
        if switching:
            notify_status_changed(self.shell)
        held = f" on {backend}; the notebook's %backend cells do not switch away" if backend else ""
        print(f"replaying {len(replay.turns)} recorded turn(s) from {replay.source}{held}")


def environment_replay(namespace: Mapping[str, Any] | None) -> Replay | None:
    """The recording ``python -m conjure_kernel replay NB`` runs this kernel on (its
    ``CONJURE_REPLAY``), held to the backend it names; None in an ordinary kernel."""
    replayed = os.environ.get("CONJURE_REPLAY")
    if not replayed:
        return None
    replay = read_replay(resolve_notebook(replayed, namespace), backend=_replay_backend())
    replay.live = bool(os.environ.get("CONJURE_REPLAY_LIVE"))
    return replay


def _replay_backend() -> str:
    """The backend ``python -m conjure_kernel replay --backend NAME`` asked the tools to run on."""
    return os.environ.get("CONJURE_REPLAY_BACKEND", "")
