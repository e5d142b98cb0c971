"""The chat magic and the settings: one class serves the Conjure kernel and ``%load_ext``.

``ConjureMagics`` holds the session, sends it chat messages (``%conjure``) and keeps the
``%secret`` names; the other magics live beside it, one class per job, each created here with this class as its
``conjure`` and registered with it: ``GuardMagics`` (``%permissions``, ``%budget``),
``BackendMagics`` (``%backend``, ``%model``), ``SkillMagics`` (``%skills``) and
``HistoryMagics`` (``%history``, ``%replay``, ``%reset``).

Settings are traitlets, so ``c.ConjureMagics.model = ...`` in ``ipython_config.py`` (or the
kernel's config) sets defaults and ``%config ConjureMagics`` shows them. The environment
variables ``CONJURE_BACKEND``, ``CONJURE_MODEL`` and ``CONJURE_SKILLS_PATH`` win over
configuration, so a single run can be steered from the shell.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, no_var_expand
from traitlets import (
    Bool,
    Dict,
    Enum,
    Float,
    Int,
    List,
    TraitError,
    Type,
    Unicode,
    observe,
    validate,
)
from traitlets.config import Configurable
from traitlets.utils.importstring import import_item

from ..backends.registry import get_backend
from ..clients.base import DEFAULT_MODEL, ModelClient
from ..clients.model_options import EFFORTS, THINKING_MODES, ModelOptions
from ..errors import ConjureError, TurnInterrupted
from ..skills.discovery import find_skills
from .backend_magics import BackendMagics
from .context_magics import ContextMagics
from .failures import cell_failure
from .frontends import kernel_id, widget_manager_connected
from .guard_magics import GuardMagics
from .history_magics import HistoryMagics, environment_replay
from .mcp_magics import McpMagics
from .notebook_data import NotebookData, chat_options
from .secrets import Redactor
from .skill_magics import SkillMagics

if TYPE_CHECKING:
    from ..clients.account import AccountClient
    from ..conversation.session import Session
    from .chat_answer import ChatAnswer

# What a cell needs only when it first needs it is imported there, not here: the kernel
# loads this module at start, and the SDK and nbformat would add seconds.
DEFAULT_CLIENT = "conjure_kernel.clients.anthropic_client.AnthropicClient"
DEFAULT_VIEW = "conjure_kernel.notebook.display.LiveTurnView"
WIDGET_VIEW = "conjure_kernel.notebook.widgets.TraceWidget"

__all__ = ["ConjureMagics"]


@magics_class
class ConjureMagics(Magics):
    """Chat with Claude from cells; the settings every session starts from."""

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
    effort = Enum(
        ("default", *EFFORTS),
        "default",
        help="How hard the model works on each step (output_config.effort), where it takes "
        "an effort; default: the model's own. %model NAME effort=… sets it.",
    ).tag(config=True)
    thinking = Enum(
        THINKING_MODES,
        "auto",
        help="auto: summarised thinking, shown in the trace, where the model thinks; on: ask "
        "for it; off: turn it off where the model allows. %model NAME thinking=… sets it.",
    ).tag(config=True)
    context_window = Int(
        0,
        min=0,
        help="Input tokens a request may hold before the conversation is made to fit "
        "(old tool results cleared, early turns compacted); 0: the model's own window.",
    ).tag(config=True)
    timeout = Float(
        300.0, help="Seconds before one tool call is killed: every backend's timeout= default."
    ).tag(config=True)
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
        f"(update(change), finish(record)); None means {WIDGET_VIEW} where the frontend draws "
        f"widgets, else {DEFAULT_VIEW}.",
    ).tag(config=True)

    def __init__(self, shell=None, **kwargs) -> None:
        self._session: Session | None = None
        self._started = False
        super().__init__(shell=shell, **kwargs)
        self._started = True
        self._apply_environment()
        self.redact = Redactor(self.secret_env_vars)
        self.guard = GuardMagics(shell=shell, conjure=self)
        """``%permissions`` and ``%budget``, and their configuration; registered beside this."""
        self.backend_magics = BackendMagics(shell=shell, conjure=self)
        """``%backend`` and ``%model``; registered beside this."""
        self.skill_magics = SkillMagics(shell=shell, conjure=self)
        """``%skills``; registered beside this."""
        self.history_magics = HistoryMagics(shell=shell, conjure=self)
        """``%history``, ``%replay`` and ``%reset``; registered beside this."""
        self.context_magics = ContextMagics(shell=shell, conjure=self)
        """``%context`` and ``%compact``; registered beside this."""
        self.data = NotebookData(shell)
        """The notebook's variables in messages, answers into variables, the last error."""
        self.mcp_magics = McpMagics(shell=shell, conjure=self)
        """``%mcp`` and the configured MCP servers; registered beside this."""

    @observe("model")
    def _model_changed(self, change: dict[str, Any]) -> None:
        """``%config ConjureMagics.model = …`` mid-session applies from the next turn."""
        if self._session is not None:
            self._session.model = change["new"]

    @property
    def model_options(self) -> ModelOptions:
        """The effort and thinking set with ``%model`` or configured (``effort``, ``thinking``)."""
        return ModelOptions(None if self.effort == "default" else self.effort, self.thinking)

    @model_options.setter
    def model_options(self, options: ModelOptions) -> None:
        self.effort, self.thinking = options.effort or "default", options.thinking

    @observe("effort", "thinking")
    def _model_options_changed(self, change: dict[str, Any]) -> None:
        if self._session is not None:
            self._session.context.options = self.model_options

    @observe("context_window")
    def _context_window_changed(self, change: dict[str, Any]) -> None:
        if self._session is not None:
            self._session.context.window_limit = change["new"] or None

    @validate("backend_settings")
    def _valid_backend_settings(self, proposal: Any) -> dict[str, dict[str, Any]]:
        """``%config`` of ``backend_settings`` is refused, naming the bad value, and the
        old value stays. (The configuration read at start is checked when the session is
        made, so a bad value there fails the cells that need it, not the kernel's start.)"""
        if self._started:
            _check_backend_settings(proposal["value"], TraitError)
        return proposal["value"]

    @observe("workdir", "timeout", "backend_settings")
    def _backend_defaults_changed(self, change: dict[str, Any]) -> None:
        """``%config`` of a backend default mid-session applies from the next ``%backend``
        (or ``%reset``), when a backend session opens with it."""
        if self._session is not None:
            self._session.shared_settings = self._shared_settings()
            self._session.backend_settings = self.backend_settings

    def _shared_settings(self) -> dict[str, Any]:
        return {"workdir": self.workdir, "timeout": self.timeout}

    def _checked_backend_settings(self) -> dict[str, dict[str, Any]]:
        _check_backend_settings(self.backend_settings, UsageError)
        return self.backend_settings

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
        replay = environment_replay(self.user_namespace)
        client, account = self._new_clients()
        from ..conversation.session import Session

        session = Session(
            client=client,
            account=account,
            replay=replay,
            model=self.model,
            backend=self.default_backend,
            shared_settings=self._shared_settings(),
            backend_settings=self._checked_backend_settings(),
            kernel_id=kernel_id(),
            namespace=self.user_namespace,
            secret_env_vars=self.redact.names,  # %secret names: hidden from the tools as they grow
            max_iterations=self.max_iterations,
            max_tokens=self.max_tokens,
            permissions=self.guard.configured_permissions(),
            budget=self.guard.configured_budget(),
        )
        session.context.facts = self.backend_magics.model_facts
        session.context.options = self.model_options
        self.mcp_magics.configure(session)
        session.context.window_limit = self.context_window or None
        if self.skills_path:
            found = find_skills(self.skills_path)
            session.add_skills(found.skills)
            for problem in found.problems:
                print(f"skill {problem.severity}: {problem}", file=sys.stderr)
        return session

    # -- chat ---------------------------------------------------------------------------

    @no_var_expand  # the kernel fills {…} itself, keeps {{ and $, and records the words typed
    @line_cell_magic
    def conjure(self, line: str, cell: str | None = None) -> None:
        """Send a message to Claude: ``%conjure [-o NAME] MESSAGE`` or a ``%%conjure [-o NAME]``
        cell. ``{name}`` and ``{expression}`` in it are filled from the notebook's variables
        (``{{`` for a brace); ``-o NAME`` keeps the answer in NAME, and ``_conjure`` always
        holds the last; ``%conjure fix [WORDS]`` sends the last Python error and asks for a fix."""
        name, fix, rest = chat_options(line)
        if cell is not None and rest.strip():
            raise UsageError(
                f"%%conjure takes only -o NAME or fix on its first line, not {rest.strip()!r}: "
                "write the message below it"
            )
        message = (cell if cell is not None else rest).strip()
        if fix:
            self._fix(message, name)
            return
        if not message:
            raise UsageError(
                "write a message: %conjure MESSAGE, or %%conjure with the message below"
            )
        replaying = self.session.replay is not None  # the recording says what was sent
        self.chat(message, output=name, sent=None if replaying else self.data.filled(message))

    def _fix(self, extra: str, name: str | None) -> None:
        """Send the last error and its cell; offer the answer's code as the next cell."""
        replaying = self.session.replay is not None
        sent = None if replaying else self.data.fix_request(extra)
        answer = self.chat(" ".join(["%conjure fix", extra]).strip(), output=name, sent=sent)
        if answer is not None:
            self.data.offer_code(answer)

    def chat(
        self,
        message: str,
        *,
        output: str | None = None,
        sent: str | list[dict[str, Any]] | None = None,
    ) -> ChatAnswer | None:
        """Run one turn, showing it live; a failed turn raises so Run All stops here.

        ``sent`` is what the model gets instead of ``message``; the answer goes to
        ``_conjure``, and to ``output`` when named. The session's recorder folds each
        event on this thread and then tells the view, which lays out its timeline.
        """
        from .views import TurnView, finish_despite_interrupts

        view = self._view_class()(self.redact)
        if not isinstance(view, TurnView):
            raise UsageError(
                f"ConjureMagics.view_class {type(view).__name__} is not a TurnView: it needs "
                "update(change) and finish(record)"
            )
        session = self.session
        session.max_iterations, session.max_tokens = self.max_iterations, self.max_tokens
        turns_before = len(session.transcript)
        self.data.list_workdir(session)
        events = session.chat_sync(
            message,
            ask=self.guard.asker(view),
            cell_spent=self.guard.cell_spent(),
            idle=getattr(view, "idle", None),
            changed=view.update,
            sent=sent,
        )
        failure: BaseException | None = None
        try:
            for event in events:
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
            if failure is not None:  # worded for the notebook; not repeated under the turn
                failure = cell_failure(self.shell, failure, record)
            finish_despite_interrupts(view, record)
            self.history_magics.refresh()
        if failure is not None:
            raise failure
        if record is None:
            return None
        return self.data.keep_answer(session.transcript[-1], output)

    def _view_class(self) -> type:
        """The configured view; else the widget trace where a widget manager listens (the
        saved notebook gets the same bundle either way), else the HTML view."""
        if self.view_class is not None:
            return self.view_class
        return import_item(WIDGET_VIEW if widget_manager_connected() else DEFAULT_VIEW)

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
        self.data.close()
        if self._session is not None:
            self._session.close()

    @property
    def user_namespace(self) -> dict[str, Any] | None:
        """The notebook's variables (native tools use them; VS Code names the notebook there)."""
        return self.shell.user_ns if self.shell is not None else None

    def _new_clients(self) -> tuple[ModelClient, AccountClient]:
        """The model client and the account client: one Anthropic client serves both,
        unless another model client is configured. A traitlets ``Configurable`` client
        takes its settings from config."""
        account = self._configured(import_item(DEFAULT_CLIENT))
        if self.client_class is None:
            return account, account
        return self._configured(self.client_class), account

    def _configured(self, client_class: type) -> Any:
        if issubclass(client_class, Configurable):
            return client_class(parent=self)
        return client_class()


def _check_backend_settings(configured: dict[str, dict[str, Any]], raised: type[Exception]) -> None:
    """Each backend's configured defaults, checked by its settings class, so a typo or a
    bad value names the configuration it is in, not a later ``%backend``."""
    for name, values in configured.items():
        try:
            get_backend(name).settings_class.parse(values, backend=name)
        except ConjureError as error:
            raise raised(
                f"ConjureMagics.backend_settings[{name!r}]: {error}; fix it in the "
                "configuration, or with %config ConjureMagics.backend_settings = {…}"
            ) from None
