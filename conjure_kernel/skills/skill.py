"""The loaded skill: its frontmatter up front, its body and files only when asked.

Progressive disclosure: loading reads SKILL.md's frontmatter only; ``body`` and
``resources`` touch the disk when a caller needs them. A skill loaded from a ``.skill``
archive is read from the folder the archive was checked and unpacked into at load.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from conjure_kernel.errors import SkillError
from conjure_kernel.skills.archive import SkillArchive, update_digest
from conjure_kernel.skills.frontmatter import split_frontmatter

__all__ = [
    "Diagnostic",
    "Skill",
    "SkillMetadata",
    "SkillSource",
    "loaded_line",
    "origin_of",
    "root_of",
]

SkillSource = Path | SkillArchive
"""Where a skill came from: its folder on the host, or the ``.skill`` archive unpacked."""


@dataclass(frozen=True)
class Diagnostic:
    """One rule a SKILL.md breaks, or a path that cannot be searched: where, which field
    (``""`` for the path itself), what is wrong, and how bad."""

    path: Path
    field: str
    problem: str
    severity: Literal["warning", "error"] = "error"

    def __str__(self) -> str:
        return ": ".join(str(part) for part in (self.path, self.field, self.problem) if part)


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
    """A skill with the metadata read from its SKILL.md, and its files on the host."""

    metadata: SkillMetadata
    source: SkillSource
    """The skill's folder, absolute; or its ``.skill`` archive, unpacked at load."""
    diagnostics: tuple[Diagnostic, ...] = ()
    """Spec violations that did not stop the skill from loading."""
    _hash: tuple[tuple[object, ...], str] | None = field(default=None, init=False, repr=False)

    @property
    def root(self) -> Path:
        """The folder holding SKILL.md, absolute, on the host: an archive's unpacking,
        shared by every skill loaded from the same archive in this process."""
        return root_of(self.source)

    @property
    def origin(self) -> Path:
        """Where the skill was loaded from, for people to read; never unpacks it."""
        return origin_of(self.source)

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
        a ``stat`` per file instead of reading the whole folder again. Files are hashed a
        chunk at a time, so a large one costs a chunk of memory, not its size.
        """
        try:
            return self._content_hash()
        except OSError as error:  # the folder was removed or changed under the session
            raise SkillError(
                f"skill {self.name}: its files at {self.root} cannot be read: "
                f"{error.strerror or error}",
                hint="restore the folder, or remove the skill from the session",
            ) from None

    def _content_hash(self) -> str:
        root = self.root
        files = [Path("SKILL.md"), *self.resources()]
        stamp = tuple((f, (s := (root / f).stat()).st_mtime_ns, s.st_size) for f in files)
        if self._hash is not None and self._hash[0] == stamp:
            return self._hash[1]
        digest = hashlib.sha256()
        for relative in files:
            digest.update(relative.as_posix().encode() + b"\0")
            update_digest(digest, root / relative)
            digest.update(b"\0")
        self._hash = (stamp, digest.hexdigest())
        return self._hash[1]

    def __repr__(self) -> str:
        return f"<Skill {self.name} at {self.origin}>"


def root_of(source: SkillSource) -> Path:
    """The folder holding a skill's SKILL.md on the host (an archive's unpacking)."""
    return source.root if isinstance(source, SkillArchive) else source


def origin_of(source: SkillSource) -> Path:
    """A skill's folder, or ``<archive>/<name>`` for an archive: the path diagnostics show."""
    return source.origin if isinstance(source, SkillArchive) else source


def loaded_line(names: Sequence[str], shown: int = 10) -> str:
    """``loaded: a, b, c`` kept to one short line however many skills there are."""
    if not names:
        return "no skills are loaded"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"loaded: {', '.join(names[:shown])}{more}"
