"""The backend contract, kept recognisable from the seed's ``Conjure.Backend``.

``backend_type``, ``new_session(skills, options)`` and ``chat(session, message,
api_callback, options)``; ``chat`` yields events, the last one ending the turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from anthropic.types import MessageParam

from ..clients.base import ModelClient
from ..conversation.events import Event
from ..conversation.loop import run_tool_loop
from ..skills.skill import Skill
from ..tools.executor import Executor

__all__ = [
    "Backend",
    "BackendSession",
    "ExecutorBackend",
    "ExecutorSession",
    "SessionOptions",
    "TurnOptions",
]


@dataclass(frozen=True)
class SessionOptions:
    """How a backend session is set up; each backend reads the fields it understands."""

    workdir: Path | None = None
    """Where tools run; the local backend defaults to the current directory."""
    tool_timeout: float = 300.0
    """Seconds before a single tool call is killed."""
    max_output_chars: int = 30_000
    """Tool output longer than this reaches the model shortened (head and tail kept)."""
    namespace: dict[str, Any] | None = None
    """The user's namespace, where the native backend finds NativeSkill subclasses."""
    settings: dict[str, str] = field(default_factory=dict)
    """Backend-specific ``key=value`` options given to ``%backend NAME key=value``."""


@dataclass
class TurnOptions:
    """One turn's parameters. ``history`` is the conversation; the turn appends to it in place."""

    model: str
    history: list[MessageParam]
    max_iterations: int = 25
    max_tokens: int = 16000


@runtime_checkable
class BackendSession(Protocol):
    """What a backend keeps for one conversation (a working directory, a container...)."""

    backend_type: str

    def describe(self) -> str:
        """One line for ``%backend``: where tools run."""
        ...


@runtime_checkable
class Backend(Protocol):
    """Where tool calls run. Third parties register in the ``conjure_kernel.backends`` group."""

    backend_type: ClassVar[str]

    def new_session(self, skills: Sequence[Skill], options: SessionOptions) -> BackendSession: ...

    def chat(
        self,
        session: BackendSession,
        message: str,
        api_callback: ModelClient,
        options: TurnOptions,
    ) -> AsyncIterator[Event]: ...

    async def close(self, session: BackendSession) -> None: ...


@dataclass(kw_only=True)
class ExecutorSession:
    """A backend session whose tools run client-side, through the shared tool-use loop."""

    backend_type: str
    workdir: Path
    executor: Executor = field(repr=False)
    system_prompt: str = field(repr=False)


class ExecutorBackend:
    """``chat`` and ``close`` for backends whose sessions are ``ExecutorSession``s."""

    async def chat(
        self,
        session: ExecutorSession,
        message: str,
        api_callback: ModelClient,
        options: TurnOptions,
    ) -> AsyncIterator[Event]:
        turn = run_tool_loop(
            message,
            api_callback,
            session.executor,
            system=session.system_prompt,
            model=options.model,
            history=options.history,
            max_iterations=options.max_iterations,
            max_tokens=options.max_tokens,
        )
        async with contextlib.aclosing(turn) as events:  # the loop's finally runs on early exit
            async for event in events:
                yield event

    async def close(self, session: ExecutorSession) -> None:
        await session.executor.aclose()
