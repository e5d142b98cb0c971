"""A conversation with Claude: messages, backend, skills, usage, files, transcript,
permissions and budget.

The session outlives backends: switching backend between turns closes the old backend
session and keeps the messages, so the conversation goes on wherever tools now run. Its
permissions follow: a mode left unset is the new backend's default. Each turn gets a
gate that applies them (asking through the caller's ``ask``, or denying when there is
none) and a model client that stops before a call the budget does not cover.

Its collaborators are given, never guessed: the model ``client``; the ``account``, whose
Skills and Files APIs the hosted backend uses; while replaying, the ``replay``, which
each turn carries and whose recorded model answers, outside the budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Any

from ..backends.base import (
    Backend,
    BackendSession,
    SessionOptions,
    TurnOptions,
    default_permission_mode,
)
from ..backends.gate import PermissionMode, strictest
from ..backends.hybrid_session import HybridSession
from ..backends.mcp_sources import mcp_tools_for
from ..backends.registry import get_backend
from ..backends.settings import BackendSettings
from ..clients.account import AccountClient
from ..clients.base import ModelClient, Usage
from ..clients.pricing import Spend
from ..clients.recorded_model import RecordedModel
from ..clients.replay import Replay
from ..errors import ConjureError, SkillError, TurnInterrupted
from ..events import Event, FileCreated, Notice, ToolCallFinished, TurnFailed, TurnStarted
from ..mcp.registry import McpServers
from ..skills.skill import Skill, loaded_line
from ..tools.printed_limits import MODEL_CHARS
from .budget import Budget, BudgetedClient, BudgetGuard, steps_spend, turn_spend
from .context import ContextKeeper
from .context_client import ContextClient
from .permissions import Permissions
from .places import Places
from .routed_gate import RoutedGate
from .rules import Rule
from .runner import TurnRunner, interrupts_held
from .session_gate import Approval, ApprovalRequest, Asker, SessionGate
from .transcript import TurnChange, TurnRecord, TurnRecorder

if TYPE_CHECKING:
    from anthropic.types import MessageParam

__all__ = ["Session"]


class Session:
    """Owns one conversation; ``chat`` runs a turn and yields its events."""

    def __init__(
        self,
        *,
        client: ModelClient,
        model: str,
        account: AccountClient | None = None,
        replay: Replay | None = None,
        backend: str | Backend = "local",
        skills: Iterable[Skill] = (),
        settings: Mapping[str, Any] | None = None,
        shared_settings: Mapping[str, Any] | None = None,
        backend_settings: Mapping[str, Mapping[str, Any]] | None = None,
        namespace: dict[str, Any] | None = None,
        secret_env_vars: AbstractSet[str] = frozenset(),
        max_output_chars: int = MODEL_CHARS,
        max_iterations: int = 25,
        max_tokens: int = 16000,
        permissions: Permissions | None = None,
        budget: Budget | None = None,
        kernel_id: str = "",
    ) -> None:
        self.client = client
        """The model client of live turns."""
        self.account = account
        """The account's Skills and Files APIs (None: the hosted backend cannot reach them)."""
        self.model = model
        self.skills: list[Skill] = list(skills)
        self.shared_settings: dict[str, Any] = dict(shared_settings or {})
        """Configured defaults of every backend that declares them (``workdir``, ``timeout``)."""
        self.backend_settings = {name: dict(v) for name, v in (backend_settings or {}).items()}
        """Configured defaults of one backend, by its name; they win over the shared ones."""
        self.namespace = namespace
        self.secret_env_vars = secret_env_vars
        """Environment variables the tools must not see; a live set that may grow."""
        self.max_output_chars = max_output_chars
        self.max_iterations = max_iterations
        self.max_tokens = max_tokens
        self.kernel_id = kernel_id
        """The kernel that holds the conversation; backends label what they make with it."""
        if replay is not None and replay.backend and replay.backend != _name_of(backend):
            backend, settings = replay.backend, {}  # the replay holds the tools there
        self.backend = get_backend(backend) if isinstance(backend, str) else backend
        self.options = self._options_for(self.backend, settings or {})
        self.replay = replay
        """The recording turns answer from; None: they go to ``client`` (see ``use_replay``)."""
        self.permissions = permissions or Permissions("auto")
        """A script's session runs every tool unless told otherwise; the notebook passes the
        configured permissions, whose unset mode is the backend's default."""
        self.budget = budget or Budget()
        self.context = ContextKeeper()
        """The model options, and what makes the conversation fit the model's window."""
        self.spent = Spend()
        """What the notebook's turns have cost, restored ones included; kept across reset."""
        self.messages: list[MessageParam] = []
        self.transcript: list[TurnRecord] = []
        self.usage = Usage()
        self.files: list[str] = []
        self.mcp = McpServers()  # their tools are offered beside the backend's
        self._backend_session: BackendSession | None = None
        self._runner: TurnRunner | None = None

    @property
    def backend_name(self) -> str:
        return self.backend.backend_type

    @property
    def backend_session(self) -> BackendSession:
        """The backend's state for this conversation, opened on first use."""
        if self._backend_session is None:
            self._backend_session = self.runner.run(
                self.backend.open_session(self.skills, self.options)
            )
        return self._backend_session

    @property
    def permission_mode(self) -> PermissionMode:
        """The mode in force: the one set, else the backend's default for its settings (on
        a hybrid session, the strictest of its routes')."""
        routes = self.route_modes
        if self.permissions.mode or not routes:
            return self.permissions.mode or default_permission_mode(
                self.backend, self.options.settings
            )
        return strictest(routes.values())

    @property
    def route_modes(self) -> dict[str, PermissionMode]:
        """Each route's default mode, by backend, on an open hybrid session; else empty."""
        opened = self._backend_session
        if not isinstance(opened, HybridSession):
            return {}
        routes = opened.routes.values()
        return {
            route.name: default_permission_mode(route.backend, route.settings) for route in routes
        }

    def add_skills(self, skills: Sequence[Skill]) -> None:
        """Add or replace (by name) skills; the next turn sees the new catalog."""
        names = {skill.name for skill in skills}
        self.skills = [s for s in self.skills if s.name not in names] + list(skills)
        self._drop_backend_session()

    def remove_skills(self, names: Sequence[str]) -> None:
        """Take skills out of the conversation by name; the next turn's catalog lacks them.

        Nothing is removed when a name is not loaded: a ``SkillError`` names it and the
        skills that are.
        """
        loaded = [skill.name for skill in self.skills]
        unknown = [name for name in names if name not in loaded]
        if unknown:
            raise SkillError(f"no skill named {unknown[0]!r} is loaded ({loaded_line(loaded)})")
        self.skills = [skill for skill in self.skills if skill.name not in names]
        self._drop_backend_session()

    def switch_backend(
        self, backend: str | Backend, settings: Mapping[str, Any] | None = None
    ) -> bool:
        """Run the next turns on another backend (or the same one, set up anew), keeping
        the conversation; False when a replay holds the tools where they are.

        Settings are checked and the new backend session is opened first, so a bad value
        or a backend that cannot start (an engine that is down) fails here and the
        current backend stays in place. While a replay holds the tools on its backend, a
        switch to another is overridden (its settings are still checked): the next turn
        says so, once per backend. Its ``workdir`` carries over, so the tools work in the
        folder the notebook meant; no other setting does.
        """
        held = self.replay.backend if self.replay is not None else ""
        if held and _name_of(backend) != held:
            new_backend = get_backend(backend) if isinstance(backend, str) else backend
            self._options_for(new_backend, settings or {})
            self.replay.override(_name_of(backend))
            carried = _carried(settings or {}, self.backend)
            current = self.options.settings
            if carried and current is not None:
                self._switch_to(self.backend, {**dataclasses.asdict(current), **carried})
            return False
        self._switch_to(backend, settings)
        return True

    def _switch_to(self, backend: str | Backend, settings: Mapping[str, Any] | None) -> None:
        new_backend = get_backend(backend) if isinstance(backend, str) else backend
        new_options = self._options_for(new_backend, settings or {})
        new_session = self.runner.run(new_backend.open_session(self.skills, new_options))
        self._drop_backend_session()
        self.backend, self.options, self._backend_session = new_backend, new_options, new_session

    def use_replay(self, replay: Replay | None) -> None:
        """Answer the next turns from ``replay``'s recording (None: from ``client`` again).

        A replay that holds the tools on a backend switches there first; if that backend
        cannot start, the error is raised and nothing changes.
        """
        if replay is not None and replay.backend and replay.backend != self.backend_name:
            self._switch_to(replay.backend, None)
        self.replay = replay

    def settings_for(
        self, backend: Backend, given: Mapping[str, Any] | None = None
    ) -> BackendSettings:
        """What ``backend`` is set up with: ``given``, else its configured defaults, else
        its declared ones."""
        name = backend.backend_type
        defaults = {**self.shared_settings, **self.backend_settings.get(name, {})}
        return backend.settings_class.parse(given, defaults, backend=name)

    def _options_for(self, backend: Backend, settings: Mapping[str, Any]) -> SessionOptions:
        values = self.settings_for(backend, settings)
        return SessionOptions(
            values,
            self.max_output_chars,
            self.namespace,
            self.secret_env_vars,
            self.kernel_id,
            setup=self.settings_for,
        )

    def reset(self) -> None:
        """Forget the conversation and start the backend afresh; keep backend, skills and model.

        The backend session is closed, so what the tools left running (background
        jobs, a container's processes) stops with the conversation that started it.
        """
        self._forget()
        self._drop_backend_session()

    def _forget(self) -> None:
        self.context.reset()
        self.messages.clear()
        self.transcript.clear()
        self.usage = Usage()
        self.files.clear()

    def restore(self, records: Sequence[TurnRecord]) -> None:
        """Rebuild the conversation from saved turns (after a kernel restart)."""
        self._forget()
        for record in records:
            self.messages.extend(record.added_messages())  # type: ignore[arg-type]
            self.usage = self.usage + record.usage
        # Restored thinking is not sent again: a saved turn's thinking may have been
        # redacted (a secret in it), which breaks its signature, and the model reads only
        # the thinking of the turn under way.
        self.context.reset(thinking_cut=len(self.messages))
        self.transcript.extend(records)
        self.spent = sum((turn_spend(record) for record in records), Spend())

    async def chat(
        self,
        message: str,
        *,
        ask: Asker | None = None,
        cell_spent: Spend | None = None,
        sent: str | list[dict[str, Any]] | None = None,
        recorder: TurnRecorder | None = None,
    ) -> AsyncIterator[Event]:
        """Run one turn; a ``ConjureError`` ends it with ``TurnFailed`` instead of raising.

        ``sent`` is what the model gets instead of ``message`` (the notebook's values filled
        in); the record keeps both. A replayed turn sends what its recording sent.

        ``ask`` answers permission questions (None: no one can be asked, so a call that
        needs asking is denied at once); ``cell_spent`` is what earlier turns of the same
        cell cost, for the cell's budget.

        The turn's recorder folds each event on the thread that consumes it: here, as it is
        yielded, and the record is saved when the turn ends. A caller on another thread
        passes the ``recorder`` it folds into itself (``chat_sync``), and saves the record;
        ``chat`` then only tells it what the turn learns beside its events.
        """
        folds_here = recorder is None
        if recorder is None:
            recorder = TurnRecorder(skills=self._skill_hashes(), paths={})
        fold = recorder.add if folds_here else _folded_by_caller
        replay = self.replay
        options = TurnOptions(self.model, self.messages, self.max_iterations, self.max_tokens)
        options.replay, options.account = replay, self.account
        guard = BudgetGuard(self.budget, cell=cell_spent or Spend(), notebook=self.spent)
        inner = RecordedModel(replay) if replay is not None else BudgetedClient(self.client, guard)
        client = ContextClient(inner, self.context)
        started = TurnStarted(message, self.backend_name, self.model)
        fold(started)
        yield started
        try:
            if self._backend_session is None:
                self._backend_session = await self.backend.open_session(self.skills, self.options)
            backend_session = self._backend_session
            paths = dict(backend_session.paths)
            recorder.paths.update(paths)
            recorder.environment.update(backend_session.environment)
            if replay is not None:
                sent = replay.prepare_turn(message, paths).sent
            content = message if sent is None else sent
            if content != message:
                recorder.sent = content
            options.gate = self._gate_for(backend_session, ask, replay)
            limit = self.max_output_chars
            options.more_tools, failed = await mcp_tools_for(
                self.mcp, backend_session, limit, replay
            )
            options.gate.outside = options.more_tools.outside if options.more_tools else {}
            unchecked = self.budget.unchecked(self.model) if replay is None else ""
            notices = [Notice(line, "warning") for line in [*failed, unchecked] if line]
            overridden = replay.untold_overrides() if replay is not None else ""
            notices += [Notice(overridden)] if overridden else []
            for event in notices:
                fold(event)
                yield event
            async for event in self.backend.chat(backend_session, content, client, options):
                fold(event)
                self._observe(event)
                yield event
        except ConjureError as error:
            failed = TurnFailed(error)
            fold(failed)
            yield failed
        except (asyncio.CancelledError, KeyboardInterrupt):
            if folds_here:
                recorder.interrupted()
            raise
        finally:
            if folds_here:
                self._finish(recorder, replay)

    def chat_sync(
        self,
        message: str,
        *,
        ask: Callable[[ApprovalRequest], Approval] | None = None,
        cell_spent: Spend | None = None,
        idle: Callable[[], None] | None = None,
        changed: Callable[[TurnChange], None] | None = None,
        sent: str | list[dict[str, Any]] | None = None,
    ) -> Iterator[Event]:
        """``chat`` for synchronous callers; Ctrl-C raises ``TurnInterrupted``.

        The turn runs on the runner's loop; its recorder folds each event here, on the
        calling thread, as it arrives, and ``changed`` is told of each fold, so a view
        reads a timeline that no other thread writes. ``ask`` is called on the calling
        thread too (where a kernel can read the person's answer), in order with the
        events; so is ``idle``, while no event comes. The record is saved once the turn
        is over: interrupted, if the iterator stopped before the turn's end (Ctrl-C, or
        ``close``).
        """
        recorder = TurnRecorder(skills=self._skill_hashes(), paths={})
        replay = self.replay

        async def asker(request: ApprovalRequest) -> Approval:
            assert ask is not None
            return await self.runner.on_caller_thread(lambda: ask(request))

        folded = self.runner.iterate(
            lambda: self.chat(
                message,
                ask=asker if ask else None,
                cell_spent=cell_spent,
                sent=sent,
                recorder=recorder,
            ),
            idle=idle,
            receive=lambda event: (event, recorder.add(event)),
        )
        stopped = False
        try:
            for event, change in folded:
                if changed is not None and change is not None:
                    changed(change)
                yield event
        except (TurnInterrupted, KeyboardInterrupt, GeneratorExit):
            stopped = True
            raise
        finally:
            with interrupts_held():  # the turn is over: its record is saved whatever comes
                folded.close()  # stops the turn if it still runs, folding what it sent
                if stopped:
                    recorder.interrupted()
                self._finish(recorder, replay)

    @property
    def runner(self) -> TurnRunner:
        if self._runner is None:
            self._runner = TurnRunner()
        return self._runner

    def close(self) -> None:
        self.mcp.close()
        self._drop_backend_session()
        if self._runner is not None:
            self._runner.close()
            self._runner = None

    def _gate_for(
        self, backend_session: BackendSession, ask: Asker | None, replay: Replay | None
    ) -> SessionGate | RoutedGate:
        """The turn's gate: the session's rules, the mode in force and its backend's places;
        on a hybrid session, one such gate per route, each with its own backend's."""

        def gate(name: str, opened: BackendSession, mode: PermissionMode) -> SessionGate:
            recorded = replay.recorded_decisions(name) if replay is not None else {}
            places = Places.of(opened.paths, self.skills, opened.leads_to, str(opened.workdir))
            return SessionGate(
                self.permissions,
                mode,
                places,
                name,
                ask,
                remember=self._remember,
                recorded=recorded,
            )

        if isinstance(backend_session, HybridSession):
            modes = self.route_modes
            gates = {
                name: gate(name, route.session, self.permissions.mode or modes[name])
                for name, route in backend_session.routes.items()
            }
            return RoutedGate(gates, backend_session.route_of)
        return gate(self.backend_name, backend_session, self.permission_mode)

    def _remember(self, rule: Rule) -> None:
        """An "always" answer: the rule holds for the rest of the session."""
        self.permissions = self.permissions.adding(allow=[rule])

    def _observe(self, event: Event) -> None:
        if isinstance(event, ToolCallFinished) and event.call.name == "create_file":
            path = str(event.call.input.get("path", ""))
            if path and not event.result.is_error and path not in self.files:
                self.files.append(path)
        elif isinstance(event, FileCreated) and event.path not in self.files:
            self.files.append(event.path)  # a download from a hosted sandbox

    def _finish(self, recorder: TurnRecorder, replay: Replay | None) -> None:
        """Save the turn's record, if it started, with its spend (or its replay's drift)."""
        record = recorder.finished()
        if record is None:
            return
        self.usage = self.usage + record.usage
        if replay is None:
            record.spend = steps_spend(record.steps, record.model)
            self.spent = self.spent + record.spend
            record.total_spend = self.spent
        else:  # a replayed turn costs nothing
            record.replayed = True
            record.model = next((step.model for step in record.steps if step.model), record.model)
            drifts = replay.drift(record.tool_calls, len(record.steps))
            record.drift = [drift.to_json() for drift in drifts]
            record.skills_changed = replay.changed_skills(record.skills)
            record.environment_changed = replay.changed_environment(record.environment)
        self.transcript.append(record)

    def _skill_hashes(self) -> dict[str, str]:
        return {skill.name: skill.content_hash() for skill in self.skills}

    def _drop_backend_session(self) -> None:
        session, self._backend_session = self._backend_session, None
        if session is None:
            return
        with contextlib.suppress(Exception):
            self.runner.run(self.backend.close(session))


def _carried(settings: Mapping[str, Any], held: Backend) -> dict[str, Any]:
    """What of another backend's ``settings`` the ``held`` one takes: only the folder the
    notebook meant (``workdir``), never a setting that would change its boundary."""
    declared = {item.name for item in held.settings_class.declared()}
    return (
        {"workdir": settings["workdir"]} if "workdir" in settings and "workdir" in declared else {}
    )


def _name_of(backend: str | Backend) -> str:
    return backend if isinstance(backend, str) else backend.backend_type


def _folded_by_caller(event: Event) -> None:
    """``chat``'s fold when its caller folds the events on its own thread (``chat_sync``)."""
