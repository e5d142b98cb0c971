"""What a skill needs where its tools run, read from its files.

A skill rarely says what it needs: its scripts import ``docx`` and call ``soffice``, its
SKILL.md runs ``python scripts/…``, its reference pages build documents with the ``docx``
npm package. This module reads all of that (``code_needs`` reads each file) and the
``compatibility`` and ``allowed-tools`` front matter, without running anything. What
SKILL.md and the scripts use is required; what only reference pages show, or only code
that copes without it (``try: import x except ImportError``), is optional.

It sits in the conversation layer beside ``shell_commands``, whose grammar it reads shell
with. Reading is bounded: at most ``MAX_FILES`` files of at most ``MAX_FILE_BYTES`` each,
no folder outside the skill (links are not followed out of it), no ``node_modules``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..conversation.permissions import rules_from_allowed_tools
from ..conversation.rules import COMMAND_TOOL
from ..skills.skill import Skill
from .code_needs import (
    Need,
    Use,
    command_uses,
    javascript_uses,
    markdown_uses,
    package_uses,
    python_uses,
    shebang_uses,
    shell_uses,
)
from .package_names import distribution_of

__all__ = [
    "MAX_FILES",
    "MAX_FILE_BYTES",
    "Requirement",
    "SkillRequirements",
    "need_label",
    "read_requirements",
]

MAX_FILES = 400
"""Files read per skill; a skill with more is read in part, and says so."""
MAX_FILE_BYTES = 512 * 1024
"""Larger files (data, bundled libraries) are not read."""
_SKIPPED_FOLDERS = frozenset({"node_modules", "__pycache__", "venv", "site-packages"})
_KINDS = ("program", "python", "node", "tool")
_SHELL_INTERPRETERS = re.compile(r"#![^\n]*\b(ba|da|z|k)?sh\b")
_PYTHON_INTERPRETER = re.compile(r"#![^\n]*\bpython")


@dataclass(frozen=True)
class Requirement:
    """One need of a skill, and where its files use it."""

    need: Need
    files: tuple[str, ...]
    """Relative to the skill's folder, in reading order; ``allowed-tools`` for the field."""
    optional: bool = False
    """Only reference pages or code that copes without it use it."""


@dataclass(frozen=True)
class SkillRequirements:
    """Everything one skill was found to need."""

    skill: Skill
    requirements: tuple[Requirement, ...]
    compatibility: str | None = None
    """The front matter's own words about the environment, shown as written."""
    unread: tuple[str, ...] = ()
    """Files left out and why (too large, too many, linking outside the skill)."""


def need_label(need: Need) -> str:
    """How a person reads a need: ``python-docx (import docx)``, ``soffice``, ``npm docx``."""
    if need.kind == "python":
        distribution = distribution_of(need.name)
        return distribution if distribution == need.name else f"{distribution} (import {need.name})"
    if need.kind == "node":
        return f"npm {need.name}"
    if need.kind == "tool":
        return f"tool {need.name}"
    return need.name


def read_requirements(skill: Skill) -> SkillRequirements:
    """Read a skill's files and front matter for what it needs; nothing is run."""
    root = skill.root
    files, unread = _files_to_read(root)
    own = _own_modules(files)
    found: dict[Need, tuple[list[str], bool]] = {}
    for relative, path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            unread.append(f"{relative}: {error.strerror or error}")
            continue
        for use in _uses_in(relative, text, own):
            _add(found, use, relative)
    for use in _allowed_tool_uses(skill):
        _add(found, use, "allowed-tools")
    requirements = sorted(
        (Requirement(need, tuple(where), optional) for need, (where, optional) in found.items()),
        key=lambda requirement: (_KINDS.index(requirement.need.kind), requirement.need.name),
    )
    return SkillRequirements(
        skill, tuple(requirements), skill.metadata.compatibility, tuple(unread)
    )


def _add(found: dict[Need, tuple[list[str], bool]], use: Use, relative: str) -> None:
    """A need is optional only while every use of it is."""
    where, optional = found.get(use.need, ([], True))
    if relative not in where:
        where.append(relative)
    found[use.need] = (where, optional and use.optional)


