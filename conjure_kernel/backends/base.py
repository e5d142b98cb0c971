"""The backend contract, kept recognisable from the seed's ``Conjure.Backend``.

``backend_type``, ``open_session(skills, options)`` (the seed's ``new_session``, async
because a container or a skill upload takes seconds) and ``chat(session, message,
api_callback, options)``, which yields events, the last one ending the turn. Each
backend declares its ``key=value`` settings; its session says how paths look from
the tools' side, for the system prompt and for replay's path mapping.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from ..clients.account import AccountClient
from ..clients.base import ModelClient
from ..clients.replay import Replay
from ..clients.server_tools import unserved_connector_calls_as_text
from ..events import Event, Notice
from ..mcp.connection import StdioPlace
from ..skills.skill import Skill
from ..tools.combined import CombinedTools
from ..tools.executor import Executor
from ..tools.printed_limits import MODEL_CHARS
from .gate import Gate, PermissionMode
from .loop import run_tool_loop
from .settings import BackendSettings

if TYPE_CHECKING:
    from anthropic.types import MessageParam

__all__ = [
    "Backend",
    "BackendSession",
    "ExecutorBackend",
    "ExecutorSession",
    "SessionOptions",
    "TurnOptions",
    "client_side_turn",
    "default_permission_mode",
    "skill_paths",
]


@dataclass(frozen=True)
class SessionOptions:
    """How a backend session is set up."""

    settings: BackendSettings | None = None
    """The backend's settings, parsed and checked (an instance of its ``settings`` class);
    None: its declared defaults."""
    max_output_chars: int = MODEL_CHARS
    """Tool output longer than this reaches the model shortened (head and tail kept)."""
    namespace: dict[str, Any] | None = None
    """The user's namespace, where the native backend finds NativeSkill subclasses."""
    secret_env_vars: AbstractSet[str] = frozenset()
    """Environment variables the tools must not see (secrets). Read at each command, not
    copied: a name added while the session is open is hidden from the next command on."""
    kernel_id: str = ""
    """The kernel that holds the session, for what a backend leaves on a shared engine:
    a sandbox names it, so it can be traced back."""
    setup: Callable[[Backend, Mapping[str, Any]], BackendSettings] | None = None
    """How the session sets a backend up from given settings, its configured defaults
    filled in: what a backend that opens others (hybrid) reads their settings with.
    None: given settings over the declared defaults."""


@dataclass
class TurnOptions:
    """One turn's parameters. ``messages`` is the conversation as the API takes it; the
    turn appends to it in place."""

    model: str
    messages: list[MessageParam]
    max_iterations: int = 25
    max_tokens: int = 16000
    gate: Gate | None = None
    """Decides, before each client-side tool call runs, whether it may; None: every call runs."""
    replay: Replay | None = None
    """The recording this turn answers from (the model client then streams it); None: live."""
    account: AccountClient | None = None
    """The account's Skills and Files APIs, for a backend that needs them (the hosted one
    uploads skills and downloads files through it); None: they cannot be reached."""
    more_tools: Executor | None = None
    """Tools offered beside the session's own this turn (the MCP servers'); a backend
    whose tools run client-side offers them through the same loop and gate."""


@runtime_checkable
class BackendSession(Protocol):
    """What a backend keeps for one conversation (a working directory, a container...)."""

    backend_type: str
    workdir: Path
    """The folder on this machine that the tools' files are in (or are downloaded to)."""
    environment: Mapping[str, str]
    """What the tools run on (an image's id, program versions): recorded with each turn,
    and compared by a replay."""
    leads_to: Callable[[str], str]
    """Where a path leads on this machine, links followed as the tools' workspace follows
    them: what a permission decision on a path is made on."""

    @property
    def paths(self) -> Mapping[str, str]:
        """Paths as the tools see them: ``workdir`` and ``skill:NAME`` for each skill."""
        ...

    def describe(self) -> str:
        """One line: where tools run, with the settings in force."""
        ...


