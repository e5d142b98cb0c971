"""Check SKILL.md frontmatter against every rule of the Agent Skills specification.

Each broken rule becomes a :class:`Diagnostic`. Its severity follows the client guide's
lenient loading: ``"error"`` where a client should skip the skill (no name, no usable
description, frontmatter that cannot be read), ``"warning"`` where it should load it
anyway (a cosmetic name problem, an unknown field, a malformed optional field). The
strict verdict of :func:`validate_skill`, for the CLI, counts both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from conjure_kernel.errors import SkillError, SkillValidationError
from conjure_kernel.skills.archive import SkillArchive
from conjure_kernel.skills.frontmatter import parse_frontmatter_text, read_frontmatter
from conjure_kernel.skills.links import describe_unreachable
from conjure_kernel.skills.skill import Diagnostic, SkillSource, origin_of, root_of

__all__ = [
    "ALLOWED_FIELDS",
    "MAX_COMPATIBILITY_LENGTH",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_FOLDER_NAME_BYTES",
    "MAX_NAME_LENGTH",
    "check_skill",
    "locate_skill",
    "validate_frontmatter",
    "validate_skill",
]

ALLOWED_FIELDS = ("name", "description", "license", "compatibility", "metadata", "allowed-tools")
MAX_NAME_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 1024
MAX_COMPATIBILITY_LENGTH = 500
MAX_FOLDER_NAME_BYTES = 255
"""The longest file name the usual file systems take (ext4, APFS: 255 bytes). The spec
has a skill's name match its folder's, so a longer name cannot be one, however lenient
the loading: it is refused, where a name merely over 64 characters only warns. Backends
also mount a skill at a folder named after it."""
_SHOWN_LENGTH = 80
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")

_Finding = tuple[str, str, Literal["warning", "error"]]
"""(field, problem, severity): a Diagnostic before it knows its path."""


def validate_frontmatter(path: Path, data: Mapping[Any, Any], folder_name: str) -> list[Diagnostic]:
    """Every rule ``data`` breaks, for the SKILL.md at ``path`` in folder ``folder_name``."""
    findings = [
        *_name_findings(data.get("name"), folder_name),
        *_description_findings(data.get("description")),
        *_optional_findings(data),
        *_unknown_field_findings(data),
    ]
    return [Diagnostic(path, field, problem, severity) for field, problem, severity in findings]


def validate_skill(path: Path | str) -> list[Diagnostic]:
    """Every diagnostic, warnings included, for a skill folder, SKILL.md or ``.skill`` file."""
    return check_skill(locate_skill(path))[1]


def locate_skill(path: Path | str) -> SkillSource:
    """The skill folder, or the checked ``.skill`` archive, that a path names.

    An archive is checked whole and unpacked here (an unsafe or corrupt one raises
    :class:`SkillError`). The path is made absolute without resolving symlinks,
    because a symlinked skill folder's own name is the one its ``name`` must match.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    if path.name == "SKILL.md" and path.is_file():
        return path.parent
    if path.suffix == ".skill" and path.is_file():
        return SkillArchive.open(path)
    if path.is_dir():
        return path
    try:
        path.stat()
    except OSError as error:
        raise SkillError(f"{path}: {describe_unreachable(path, error)}") from None
    raise SkillError(f"{path}: not a skill folder, SKILL.md or .skill archive")


def check_skill(source: SkillSource) -> tuple[dict[str, Any], list[Diagnostic]]:
    """Parse and validate a skill's SKILL.md: its frontmatter (``{}`` if unreadable), diagnostics.

    An archive's diagnostics name ``<archive>/<name>/SKILL.md`` rather than the folder
    it was unpacked to.
    """
    shown = origin_of(source) / "SKILL.md"
    skill_md = root_of(source) / "SKILL.md"
    if not os.path.lexists(skill_md):
        return {}, [Diagnostic(shown, "SKILL.md", "is missing from the skill folder")]
    try:
        data = parse_frontmatter_text(read_frontmatter(skill_md, shown=shown), shown)
    except SkillValidationError as error:
        return {}, [Diagnostic(shown, error.field, error.problem)]
    return data, validate_frontmatter(shown, data, shown.parent.name)


