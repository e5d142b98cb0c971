"""Find skills on disk and load their metadata, leniently.

Loading follows the client guide: a skill with cosmetic problems loads and carries its
warnings; one without a usable name or description is skipped, and the reason is kept
as an error diagnostic for the user. A path that cannot be searched (one that does not
exist, a symbolic link loop, a link to nothing, a folder that cannot be read) is a
diagnostic too, and the search goes on around it. Only frontmatter is read (progressive
disclosure); ``.skill`` archives are checked and unpacked as they load.

What loading keeps of the frontmatter is bounded: a description over the spec's 1,024
characters is cut there (its diagnostic says so), because it goes into the system
prompt of every request.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from conjure_kernel.errors import SkillError, SkillValidationError
from conjure_kernel.skills.links import describe_unreachable
from conjure_kernel.skills.skill import Diagnostic, Skill, SkillMetadata
from conjure_kernel.skills.validation import MAX_DESCRIPTION_LENGTH, check_skill, locate_skill

__all__ = ["SkillSet", "find_skills", "load_skill", "skill_candidates"]

SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__"})
"""Folders that never hold skills; hidden folders (``.git``...) are skipped too."""

_Identity = tuple[int, int]
"""A folder's ``(st_dev, st_ino)``: the same folder however many links lead to it."""


@dataclass(frozen=True)
class SkillSet:
    """The skills :func:`find_skills` loaded, and what went wrong on the way."""

    skills: list[Skill]
    problems: list[Diagnostic]
    """Skipped skills and paths that could not be searched as errors (warnings for those
    found inside a searched folder); warnings of loaded skills; shadowed names."""


def load_skill(path: Path | str) -> Skill:
    """Load a skill folder, SKILL.md or ``.skill`` archive from its frontmatter alone.

    Raises :class:`SkillValidationError` for a problem that makes the skill unusable,
    :class:`SkillError` for a path or archive that cannot be read; lesser problems
    become the skill's ``diagnostics``.
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
    Nothing raises for a bad path or skill: each becomes one of ``problems``.
    """
    skills: dict[str, Skill] = {}
    problems: list[Diagnostic] = []
    for root in paths:
        for candidate in skill_candidates(Path(root).expanduser(), max_depth):
            if isinstance(candidate, Diagnostic):
                problems.append(candidate)
                continue
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
    except SkillError as error:  # an archive that is unsafe or unreadable; a broken link
        problem = str(error).removeprefix(f"{os.path.abspath(candidate)}: ")
        problems.append(Diagnostic(candidate, "", problem))
    return None


def skill_candidates(root: Path, max_depth: int = 6) -> Iterator[Path | Diagnostic]:
    """SKILL.md files and ``.skill`` archives at or below ``root``, in name order.

    Where a path cannot be searched, a :class:`Diagnostic` says why in its place: an
    error for ``root`` itself, a warning for what is found inside it (the rest of the
    folder is still searched). Each real folder is entered once, so links that lead
    back up the tree cost nothing more than their warning.
    """
    try:
        is_folder = stat.S_ISDIR(root.stat().st_mode)
    except OSError as error:
        yield _unreachable(root, error, "error")
        return
    if is_folder:
        yield from _walk(root, max_depth, set(), {})
    else:
        yield root


def _walk(
    folder: Path, depth_left: int, visited: set[_Identity], ancestors: dict[_Identity, Path]
) -> Iterator[Path | Diagnostic]:
    """Search ``folder``, entered from ``ancestors`` (the folders above it on this path)."""
    try:
        info = folder.stat()
        identity = (info.st_dev, info.st_ino)
        if identity in ancestors:
            back = f"leads back to {ancestors[identity]}, which is being searched; not followed"
            yield Diagnostic(folder, "", f"is a symbolic link that {back}", "warning")
            return
        if identity in visited:
            return
        visited.add(identity)
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as error:
        yield _unreachable(folder, error, "warning")
        return
    if any(entry.name == "SKILL.md" and not _is_real_folder(entry) for entry in entries):
        yield folder / "SKILL.md"  # a SKILL.md that cannot be read is the loader's to report
        return
    inside = {**ancestors, identity: folder}
    for entry in entries:
        path, skipped = Path(entry.path), _is_skipped(entry.name)
        try:
            is_folder, is_file = entry.is_dir(), entry.is_file()
        except OSError as error:  # a loop or too long a chain of links
            if not skipped:
                yield _unreachable(path, error, "warning")
            continue
        if is_folder:
            if depth_left > 0 and not skipped:
                yield from _walk(path, depth_left - 1, visited, inside)
        elif entry.name.endswith(".skill"):
            yield path
        elif not (is_file or skipped) and entry.is_symlink():
            yield from _dangling(path)


def _dangling(link: Path) -> Iterator[Diagnostic]:
    """A warning for a link to nothing (a skill folder moved away); none for a link to a
    device or socket, which is simply not a skill. Hidden names never get here: editors
    leave links to nothing as lock files (``.#notes.md``)."""
    try:
        link.stat()
    except OSError as error:
        yield _unreachable(link, error, "warning")


def _is_real_folder(entry: os.DirEntry[str]) -> bool:
    return entry.is_dir(follow_symlinks=False)


def _unreachable(path: Path, error: OSError, severity: Literal["warning", "error"]) -> Diagnostic:
    problem = describe_unreachable(path, error)
    return Diagnostic(path, "", problem if severity == "error" else f"{problem}; skipped", severity)


def _is_skipped(folder_name: str) -> bool:
    return folder_name.startswith(".") or folder_name in SKIPPED_FOLDERS


def _metadata(data: dict[str, Any]) -> SkillMetadata:
    """Metadata from frontmatter that passed lenient validation; bad optional fields drop."""
    metadata = data.get("metadata")
    tools = data.get("allowed-tools")
    return SkillMetadata(
        name=data["name"],
        description=_cut(data["description"].strip(), MAX_DESCRIPTION_LENGTH),
        license=_string_or_none(data.get("license")),
        compatibility=_string_or_none(data.get("compatibility")),
        metadata=(
            {str(key): str(value) for key, value in metadata.items() if _is_scalar(value)}
            if isinstance(metadata, dict)
            else {}
        ),
        allowed_tools=tuple(tools.split()) if isinstance(tools, str) else (),
    )


def _cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters long, an ellipsis showing where it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _string_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _is_scalar(value: Any) -> bool:
    """A metadata value that reads as text; a list or mapping (which YAML aliases can make
    astronomically large when printed) is dropped, as its warning says."""
    return isinstance(value, (str, int, float, bool))
