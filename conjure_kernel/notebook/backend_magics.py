"""``%backend`` and ``%model``: where the tools run and which Claude answers, and their picker.

Split from magics.py: switching what a session runs on is its own job. The settings
these magics change (``c.ConjureMagics.model``, ``default_backend``…) stay on
``ConjureMagics``, which creates this class and registers it beside itself.

``%model`` shows the models the API lists (clients/models.py: cached a day, built in
when the API cannot be asked), and checks a model it is given against that list: a
retired model is refused with its replacement; one the list lacks (a typo, a model this
key may not use) is set with a warning, since the list may be stale or built in.

Alone, either magic also shows the picker (widgets/picker.py) where the frontend draws
widgets. It stays live until it is used or the next cell runs, then leaves a line in its
place, so the notebook saves no widget a restarted kernel cannot draw.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from ..backends.mcp_sources import backend_lines
from ..backends.registry import backend_names, get_backend
from ..clients.model_facts import ModelFacts, Retirement, facts_of
from ..clients.models import Catalog, ModelCatalog, built_in_catalog, describe_catalog
from ..errors import BackendSettingError, ConjureError, UnknownBackend
from .frontends import widget_manager_connected
from .status import notify_status_changed
from .wording import backend_help, worded_for_notebook

if TYPE_CHECKING:
    from ..backends.base import Backend
    from .magics import ConjureMagics
    from .widgets import PickerWidget

__all__ = ["BackendMagics", "known_backend"]


@magics_class
class BackendMagics(Magics):
    """The backend and model of the session that ``ConjureMagics`` runs."""

    def __init__(self, shell: Any = None, *, conjure: ConjureMagics, **kwargs: Any) -> None:
        self.conjure = conjure
        self.catalog = ModelCatalog()
        """The models the API lists, held for this kernel (and on disk for a day)."""
        self._pickers: list[PickerWidget] = []
        """Pickers still live: the next cell to run freezes them."""
        super().__init__(shell=shell, **kwargs)
        if shell is not None:
            shell.events.register("pre_run_cell", self.freeze_pickers)
            shell.observe(self.freeze_pickers, names="exit_now")  # any kernel's shutdown

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
    @argument(
        "words",
        nargs="*",
        metavar="MODEL|OPTION",
        help="The model to use from the next turn on, and how it thinks: effort=low|medium|"
        "high|xhigh|max|default, thinking=on|off|auto; omit all to list the models.",
    )
    @argument(
        "--refresh",
        action="store_true",
        help="Ask the API for its list of models now, rather than use the one kept for a day.",
    )
    @line_magic("model")
    def magic_model(self, line: str) -> None:
        """Show or set the Claude model and its effort and thinking; alone, list the models."""
        args = parse_argstring(self.magic_model, line)  # --help and stray options
        # IPython's own split keeps quotes: %model '' would be "''"
        words = [word for word in shlex.split(line) if word != "--refresh"]
        if words:
            options = [word for word in words if "=" in word]
            named = [word for word in words if "=" not in word]
            if len(named) > 1:
                raise UsageError(f"one model at a time, got {' '.join(named)}")
            model = named[0] if named else self.conjure.model
            warning = self._set_model(model, refresh=args.refresh, options=options)
            print(self._current())
            if warning:
                print(warning, file=sys.stderr)
            return
        catalog = self._catalog(refresh=args.refresh)
        print(self._current())
        print("\n".join(describe_catalog(catalog, self.conjure.model)))
        self._show_picker(catalog)

    def model_facts(self, model: str) -> ModelFacts:
        """What a turn knows of ``model``: from the API's list this kernel holds, else built in."""
        known = self.catalog.known(model)
        return ModelFacts(known.context_window, known.supports) if known else facts_of(model)

    def _current(self) -> str:
        """``claude-opus-5-5 effort=high``: the model and the options set for it."""
        return f"{self.conjure.model} {self.conjure.model_options.describe()}".rstrip()

    def _switch_backend(self, name: str, settings: dict[str, str]) -> str:
        """What ``%backend NAME key=value…`` and the picker do; the new session's line."""
        backend = known_backend(name)
        session = self.conjure.session
        try:
            switched = session.switch_backend(backend, settings)
        except BackendSettingError as error:
            hint = error.hint or f"`%backend {name} --help` lists the settings"
            raise UsageError(f"{error}; {hint}") from None
        except ConjureError as error:  # the backend cannot start here (an engine that is down)
            raise worded_for_notebook(error) from None
        if not switched:
            held = session.backend_name
            unused = " ".join(f"{key}={value}" for key, value in settings.items())
            unused = f" (not applied: {unused})" if unused else ""
            return (
                f"replaying on {held} as asked: `%backend {name}` is overridden; the tools "
                f"stay on {held}{unused}"
            )
        notify_status_changed(self.shell)
        lines = backend_lines(session.mcp, session.backend)  # what MCP cannot do there
        return "\n".join([session.backend_session.describe(), *lines])

    def _set_model(self, model: str, *, refresh: bool = False, options: Sequence[str] = ()) -> str:
        """What ``%model ID [effort=…] [thinking=…]`` and the picker do; returns a warning
        to show, or ``""``.

        A retired model is refused, naming its replacement, and so are options the model
        would refuse (the model and options in force stay); a model the catalog does not
        list is set all the same, with a warning."""
        model = model.strip()
        if not model:
            raise UsageError("a model id cannot be empty; e.g. %model claude-sonnet-5-5")
        catalog = self._catalog(refresh=refresh)
        retired = catalog.retirement(model)
        if retired is not None:
            raise UsageError(_retired_line(model, retired))
        try:
            wanted = self.conjure.model_options.updated(options)
        except ConjureError as error:
            raise UsageError(f"{error}; {error.hint}" if error.hint else str(error)) from None
        refused = wanted.refusal(model, self.model_facts(model).supports)
        if refused:
            raise UsageError(refused)
        self.conjure.model_options = wanted
        self.conjure.model = model
        return _listing_warning(catalog, model)

    def _catalog(self, *, refresh: bool = False) -> Catalog:
        """The models the session's account can use, from the cache or the API; the
        built-in list while no session can be made (a backend configured wrongly, which
        the next turn reports), so that setting a model never depends on the backend."""
        try:
            session = self.conjure.session
        except ConjureError as error:
            return built_in_catalog(f"no session to ask the API from: {error}")
        return session.runner.run(self.catalog.get(session.account, refresh=refresh))

    def _show_picker(self, catalog: Catalog | None = None) -> None:
        """The backend and model picker, where the frontend draws widgets."""
        if not widget_manager_connected():
            return
        from .widgets import PickerWidget

        picker = PickerWidget(
            self.conjure.session.backend_name,
            self.conjure.model,
            switch_backend=self._switch_backend,
            set_model=self._set_model,
            models=(catalog or self._catalog()).usable,
        )
        picker.show()
        self._pickers.append(picker)

    def freeze_pickers(self, _event: Any = None) -> None:
        """Leave each live picker's line in its place: the next cell runs, or the kernel
        shuts down (``exit_now``, which ipykernel sets before it replies)."""
        for picker in self._pickers:
            picker.freeze()
        self._pickers = []


def _retired_line(model: str, retired: Retirement) -> str:
    """``claude-sonnet-4-5 was retired on 2026-11-30; use claude-sonnet-5-5: %model …``."""
    line = retired.describe(model)
    if retired.replacement:
        line = line.removesuffix(" instead") + f": %model {retired.replacement}"
    return line


def _listing_warning(catalog: Catalog, model: str) -> str:
    """One line when ``model`` is deprecated or not listed; ``""`` when it is listed."""
    found = catalog.find(model)
    if found is not None:
        status = found.describe_status()
        return f"warning: {model} is {status}" if found.lifecycle == "deprecated" else ""
    near = catalog.close_to(model)
    hint = f"; did you mean {near}? (%model {near})" if near else "; %model lists them"
    where = "the models the API lists" if catalog.from_api else "the built-in list of models"
    return f"warning: {model} is not among {where}, but is set{hint}"


def known_backend(name: str) -> Backend:
    """The installed backend called ``name``; an unknown name is a usage error listing them."""
    try:
        return get_backend(name)
    except UnknownBackend as error:
        raise UsageError(str(error)) from None