def _name_findings(name: Any, folder_name: str) -> Iterator[_Finding]:
    if name is None:
        yield "name", "is required", "error"
        return
    if not isinstance(name, str) or not name:
        problem = "must not be empty" if name == "" else f"must be a string (found {_kind(name)})"
        yield "name", problem, "error"
        return
    if not _can_name_a_folder(name):
        shown = f"{len(name):,} characters" if len(name) > MAX_NAME_LENGTH else repr(name)
        yield "name", f"cannot match any folder name, as the spec requires (found {shown})", "error"
        return
    if len(name) > MAX_NAME_LENGTH:
        yield "name", f"must be at most {MAX_NAME_LENGTH} characters (found {len(name)})", "warning"
    if name != name.lower():
        yield "name", f"must be lowercase (found {name!r})", "warning"
    invalid = sorted({char for char in name.lower() if char not in _NAME_CHARACTERS})
    if invalid:
        found = ", ".join(map(repr, invalid))
        yield (
            "name",
            f"may contain only letters a-z, digits and hyphens (found {found} in {name!r})",
            "warning",
        )
    if name.startswith("-") or name.endswith("-"):
        yield "name", f"must not start or end with a hyphen (found {name!r})", "warning"
    if "--" in name:
        yield "name", f"must not contain consecutive hyphens (found {name!r})", "warning"
    if name != folder_name:
        yield "name", f"must match its folder name {folder_name!r} (found {name!r})", "warning"


def _can_name_a_folder(name: str) -> bool:
    too_long = len(name.encode("utf-8", "surrogatepass")) > MAX_FOLDER_NAME_BYTES
    return not (too_long or "/" in name or "\0" in name or name in (".", ".."))


def _description_findings(description: Any) -> Iterator[_Finding]:
    if description is None:
        yield "description", "is required", "error"
    elif not isinstance(description, str):
        yield "description", f"must be a string (found {_kind(description)})", "error"
    elif not description.strip():
        yield "description", "must not be empty", "error"
    elif len(description) > MAX_DESCRIPTION_LENGTH:
        limit = MAX_DESCRIPTION_LENGTH
        yield (
            "description",
            f"must be at most {limit} characters (found {len(description)}); "
            f"loading cuts it to {limit}",
            "warning",
        )


def _optional_findings(data: Mapping[Any, Any]) -> Iterator[_Finding]:
    for field in ("license", "compatibility", "allowed-tools"):
        if field in data and not isinstance(data[field], str):
            kind = "a space-separated string" if field == "allowed-tools" else "a string"
            yield field, f"must be {kind} (found {_kind(data[field])})", "warning"
    compatibility = data.get("compatibility")
    if isinstance(compatibility, str) and not 1 <= len(compatibility) <= MAX_COMPATIBILITY_LENGTH:
        limit = MAX_COMPATIBILITY_LENGTH
        yield (
            "compatibility",
            f"must be 1-{limit} characters (found {len(compatibility)})",
            "warning",
        )
    if "metadata" in data:
        yield from _metadata_findings(data["metadata"])


def _metadata_findings(metadata: Any) -> Iterator[_Finding]:
    if not isinstance(metadata, Mapping):
        yield (
            "metadata",
            f"must be a mapping of strings to strings (found {_kind(metadata)})",
            "warning",
        )
        return
    for key, value in metadata.items():
        if not isinstance(key, str):
            yield (
                "metadata",
                f"keys must be strings (found {_kind(key)} {_short(repr(key))})",
                "warning",
            )
        elif not isinstance(value, str):
            yield (
                "metadata",
                f"values must be strings (found {_kind(value)} for {_short(repr(key))})",
                "warning",
            )


def _unknown_field_findings(data: Mapping[Any, Any]) -> Iterator[_Finding]:
    allowed = ", ".join(ALLOWED_FIELDS)
    for key in data:
        if key not in ALLOWED_FIELDS:
            yield _short(str(key)), f"is not a field of the spec (allowed: {allowed})", "warning"


def _short(text: str) -> str:
    """``text`` cut short: a problem stays one short line, however long the key it names."""
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 1] + "…"


def _kind(value: Any) -> str:
    """A YAML reader's word for a value's type: "null", "number", "list"..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__