def _files_to_read(root: Path) -> tuple[list[tuple[str, Path]], list[str]]:
    """The skill's readable files (relative name, path), in name order, within the limits."""
    files: list[tuple[str, Path]] = []
    unread: list[str] = []
    boundary = root.resolve()
    left_out = 0
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        if not _is_code(path):
            continue
        try:
            real = path.resolve(strict=True)
            size = real.stat().st_size
        except (OSError, RuntimeError) as error:  # RuntimeError: a link loop
            unread.append(f"{relative}: {getattr(error, 'strerror', None) or error}")
            continue
        if not real.is_relative_to(boundary):
            unread.append(f"{relative}: links outside the skill")
        elif size > MAX_FILE_BYTES:
            unread.append(f"{relative}: larger than {MAX_FILE_BYTES // 1024} KiB")
        elif len(files) >= MAX_FILES:
            left_out += 1
        else:
            files.append((relative, real))
    if left_out:
        unread.append(f"{left_out} more files (at most {MAX_FILES} are read)")
    return files, unread


def _walk(root: Path) -> Iterator[Path]:
    """Files below ``root``; linked folders are not entered, hidden ones are skipped."""
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(
            name for name in folders if not name.startswith(".") and name not in _SKIPPED_FOLDERS
        )
        for name in sorted(names):
            path = Path(folder, name)
            if path.is_file():
                yield path


def _is_code(path: Path) -> bool:
    """Files a reader reads: by suffix, by name, or by a ``#!`` line."""
    if path.suffix in (".py", ".js", ".mjs", ".cjs", ".sh", ".bash", ".md", ".markdown"):
        return True
    if path.name in ("requirements.txt", "package.json"):
        return True
    if path.suffix:
        return False
    try:
        with path.open("rb") as file:
            return file.read(2) == b"#!"
    except OSError:
        return False


def _own_modules(files: list[tuple[str, Path]]) -> frozenset[str]:
    """Names the skill's own Python files answer to: ``from core.x import y`` with a
    ``core`` folder, or ``import helpers`` beside ``helpers.py``, is no need."""
    names = set()
    for relative, _ in files:
        if relative.endswith(".py"):
            parts = relative[:-3].split("/")
            names.update(parts)
    return frozenset(names)


def _uses_in(relative: str, text: str, own: frozenset[str]) -> list[Use]:
    """What one file uses, read by the reader its kind gets."""
    name = relative.rsplit("/", 1)[-1]
    suffix = os.path.splitext(name)[1]
    if suffix in (".md", ".markdown"):
        uses = markdown_uses(text, own)
        return uses if relative == "SKILL.md" else [Use(use.need, True) for use in uses]
    if name == "requirements.txt":
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return package_uses([line for line in lines if line and not line.startswith("-")], "python")
    if name == "package.json":
        return _package_json_uses(text)
    uses = shebang_uses(text)
    if suffix == ".py" or (not suffix and _PYTHON_INTERPRETER.match(text)):
        return uses + python_uses(text, own)
    if suffix in (".js", ".mjs", ".cjs"):
        return uses + javascript_uses(text)
    if suffix in (".sh", ".bash") or _SHELL_INTERPRETERS.match(text):
        return uses + shell_uses(text)
    return uses


def _package_json_uses(text: str) -> list[Use]:
    """A bundled package.json's dependencies (its dev dependencies are optional)."""
    try:
        manifest = json.loads(text)
    except ValueError:
        return []
    if not isinstance(manifest, dict):
        return []
    uses = []
    for field, optional in (("dependencies", False), ("devDependencies", True)):
        names = manifest.get(field)
        if isinstance(names, dict):
            uses += [Use(use.need, optional) for use in package_uses(list(names), "node")]
    return uses


def _allowed_tool_uses(skill: Skill) -> list[Use]:
    """``Bash(git:*)`` needs git; an entry naming no tool of this kernel (``WebFetch``)
    needs that tool."""
    rules, unknown = rules_from_allowed_tools(skill)
    uses = [Use(Need("tool", entry.partition("(")[0])) for entry in unknown]
    for rule in rules:
        program = re.match(r"[\w.+-]+", rule.pattern or "") if rule.tool == COMMAND_TOOL else None
        if program:
            uses += command_uses([program.group(0)])
    return uses
