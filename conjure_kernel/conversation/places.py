"""Where a session's tools work: the workspace, and the skills' folders they may read.

Split from permissions.py: knowing where a path leads (links followed as the backend's
file tools follow them), and whether that is inside the workspace or a skill's folder,
is its own concern; the decisions in permissions.py and their questions ask it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..skills.skill import Skill
from ..tools.values import ToolCall
from .command_reads import shared_file
from .rules import FILE_TOOLS

__all__ = ["Places", "SkillPlace"]


@dataclass(frozen=True)
class SkillPlace:
    """A skill's folder as the tools see it, and the tools its SKILL.md pre-approves."""

    name: str
    root: str
    """As the tools see it (the system prompt names it so); ``real`` follows its links."""
    allowed_tools: tuple[str, ...] = ()

    @property
    def real(self) -> str:
        return _real(self.root)

    def holds(self, real: str) -> bool:
        return _inside(real, self.real)

    def named_in(self, text: str) -> bool:
        return self.root in text or self.real in text


@dataclass(frozen=True)
class Places:
    """Where a session's tools work: the workspace, and the skills' folders (readable)."""

    workdir: str
    skills: tuple[SkillPlace, ...] = ()
    leads_to: Callable[[str], str] = field(default=os.path.realpath, compare=False)
    """Where an absolute path leads, links followed as the backend's file tools follow them."""
    host_workdir: str = ""
    """The workspace on this machine, where ``workdir`` is a sandbox's own path."""

    @classmethod
    def of(
        cls,
        paths: Mapping[str, str],
        skills: Sequence[Skill] = (),
        leads_to: Callable[[str], str] = os.path.realpath,
        host_workdir: str = "",
    ) -> Places:
        """From a backend session's ``paths`` (``workdir``, ``skill:NAME``), the skills, how
        the session's file tools follow links, and the workspace on this machine."""
        allowed = {skill.name: skill.metadata.allowed_tools for skill in skills}
        found = []
        for key, root in paths.items():
            name = key.removeprefix("skill:")
            if name != key:
                found.append(SkillPlace(name, root, allowed.get(name, ())))
        workdir = _real(paths.get("workdir") or os.getcwd())
        return cls(workdir, tuple(found), leads_to, host_workdir or workdir)

    def lexical(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.workdir, os.path.expanduser(path)))

    def real(self, path: str) -> str:
        """Where ``path`` leads, symbolic links followed (what a write would change)."""
        return self.leads_to(self.lexical(path))

    def in_workspace(self, real: str) -> bool:
        return _inside(real, self.workdir)

    def readable(self, real: str) -> bool:
        """Inside the workspace or a skill's folder, and not a file shared by hard links."""
        inside = self.in_workspace(real) or any(skill.holds(real) for skill in self.skills)
        return inside and not shared_file(real)

    def skill_of(self, call: ToolCall) -> SkillPlace | None:
        """The skill whose files the call runs or touches, if any."""
        path = call.input.get("path")
        if call.name in FILE_TOOLS and isinstance(path, str):
            real = self.real(path)
            return next((skill for skill in self.skills if skill.holds(real)), None)
        text = json.dumps(call.input, ensure_ascii=False)
        return next((skill for skill in self.skills if skill.named_in(text)), None)


def _real(path: str) -> str:
    return os.path.realpath(path)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
