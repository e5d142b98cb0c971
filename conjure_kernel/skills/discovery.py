"""Find skills on disk and load their metadata, leniently.

Loading follows the client guide: a skill with cosmetic problems loads and carries its
warnings; one without a usable name or description is skipped, and the reason is kept
as an error diagnostic for the user. Only frontmatter is read (progressive disclosure).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conjure_kernel.errors import SkillError, SkillValidationError
from conjure_kernel.skills.skill import Diagnostic, Skill, SkillMetadata
from conjure_kernel.skills.validation import check_skill, locate_skill

__all__ = ["SkillSet", "find_skills", "load_skill", "skill_candidates"]

SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})
"""Folders that never hold skills; hidden folders (``.git``...) are skipped too."""


@dataclass(frozen=True)
class SkillSet:
    """The skills :func:`find_skills` loaded, and what went wrong on the way."""

    skills: list[Skill]
    problems: list[Diagnostic]
    """Skipped skills as errors; warnings of loaded skills; shadowed names as warnings."""


def load_skill(path: Path | str) -> Skill:
    """Load a skill folder, SKILL.md or ``.skill`` archive from its frontmatter alone.

    An archive is read in place and unpacked only when its files are first needed.
    Raises :class:`SkillValidationError` for a problem that makes the skill unusable;
    lesser problems become the skill's ``diagnostics``.
    """
    source = locate_skill(path)
    data, diagnostics = check_skill(source)
    for diagnostic in diagnostics:
        if diagnostic.severity == "error":
            raise SkillValidationError(diagnostic.path, diagnostic.field, diagnostic.problem)
    return Skill(metadata=_metadata(data), source=source, diagnostics=tuple(diagnostics))


def find_skills(paths: Iterable[Path | str], *, max_depth: int = 6) -> SkillSet:
    """Load every skill at or below ``paths``; on a name collision the first found wins.

    A folder holding SKILL.md is a skill, and its subfolders are its resources, not
    more skills. ``.skill`` archives are found alongside. Each path is searched at
    most ``max_depth`` folders deep, in name order, so the result is deterministic.
    """
    skills: dict[str, Skill] = {}
    problems: list[Diagnostic] = []
    for root in paths:
        root = Path(root).expanduser()
        if not root.exists():
            raise SkillError(f"{root}: no such file or folder")
        for candidate in skill_candidates(root, max_depth):
            skill = _load_leniently(candidate, problems)
            if skill is None:
                continue
            problems.extend(skill.diagnostics)
            first = skills.setdefault(skill.name, skill)
            if first is not skill:
                where = first.origin / "SKILL.md"
                shadowed = f"{skill.name!r} is already loaded from {where}; skipping it"
                problems.append(Diagnostic(candidate, "name", shadowed, "warning"))
    return SkillSet(skills=list(skills.values()), problems=problems)


def _load_leniently(candidate: Path, problems: list[Diagnostic]) -> Skill | None:
    try:
        return load_skill(candidate)
    except SkillValidationError as error:
        problems.append(Diagnostic(error.path, error.field, error.problem))
    except SkillError as error:  # an archive that is unsafe or unreadable
        problems.append(Diagnostic(candidate, "archive", str(error)))
    return None


def skill_candidates(root: Path, max_depth: int = 6) -> Iterator[Path]:
    """SKILL.md files and ``.skill`` archives at or below ``root``."""
    if root.is_file():
        yield root
    else:
        yield from _walk(root, max_depth, set())


def _walk(folder: Path, depth_left: int, seen: set[tuple[int, int]]) -> Iterator[Path]:
    """Search ``folder``; each real folder is entered once, so symlink loops cost nothing."""
    try:
        identity = folder.stat()
        if (identity.st_dev, identity.st_ino) in seen:
            return
        seen.add((identity.st_dev, identity.st_ino))
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.name == "SKILL.md" and entry.is_file():
            yield Path(entry.path)
            return
    for entry in entries:
        if entry.is_dir():
            if depth_left > 0 and not _is_skipped(entry.name):
                yield from _walk(Path(entry.path), depth_left - 1, seen)
        elif entry.name.endswith(".skill"):
            yield Path(entry.path)


def _is_skipped(folder_name: str) -> bool:
    return folder_name.startswith(".") or folder_name in SKIPPED_FOLDERS


def _metadata(data: dict[str, Any]) -> SkillMetadata:
    """Metadata from frontmatter that passed lenient validation; bad optional fields drop."""
    metadata = data.get("metadata")
    tools = data.get("allowed-tools")
    return SkillMetadata(
        name=data["name"],
        description=data["description"].strip(),
        license=_string_or_none(data.get("license")),
        compatibility=_string_or_none(data.get("compatibility")),
        metadata=(
            {str(key): str(value) for key, value in metadata.items()}
            if isinstance(metadata, dict)
            else {}
        ),
        allowed_tools=tuple(tools.split()) if isinstance(tools, str) else (),
    )


def _string_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
