"""The hosted backend: Claude runs code and skills in Anthropic's own sandbox.

No local infrastructure: each request carries the code-execution tool and a
``container`` naming the skills to mount there, Anthropic's own (xlsx, pptx, docx, pdf)
by name and the session's local skills once uploaded (``clients.skills_api``). The API
runs the tools itself, so this backend has its own loop instead of the client-side one
(``hosted_turn``). What a turn does beside the model's answer (uploads, the container,
downloads) is live or recorded (``hosting``): on replay nothing is uploaded, downloaded
or sent, and hosted calls and their files come from the recording.

The container is kept from turn to turn while it lives. One that expired (by its
``expires_at``, or refused by the API) is replaced by a new one with a notice, since
its files and state are gone, and the turn goes on. Permission rules do not apply to
code execution: nothing runs on this machine, and the API runs its tools before any gate
could be asked. The URL MCP servers the API's connector may call are decided on by the
rules and the person before a request names them (``hosted_mcp``).

This module sets a session up and checks all it can before anything is sent;
``hosted_session`` holds the session, ``hosted_turn`` runs a turn on it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any, ClassVar

from ..clients.base import ModelClient
from ..clients.skills_api import upload_problems
from ..errors import BackendError, SkillError
from ..events import Event
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from .anthropic_settings import AnthropicSettings
from .base import SessionOptions, TurnOptions
from .gate import PermissionMode
from .hosted_session import AnthropicSession
from .hosted_turn import HostedTurn
from .hosting import hosting_for
from .local import host_workdir

__all__ = ["AnthropicBackend", "AnthropicSession"]

ENVIRONMENT = (
    "Your code runs in Anthropic's code-execution sandbox, not on the user's machine; "
    "the files your code writes there are downloaded for the user."
)


class AnthropicBackend:
    """Runs code and skills in Anthropic's hosted sandbox; files come back to the workdir."""

    backend_type: ClassVar[str] = "anthropic"
    permission_mode: ClassVar[PermissionMode] = "auto"
    """Nothing runs on this machine, and the API runs its tools before any gate could ask."""
    settings_class: ClassVar[type[AnthropicSettings]] = AnthropicSettings

    async def open_session(
        self, skills: Sequence[Skill], options: SessionOptions
    ) -> AnthropicSession:
        """Check everything that can be checked before anything is sent.

        The skill references, the number of skills one request may carry, what the
        Skills API would refuse in each local skill, and the download folder: a bad one
        fails here, so ``%backend anthropic`` leaves the current backend in place.
        """
        settings = AnthropicSettings.of(options.settings)
        remote = settings.remote_skills
        _check_count(len(skills), len(remote), settings.max_skills)
        problems = [problem for skill in skills for problem in upload_problems(skill)]
        if problems:
            raise SkillError(
                "the Skills API would refuse these skills: " + "; ".join(problems),
                hint="fix each SKILL.md or folder named; the Skills API is stricter than local loading",
            )
        return AnthropicSession(
            workdir=host_workdir(settings.workdir),
            tool=settings.tool,
            skills=tuple(skills),
            remote=remote,
            max_continuations=settings.max_continuations,
            max_output_chars=options.max_output_chars,
            system_prompt=render_system_prompt((), location=str, environment=ENVIRONMENT),
        )

    async def chat(
        self,
        session: AnthropicSession,
        message: str | list[dict[str, Any]],
        api_callback: ModelClient,
        options: TurnOptions,
    ) -> AsyncIterator[Event]:
        hosting = hosting_for(session, options)
        turn = HostedTurn(session, api_callback, options, hosting).run(message)
        async with contextlib.aclosing(turn) as events:  # its finally runs on early exit
            async for event in events:
                yield event

    async def close(self, session: AnthropicSession) -> None:
        """Nothing runs on this machine; the container expires by itself on Anthropic's side."""
        session.container = None


def _check_count(local: int, remote: int, limit: int) -> None:
    if local + remote > limit:
        raise BackendError(
            f"{local + remote} skills would go into each request ({local} local, {remote} from "
            f"the skills setting), but one request may carry at most {limit}",
            hint="load fewer skills, or raise the max_skills setting if the API allows more",
        )
