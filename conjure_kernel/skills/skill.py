"""The loaded skill: its frontmatter up front, its body and files only when asked.

Progressive disclosure: loading reads SKILL.md's frontmatter only; ``body`` and
``resources`` touch the disk when a caller needs them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from conjure_kernel.skills.frontmatter import split_frontmatter

__all__ = ["Diagnostic", "Skill", "SkillMetadata"]


@dataclass(frozen=True)
class Diagnostic:
    """One rule a SKILL.md breaks: where, which field, what is wrong, and how bad."""

    path: Path
    field: str
    problem: str
    severity: Literal["warning", "error"] = "error"

    def __str__(self) -> str:
        return f"{self.path}: {self.field}: {self.problem}"


@dataclass(frozen=True)
class SkillMetadata:
    """The frontmatter fields the spec defines."""

    name: str
    description: str
    license: str | None = None
    compatibility: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    allowed_tools: tuple[str, ...] = ()


@dataclass(eq=False)
class Skill:
    """A skill folder on the host, with the metadata read from its SKILL.md."""

    metadata: SkillMetadata
    root: Path
    """The folder holding SKILL.md, absolute, on the host."""
    diagnostics: tuple[Diagnostic, ...] = ()
    """Spec violations that did not stop the skill from loading."""
    _hash: tuple[tuple[object, ...], str] | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def description(self) -> str:
        return self.metadata.description

    @property
    def skill_md(self) -> Path:
        return self.root / "SKILL.md"

    @cached_property
    def body(self) -> str:
        """The Markdown after the frontmatter, trimmed, read on first use."""
        return split_frontmatter(self.skill_md.read_text(encoding="utf-8"), self.skill_md)[1]

    def resources(self) -> list[Path]:
        """Every file of the skill but SKILL.md, relative to the root, sorted."""
        return sorted(
            path.relative_to(self.root)
            for path in self.root.rglob("*")
            if path.is_file() and path != self.skill_md and "__pycache__" not in path.parts
        )

    def content_hash(self) -> str:
        """A SHA-256 over every file's relative path and bytes: the skill's version for recordings.

        Every turn records it, so the digest is kept until a file's size or mtime changes:
        a ``stat`` per file instead of reading the whole folder again.
        """
        files = [Path("SKILL.md"), *self.resources()]
        stamp = tuple(
            (f, (self.root / f).stat().st_mtime_ns, (self.root / f).stat().st_size) for f in files
        )
        if self._hash is not None and self._hash[0] == stamp:
            return self._hash[1]
        digest = hashlib.sha256()
        for relative in files:
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update((self.root / relative).read_bytes() + b"\0")
        self._hash = (stamp, digest.hexdigest())
        return self._hash[1]

    def __repr__(self) -> str:
        return f"<Skill {self.name} at {self.root}>"
