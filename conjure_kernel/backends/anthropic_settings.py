"""The anthropic backend's settings: Anthropic-side skills, the code-execution tool, limits."""

from __future__ import annotations

from dataclasses import dataclass

from ..clients.request_params import CODE_EXECUTION_TOOLS
from ..clients.skills_api import parse_skill_refs
from .settings import BackendSettings, setting

__all__ = ["MAX_SKILLS", "AnthropicSettings"]

MAX_SKILLS = 8
"""Skills one request may carry, by the (beta-era) Skills guide; the GA limit is unconfirmed."""


def _skill_refs(text: str) -> str:
    """The text itself, once every comma-separated item reads as a skill reference."""
    parse_skill_refs(text)
    return text


@dataclass(frozen=True)
class AnthropicSettings(BackendSettings):
    """``%backend anthropic key=value…``."""

    skills: str = setting(
        "",
        "comma-separated skills on Anthropic's side besides the local ones: "
        "anthropic:xlsx, anthropic:pptx@VERSION, or a custom skill's id skill_…[@VERSION]",
        check=_skill_refs,
    )
    tool: str = setting(
        CODE_EXECUTION_TOOLS[-1], "the code-execution tool version", choices=CODE_EXECUTION_TOOLS
    )
    max_skills: int = setting(
        MAX_SKILLS,
        "skills one request may carry (the documented limit; raise it if the API allows more)",
        positive=True,
    )
    workdir: str = setting(
        "", "folder the sandbox's files download to; empty: the kernel's working directory"
    )
    max_continuations: int = setting(
        10,
        "times a turn the server paused (pause_turn) is continued before it is stopped",
        positive=True,
    )

    @property
    def remote_skills(self) -> tuple[dict[str, str], ...]:
        """``skills`` as ``container.skills`` entries."""
        return tuple(parse_skill_refs(self.skills))
