"""What the hosted backend keeps for one conversation, and when its container expires.

Split from anthropic.py: the session and the container's lifetime are read by the
backend, by a turn's loop and by the live side of a turn alike.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..clients.skills_api import SkillUploads, Upload
from ..events import Notice
from ..skills.skill import Skill
from ..tools.printed_limits import MODEL_CHARS

__all__ = ["AnthropicSession", "container_gone", "until"]


@dataclass(kw_only=True)
class AnthropicSession:
    """One conversation's hosted setup: its tool, skills, container and download folder."""

    backend_type: str = "anthropic"
    workdir: Path
    """Where downloaded files land on the host."""
    tool: str
    """The code-execution tool type (``code_execution_20260521``)."""
    skills: tuple[Skill, ...] = ()
    """Local skills, uploaded before the first request that needs them."""
    remote: tuple[dict[str, str], ...] = ()
    """Skills already on Anthropic's side (the ``skills`` setting), as ``container.skills``."""
    max_continuations: int = 10
    environment: dict[str, str] = field(default_factory=dict)
    """Nothing is known of Anthropic's container before it runs."""
    leads_to: Callable[[str], str] = field(default=os.path.realpath, repr=False)
    """No tool of this machine's runs: a path is only ever a download's."""
    max_output_chars: int = MODEL_CHARS
    system_prompt: str = field(default="", repr=False)
    uploads: SkillUploads = field(default_factory=SkillUploads, repr=False)
    container: dict[str, Any] | None = None
    """The container the last step ran in (``id``, ``expires_at``), reused while it lives."""
    uploaded: dict[str, tuple[str, Upload]] = field(default_factory=dict)
    """Local skill name → (content hash, its upload), as this session last sent it."""

    @property
    def paths(self) -> dict[str, str]:
        """Only the workdir is the host's: skills and the tools' files live in the sandbox."""
        return {"workdir": str(self.workdir)}

    def describe(self) -> str:
        refs = [
            f"anthropic:{r['skill_id']}@{r['version']}"
            for r in self.remote
            if r["type"] == "anthropic"
        ]
        refs += [f"{r['skill_id']}@{r['version']}" for r in self.remote if r["type"] == "custom"]
        refs += [f"{skill.name} (local)" for skill in self.skills]
        container = (
            f"container {self.container['id']}{until(self.container)}"
            if self.container
            else "a new container on the next turn"
        )
        return (
            f"anthropic: code runs in Anthropic's sandbox ({self.tool}, up to "
            f"{self.max_continuations} continuations); skills: {', '.join(refs) or 'none'}; "
            f"files download to {self.workdir}; {container}. Boundary: commands read, "
            "write and reach only Anthropic's container; on this machine the only effect is "
            f"new files in {self.workdir}, never written over an existing one"
        )


def until(container: dict[str, Any]) -> str:
    """`` (expiry last given: 2026-12-04 14:05)`` to follow the container's id, or nothing.

    ``expires_at`` is a rolling value the API moves on while the container is used, not
    the end of its life (about 30 days), so it is shown as what the API last said and
    the container is reused until the API refuses it."""
    expires = _expiry(container)
    when = expires.astimezone().strftime("%Y-%m-%d %H:%M") if expires else ""
    return f" (expiry last given: {when})" if when else ""


def container_gone(container: dict[str, Any], why: str) -> Notice:
    """The warning that a container is replaced, and its files and state with it."""
    return Notice(
        f"container {container['id']} is gone ({why}); a new one is started, without the "
        "files and Python state of the old one",
        "warning",
    )


def _expiry(container: dict[str, Any]) -> datetime | None:
    try:
        expires = datetime.fromisoformat(str(container.get("expires_at")))
    except ValueError:
        return None
    return expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)