@runtime_checkable
class Backend(Protocol):
    """Where tool calls run. Third parties register in the ``conjure_kernel.backends`` group,
    under an entry-point name equal to ``backend_type``.

    A backend may name its default permission mode as ``permission_mode``, or compute it
    from its settings with ``permission_mode_for`` (see ``default_permission_mode``);
    neither is part of the protocol, so a backend written before permissions existed
    still serves.
    """

    backend_type: ClassVar[str]
    settings_class: ClassVar[type[BackendSettings]]
    """Its ``key=value`` options: a frozen ``BackendSettings`` dataclass (``NoSettings``)."""

    async def open_session(
        self, skills: Sequence[Skill], options: SessionOptions
    ) -> BackendSession: ...

    def chat(
        self,
        session: BackendSession,
        message: str | list[dict[str, Any]],
        api_callback: ModelClient,
        options: TurnOptions,
    ) -> AsyncIterator[Event]: ...

    async def close(self, session: BackendSession) -> None: ...


def default_permission_mode(
    backend: Backend, settings: BackendSettings | None = None
) -> PermissionMode:
    """The mode a session on ``backend`` starts in: what the backend declares, else ``ask``,
    since an unknown backend may well run tools on this machine. A backend whose default
    depends on its settings (``local``: sandboxed or not) declares
    ``permission_mode_for(settings)``; ``permission_mode`` is then its default's."""
    for_settings = getattr(backend, "permission_mode_for", None)
    if for_settings is not None and settings is not None:
        return for_settings(settings)
    return getattr(backend, "permission_mode", "ask")


def skill_paths(skills: Sequence[Skill]) -> dict[str, str]:
    """``skill:NAME`` → the skill's folder on this machine, for sessions whose tools run here."""
    return {f"skill:{skill.name}": str(skill.root) for skill in skills}


@dataclass(kw_only=True)
class ExecutorSession:
    """A backend session whose tools run client-side, through the shared tool-use loop."""

    backend_type: str
    workdir: Path
    executor: Executor = field(repr=False)
    system_prompt: str = field(repr=False)
    skills: tuple[Skill, ...] = ()
    opening_notice: str = field(default="", repr=False)
    """What the person should hear once the session is open (no sandbox at all): its
    first turn says it. What happens to the sandbox later reaches the trace through each
    call's watch (``tools.call_watch``)."""
    environment: dict[str, str] = field(default_factory=dict, repr=False)
    """What the tools run on (an image's id, the host's program versions): each turn
    records it, and a replay says what differs."""
    leads_to: Callable[[str], str] = field(default=os.path.realpath, repr=False)
    """Where a file tool's path leads, links followed as its workspace follows them: what
    a permission decision on a path is made on (``tools.confined``)."""
    mcp_place: StdioPlace | None = field(default=None, repr=False)
    """Where a stdio MCP server starts (inside the sandbox); None: on this machine, in
    ``workdir``."""

    @property
    def paths(self) -> Mapping[str, str]:
        return {"workdir": str(self.workdir), **skill_paths(self.skills)}

    async def ready_for_programs(self) -> None:
        """Make ready what a program (a stdio MCP server) starts in: a sandbox made on
        first use (a container) is made now."""


def client_side_turn(
    message: str | list[dict[str, Any]],
    api_callback: ModelClient,
    executor: Executor,
    system: str,
    options: TurnOptions,
) -> AsyncIterator[Event]:
    """One turn of the shared client-side loop over ``executor``, as ``options`` set it:
    what a hosted MCP connector called, no longer served here, stays as text."""
    options.messages[:] = unserved_connector_calls_as_text(options.messages, frozenset())
    return run_tool_loop(
        message,
        api_callback,
        executor,
        system=system,
        model=options.model,
        messages=options.messages,
        max_iterations=options.max_iterations,
        max_tokens=options.max_tokens,
        replay=options.replay,
        gate=options.gate,
    )


class ExecutorBackend:
    """``chat`` and ``close`` for backends whose sessions are ``ExecutorSession``s."""

    async def chat(
        self,
        session: ExecutorSession,
        message: str | list[dict[str, Any]],
        api_callback: ModelClient,
        options: TurnOptions,
    ) -> AsyncIterator[Event]:
        executor = session.executor
        if options.more_tools is not None:  # closed by its owner, not with the turn
            executor = CombinedTools(executor, options.more_tools)
        turn = client_side_turn(message, api_callback, executor, session.system_prompt, options)
        if session.opening_notice:
            yield Notice(session.opening_notice, "warning")
            session.opening_notice = ""
        async with contextlib.aclosing(turn) as events:  # the loop's finally runs on early exit
            async for event in events:
                yield event

    async def close(self, session: ExecutorSession) -> None:
        await session.executor.aclose()
