"""``%backend`` and ``%model``: where the tools run and which Claude answers, and their picker.

Split from magics.py: switching what a session runs on is its own job. The settings
these magics change (``c.ConjureMagics.model``, ``default_backend``…) stay on
``ConjureMagics``, which creates this class and registers it beside itself.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display

from ..backends.registry import backend_names, get_backend
from ..errors import BackendSettingError, ConjureError, UnknownBackend
from .frontends import widget_manager_connected
from .status import notify_status_changed
from .wording import backend_help, worded_for_notebook

if TYPE_CHECKING:
    from ..backends.base import Backend
    from .magics import ConjureMagics

__all__ = ["BackendMagics", "known_backend"]


@magics_class
class BackendMagics(Magics):
    """The backend and model of the session that ``ConjureMagics`` runs."""

    def __init__(self, shell: Any = None, *, conjure: ConjureMagics, **kwargs: Any) -> None:
        self.conjure = conjure
        super().__init__(shell=shell, **kwargs)

    @magic_arguments()
    @argument("name", nargs="?", help="Backend to switch to; omit to show the current one.")
    @argument(
        "settings",
        nargs="*",
        help="key=value settings of the backend, e.g. workdir=/tmp/run timeout=60; "
        "`%%backend NAME --help` lists a backend's settings.",
    )
    @line_magic
    def backend(self, line: str) -> None:
        """Show or switch the backend that runs tool calls; the conversation is kept."""
        words = line.split()
        if words and not words[0].startswith("-") and {"-h", "--help"} & set(words[1:]):
            print(backend_help(known_backend(words[0])))
            return
        args = parse_argstring(self.backend, line)
        if not args.name:
            print(
                f"{self.conjure.session.backend_session.describe()}\n"
                f"available: {', '.join(backend_names())}"
            )
            self._show_picker()
            return
        malformed = [item for item in args.settings if "=" not in item or item.startswith("=")]
        if malformed:
            raise UsageError(
                f"backend settings are key=value pairs, got {malformed[0]!r}; "
                f"`%backend {args.name} --help` lists the settings"
            )
        print(self._switch_backend(args.name, dict(item.split("=", 1) for item in args.settings)))

    @magic_arguments()
    @argument("model_id", nargs="?", help="Model to use from the next turn on; omit to show it.")
    @line_magic("model")
    def magic_model(self, line: str) -> None:
        """Show or set the Claude model."""
        parse_argstring(self.magic_model, line)  # --help and stray options, as IPython does
        words = shlex.split(line)  # IPython's own split keeps quotes: %model '' would be "''"
        if words:
            self._set_model(words[0])
        print(self.conjure.model)
        if not words:
            self._show_picker()

    def _switch_backend(self, name: str, settings: dict[str, str]) -> str:
        """What ``%backend NAME key=value…`` and the picker do; the new session's line."""
        backend = known_backend(name)
        session = self.conjure.session
        try:
            session.switch_backend(backend, settings)
        except BackendSettingError as error:
            raise UsageError(f"{error}; `%backend {name} --help` lists the settings") from None
        except ConjureError as error:  # the backend cannot start here (an engine that is down)
            raise worded_for_notebook(error) from None
        notify_status_changed(self.shell)
        return session.backend_session.describe()

    def _set_model(self, model: str) -> None:
        """What ``%model ID`` and the picker do."""
        if not model.strip():
            raise UsageError("a model id cannot be empty; e.g. %model claude-sonnet-5-5")
        self.conjure.model = model.strip()

    def _show_picker(self) -> None:
        """The backend and model picker, where the frontend draws widgets."""
        if not widget_manager_connected():
            return
        from .widgets import PickerWidget

        display(
            PickerWidget(
                self.conjure.session.backend_name,
                self.conjure.model,
                switch_backend=self._switch_backend,
                set_model=self._set_model,
            )
        )


def known_backend(name: str) -> Backend:
    """The installed backend called ``name``; an unknown name is a usage error listing them."""
    try:
        return get_backend(name)
    except UnknownBackend as error:
        raise UsageError(str(error)) from None
