"""The IPython magics: one class serves the Conjure kernel and ``%load_ext conjure_kernel``.

Settings are traitlets, so ``c.ConjureMagics.model = ...`` in ``ipython_config.py`` (or the
kernel's config) sets defaults and ``%config ConjureMagics`` shows them. The environment
variables ``CONJURE_BACKEND``, ``CONJURE_MODEL`` and ``CONJURE_SKILLS_PATH`` win over
configuration, so a single run can be steered from the shell.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from IPython.display import display
from traitlets import Bool, Dict, Float, Int, List, Type, Unicode, observe
from traitlets.config import Configurable
from traitlets.utils.importstring import import_item

from ..backends.base import Backend
from ..backends.registry import backend_names, get_backend
from ..clients.base import DEFAULT_MODEL, ModelClient
from ..clients.replay_client import ReplayClient
from ..errors import BackendSettingError, ConjureError, SkillError, TurnInterrupted, UnknownBackend
from ..skills.discovery import find_skills
from ..tools.output import one_line
from .frontends import widget_manager_connected
from .guard_magics import GuardMagics
from .history import history_bundle
from .recording import export_markdown, export_notebook, read_turns, resolve_notebook
from .secrets import Redactor
from .status import notify_status_changed
from .wording import backend_help, worded_for_notebook

if TYPE_CHECKING:
    from ..conversation.session import Session
    from ..conversation.transcript import TurnRecord
    from .views import TurnView
    from .widgets import HistoryWidget

# What a cell needs only when it first needs it is imported there, not here: the kernel
# loads this module at start, and the SDK and nbformat would add seconds.
DEFAULT_CLIENT = "conjure_kernel.clients.anthropic_client.AnthropicClient"
DEFAULT_VIEW = "conjure_kernel.notebook.display.LiveTurnView"
WIDGET_VIEW = "conjure_kernel.notebook.widgets.TraceWidget"

__all__ = ["ConjureMagics"]


@magics_class
class ConjureMagics(Magics):
    """Chat with Claude from cells; choose the backend, model and skills."""

    model = Unicode(DEFAULT_MODEL, help="Claude model for new turns (env CONJURE_MODEL).").tag(
        config=True
    )
    default_backend = Unicode(
        "local", help="Backend for new sessions: local, native, or a plug-in (env CONJURE_BACKEND)."
    ).tag(config=True)
    skills_path = List(
        Unicode(),
        help="Folders and .skill files loaded at start (env CONJURE_SKILLS_PATH, os.pathsep-separated).",
    ).tag(config=True)
    workdir = Unicode("", help="Working directory for tools; empty means the kernel's cwd.").tag(
        config=True
    )
    max_iterations = Int(25, help="Model calls allowed in one turn before it is stopped.").tag(
        config=True
    )
    max_tokens = Int(16000, help="max_tokens of each Messages API call.").tag(config=True)
    tool_timeout = Float(300.0, help="Seconds before one tool call is killed.").tag(config=True)
    backend_settings = Dict(
        value_trait=Dict(),
        help="Default key=value settings per backend, e.g. {'docker': {'memory': '1g'}}; "
        "what %backend NAME key=value gives wins.",
    ).tag(config=True)
    secret_env_vars = List(
        Unicode(), help="Environment variables whose values never appear in saved output."
    ).tag(config=True)
    record = Bool(True, help="Save each turn's full recording in the cell output.").tag(config=True)
    client_class = Type(
        None,
        klass=object,
        allow_none=True,
        help=f"Model client class, constructed with no arguments; None means {DEFAULT_CLIENT}.",
    ).tag(config=True)
    view_class = Type(
        None,
        klass=object,
        allow_none=True,
        help="How a turn shows while it runs: a TurnView class, constructed with the redactor "
        f"(update(event), finish(record)); None means {WIDGET_VIEW} where the frontend draws "
        f"widgets, else {DEFAULT_VIEW}.",
    ).tag(config=True)

    def __init__(self, shell=None, **kwargs) -> None:
        self._session: Session | None = None
        self._histories: list[HistoryWidget] = []
        """``%history`` widgets shown so far: each updates itself when a turn ends."""
        super().__init__(shell=shell, **kwargs)
        self._apply_environment()
        self.redact = Redactor(self.secret_env_vars)
        self.guard = GuardMagics(shell=shell, conjure=self)
        """``%permissions`` and ``%budget``, and their configuration; registered beside this."""

    @observe("model")
    def _model_changed(self, change: dict[str, Any]) -> None:
        """``%config ConjureMagics.model = …`` mid-session applies from the next turn."""
        if self._session is not None:
            self._session.model = change["new"]

    def _apply_environment(self) -> None:
        if os.environ.get("CONJURE_MODEL"):
            self.model = os.environ["CONJURE_MODEL"]
        if os.environ.get("CONJURE_BACKEND"):
            self.default_backend = os.environ["CONJURE_BACKEND"]
        if os.environ.get("CONJURE_SKILLS_PATH"):
            self.skills_path = [p for p in os.environ["CONJURE_SKILLS_PATH"].split(os.pathsep) if p]

    @property
    def session(self) -> Session:
        """The kernel's conversation, created on first use from the configured defaults."""
        if self._session is None:
            self._session = self._new_session()
        return self._session

    def _new_session(self) -> Session:
        replay = os.environ.get("CONJURE_REPLAY")
        client: ModelClient = (
            _replay_client(resolve_notebook(replay, self._namespace))
            if replay
            else self._new_client()
        )
        from ..conversation.session import Session

        session = Session(
            client=client,
            model=self.model,
            backend=self.default_backend,
            setting_defaults={"workdir": self.workdir, "timeout": self.tool_timeout},
            backend_defaults=self.backend_settings,
            owner=_kernel_id(),
            namespace=self._namespace,
            hidden_env=self.redact.names,  # %secret names: hidden from the tools as they grow
            max_iterations=self.max_iterations,
            max_tokens=self.max_tokens,
            permissions=self.guard.configured_permissions(),
            budget=self.guard.configured_budget(),
        )
        if self.skills_path:
            found = find_skills(self.skills_path)
            session.add_skills(found.skills)
            for problem in found.problems:
                print(f"skill {problem.severity}: {problem}", file=sys.stderr)
        return session

    # -- chat ---------------------------------------------------------------------------

    @line_cell_magic
    def conjure(self, line: str, cell: str | None = None) -> None:
        """Send a message to Claude: ``%conjure MESSAGE`` or a ``%%conjure`` cell."""
        message = (cell if cell is not None else line).strip()
        if not message:
            raise UsageError(
                "write a message: %conjure MESSAGE, or %%conjure with the message below"
            )
        self.chat(message)

    def chat(self, message: str) -> None:
        """Run one turn, showing it live; a failed turn raises so Run All stops here."""
        from .views import TurnView

        view = self._view_class()(self.redact)
        if not isinstance(view, TurnView):
            raise UsageError(
                f"ConjureMagics.view_class {type(view).__name__} is not a TurnView: it needs "
                "update(event) and finish(record)"
            )
        session = self.session
        session.max_iterations, session.max_tokens = self.max_iterations, self.max_tokens
        turns_before = len(session.transcript)
        events = session.chat_sync(message, ask=self.guard.ask, cell_spent=self.guard.cell_spent())
        failure: BaseException | None = None
        try:
            for event in events:
                view.update(event)
                if event.type == "turn_failed":
                    failure = event.error
        except KeyboardInterrupt:
            events.close()
            failure = TurnInterrupted("interrupted; the conversation stays valid and can go on")
        except TurnInterrupted as error:
            failure = error
        finally:
            record = session.transcript[-1] if len(session.transcript) > turns_before else None
            if record is not None:
                self.guard.count(record)
            if record is not None and not self.record:
                # Only the replay data goes: the timeline still shows the whole turn, and
                # the session keeps the full record for history and export.
                record = dataclasses.replace(record, steps=[])
            _finish_despite_interrupts(view, record)
            self._refresh_history()
        if failure is not None:
            raise worded_for_notebook(failure)

    def _view_class(self) -> type:
        """The configured view; else the widget trace where a widget manager listens (the
        saved notebook gets the same bundle either way), else the HTML view."""
        if self.view_class is not None:
            return self.view_class
        return import_item(WIDGET_VIEW if widget_manager_connected() else DEFAULT_VIEW)

    # -- session settings -----------------------------------------------------------------

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
            print(backend_help(self._known_backend(words[0])))
            return
        args = parse_argstring(self.backend, line)
        if not args.name:
            print(
                f"{self.session.backend_session.describe()}\navailable: {', '.join(backend_names())}"
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

    def _switch_backend(self, name: str, settings: dict[str, str]) -> str:
        """What ``%backend NAME key=value…`` and the picker do; the new session's line."""
        self._known_backend(name)
        try:
            self.session.switch_backend(name, settings)
        except BackendSettingError as error:
            raise UsageError(f"{error}; `%backend {name} --help` lists the settings") from None
        except ConjureError as error:  # the backend cannot start here (an engine that is down)
            raise worded_for_notebook(error) from None
        notify_status_changed(self.shell)
        return self.session.backend_session.describe()

    def _set_model(self, model: str) -> None:
        """What ``%model ID`` and the picker do."""
        if not model.strip():
            raise UsageError("a model id cannot be empty; e.g. %model claude-sonnet-5-5")
        self.model = model.strip()

    def _show_picker(self) -> None:
        """The backend and model picker, where the frontend draws widgets."""
        if not widget_manager_connected():
            return
        from .widgets import PickerWidget

        display(
            PickerWidget(
                self.session.backend_name,
                self.model,
                switch_backend=self._switch_backend,
                set_model=self._set_model,
            )
        )

    def _known_backend(self, name: str) -> Backend:
        try:
            return get_backend(name)
        except UnknownBackend as error:
            raise UsageError(str(error)) from None

    @magic_arguments()
    @argument("model_id", nargs="?", help="Model to use from the next turn on; omit to show it.")
    @line_magic("model")
    def magic_model(self, line: str) -> None:
        """Show or set the Claude model."""
        parse_argstring(self.magic_model, line)  # --help and stray options, as IPython does
        words = shlex.split(line)  # IPython's own split keeps quotes: %model '' would be "''"
        if words:
            self._set_model(words[0])
        print(self.model)
        if not words:
            self._show_picker()

    @magic_arguments()
    @argument(
        "paths", nargs="*", help="Skill folders (searched at any depth) or .skill files to add."
    )
    @argument(
        "--remote",
        action="store_true",
        help="List the skills on Anthropic's side (yours and Anthropic's).",
    )
    @argument(
        "--upload",
        metavar="PATH",
        action="append",
        default=[],
        help="Upload a skill to Anthropic, unless unchanged since its last upload.",
    )
    @argument(
        "--delete",
        metavar="ID",
        action="append",
        default=[],
        help="Delete a custom skill from Anthropic, with all its versions.",
    )
    @argument(
        "--remove",
        metavar="NAME",
        action="append",
        default=[],
        help="Take a loaded skill out of this session (its files stay where they are).",
    )
    @argument(
        "--check",
        action="store_true",
        help="Say what the loaded skills need (programs, Python modules, npm packages), "
        "whether each backend has it, and what would add the rest.",
    )
    @line_magic
    def skills(self, line: str) -> None:
        """List the loaded skills, add skills from folders and .skill packages, remove
        them from the session, check what they need, or manage the skills on Anthropic's
        side (the anthropic backend's)."""
        args = parse_argstring(self.skills, line)
        if args.remote or args.upload or args.delete:
            self._remote_skills(args.upload, args.delete, listing=args.remote)
            return
        if args.remove:
            try:
                self.session.remove_skills(args.remove)
            except SkillError as error:
                raise UsageError(str(error)) from None
            print(f"removed {', '.join(args.remove)}")
        if args.paths:
            found = find_skills(args.paths)
            self.session.add_skills(found.skills)
            warnings = [p for p in found.problems if p.severity == "warning"]
            errors = [p for p in found.problems if p.severity == "error"]
            for problem in warnings:
                print(f"warning: {problem}", file=sys.stderr)
            if errors:
                raise SkillError(
                    "skipped: " + "; ".join(str(p) for p in errors),
                    hint="fix the path or the SKILL.md; `python -m conjure_kernel skills validate PATH` checks every rule",
                )
        if args.check:
            print(self._skills_check())
            return
        for skill in self.session.skills:
            print(f"{skill.name}: {one_line(skill.description, 100)}  ({skill.origin})")
        if not self.session.skills:
            print("no skills loaded; add some with %skills PATH")

    def _skills_check(self) -> str:
        """The doctor's report on the loaded skills; docker is asked about the image this
        session uses there (or would)."""
        from ..doctor import check_skills

        if not self.session.skills:
            return "no skills loaded; add some with %skills PATH"
        docker = (
            self.session.options.settings
            if self.session.backend_name == "docker"
            else self.backend_settings.get("docker", {})
        )
        return check_skills(
            self.session.skills,
            image=str(docker.get("image", "")),
            host=str(docker.get("host", "")),
            magics=True,
        )

    def _remote_skills(self, upload: list[str], delete: list[str], *, listing: bool) -> None:
        """Uploads, then deletions, then the listing, through the session's model client."""
        from ..clients.anthropic_client import SdkClient
        from ..clients.skills_api import delete_remote, remote_listing, upload_path

        client = self.session.client
        if not isinstance(client, SdkClient):
            reason = (
                "replay is on (%replay off turns it off)"
                if isinstance(client, ReplayClient)
                else f"the model client {type(client).__name__} cannot reach the Skills API"
            )
            raise UsageError(f"skills on Anthropic's side cannot be managed: {reason}")
        run = self.session.runner.run
        for path in upload:
            print(run(upload_path(client, path)))
        for skill_id in delete:
            print(run(delete_remote(client, skill_id)))
        if listing:
            print("\n".join(run(remote_listing(client))))

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
            session = self.session
            if widget_manager_connected():
                from .widgets import HistoryWidget

                shown = HistoryWidget(
                    session.transcript,
                    self.redact,
                    messages=len(session.messages),
                    spent=session.spent,
                )
                shown.show()
                self._histories.append(shown)
                return
            bundle = history_bundle(
                session.transcript, self.redact, messages=len(session.messages), spent=session.spent
            )
            display(bundle, raw=True)
        elif args.action == "restore":
            notebook = resolve_notebook(args.target, self._namespace)
            turns = read_turns(notebook)
            self.session.restore(turns)
            print(
                f"restored {len(turns)} turn(s), {len(self.session.messages)} message(s) from {notebook}"
            )
        elif args.action == "export":
            if not args.target or Path(args.target).suffix not in (".md", ".ipynb"):
                raise UsageError("%history export needs FILE.md or FILE.ipynb")
            target = Path(args.target).expanduser()
            writer = export_markdown if target.suffix == ".md" else export_notebook
            try:
                writer(self.session.transcript, target, redact=self.redact)
            except OSError as error:
                raise UsageError(
                    f"cannot write {target}: {error.strerror or error}; "
                    "choose a file in a folder that exists and that you can write to"
                ) from None
            print(f"wrote {len(self.session.transcript)} turn(s) to {target}")
        else:
            raise UsageError(
                f"unknown %history action {args.action!r}; use show, restore or export"
            )

    def _refresh_history(self) -> None:
        """Bring every shown history widget up to date after a turn."""
        session = self._session
        if session is None:
            return
        for shown in self._histories:
            shown.refresh(session.transcript, messages=len(session.messages), spent=session.spent)

    @line_magic
    def reset(self, line: str) -> None:
        """Start a fresh conversation (backend, model and skills stay)."""
        self.session.reset()
        print("the conversation was reset")

    @magic_arguments()
    @argument(
        "notebook",
        nargs="?",
        help="Recorded notebook to answer from, or 'off'; default: this notebook.",
    )
    @line_magic
    def replay(self, line: str) -> None:
        """Answer from a notebook's recording instead of the API; tools still run for real."""
        args = parse_argstring(self.replay, line)
        if args.notebook == "off":
            self.session.client = self._new_client()
            print("replay is off; turns go to the Messages API")
            return
        notebook = resolve_notebook(args.notebook, self._namespace)
        self.session.client = _replay_client(notebook)
        print(f"replaying {len(self.session.client.turns)} recorded turn(s) from {notebook.name}")

    @line_magic
    def secret(self, line: str) -> None:
        """Mark environment variables whose values must never appear in saved output (in the
        Conjure kernel every output; after %load_ext, chat turns only)."""
        names = line.split()
        if not names:
            print("secret: " + ", ".join(sorted(self.redact.names)))
            return
        self.redact.add(*names)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    @property
    def _namespace(self) -> dict[str, Any] | None:
        return self.shell.user_ns if self.shell is not None else None

    def _new_client(self) -> ModelClient:
        """The model client; a traitlets Configurable one takes its settings from config."""
        client_class = self.client_class or import_item(DEFAULT_CLIENT)
        if issubclass(client_class, Configurable):
            return client_class(parent=self)
        return client_class()


def _finish_despite_interrupts(view: TurnView, record: TurnRecord | None) -> None:
    """Leave the turn's saved form in the cell even if ■ is pressed again meanwhile: the
    turn is over by now, and a cell cut short here would show "running…" for good."""
    while True:
        try:
            view.finish(record)
            return
        except KeyboardInterrupt:
            continue


def _kernel_id() -> str:
    """The running kernel's id (from its connection file's name); empty outside a kernel."""
    try:
        from ipykernel.connect import get_connection_file

        name = Path(get_connection_file()).stem
    except Exception:  # IPython in a terminal: no kernel, no connection file
        return ""
    return name.removeprefix("kernel-")


def _replay_client(notebook: Path) -> ReplayClient:
    turns = [turn.to_recorded_turn() for turn in read_turns(notebook) if turn.steps]
    if not turns:
        raise ConjureError(
            f"{notebook} holds no recorded turns", hint="run it once with an API key to record it"
        )
    return ReplayClient(turns, source=notebook.name)
