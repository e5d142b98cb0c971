"""Read the YAML frontmatter of a SKILL.md without touching its body.

Discovery reads only the lines up to the closing ``---``, so a catalog of a thousand
skills costs a thousand small reads, and a body that is huge or not even UTF-8 does
not stop its skill from loading (progressive disclosure).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import yaml

from conjure_kernel.errors import SkillValidationError

__all__ = [
    "parse_frontmatter",
    "parse_frontmatter_text",
    "read_frontmatter",
    "read_frontmatter_from",
    "split_frontmatter",
]

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML has it: ten times faster, and just as safe."""

_UNQUOTED_COLON_VALUE = re.compile(
    r"^(?P<key>[A-Za-z0-9_-]+):[ \t]+(?P<value>[^\s'\"|>\[{&*!#].*?:(?:\s.*)?)\s*$"
)
"""A top-level ``key: value: more`` line, which YAML rejects but other clients accept.

Values that open a quote, block, flow collection, anchor, alias, tag or comment are
left alone: there the colon means something to YAML."""


def split_frontmatter(text: str, path: Path | str = "SKILL.md") -> tuple[str, str]:
    """Split SKILL.md text into its YAML text and its Markdown body (trimmed).

    ``path`` only names the file in the error raised when the ``---`` lines are missing.
    """
    lines = iter(io.StringIO(text))
    yaml_text = _take_frontmatter(lines, path)
    return yaml_text, "".join(lines).strip()


def read_frontmatter(path: Path, *, shown: Path | None = None) -> str:
    """The YAML text of a SKILL.md, read line by line up to the closing ``---`` only.

    Errors name ``shown`` when given: where the file came from, such as a ``.skill``
    archive, rather than where it was unpacked.
    """
    shown = shown or path
    try:
        with open(path, "rb") as file:
            return read_frontmatter_from(file, shown)
    except OSError as error:
        reason = error.strerror or str(error)
        raise SkillValidationError(shown, "SKILL.md", f"cannot be read: {reason}") from None


def read_frontmatter_from(file: IO[bytes], path: Path | str) -> str:
    """The YAML text of a SKILL.md open in binary mode, such as an entry of a zip.

    Lines are taken only up to the closing ``---``, so the body is never read or
    decoded; ``path`` names the file in errors.
    """
    return _take_frontmatter((_decode(line, path) for line in file), path)


def parse_frontmatter(path: Path) -> dict[str, Any]:
    """The frontmatter of a SKILL.md as a dict; the body is never read."""
    return parse_frontmatter_text(read_frontmatter(path), path)


def parse_frontmatter_text(yaml_text: str, path: Path | str = "SKILL.md") -> dict[str, Any]:
    """Parse frontmatter YAML, retrying once with ``key: value: more`` values quoted.

    The retry is the client guide's fallback for skills written for clients whose
    parsers accept an unquoted colon inside a value. Empty frontmatter is an empty dict,
    so validation can say which required fields are missing.
    """
    try:
        data = _load_yaml(yaml_text, path)
    except yaml.YAMLError as error:
        data = _load_with_quoted_colons(yaml_text, error, path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SkillValidationError(
            path, "frontmatter", f"must be a mapping of fields (found {type(data).__name__})"
        )
    return data


def _load_yaml(yaml_text: str, path: Path | str) -> Any:
    try:
        return yaml.load(yaml_text, Loader=_LOADER)
    except ValueError as error:  # an integer longer than Python converts (4,300 digits)
        reason = str(error).partition(":")[0]
        raise SkillValidationError(path, "frontmatter", f"cannot be read: {reason}") from None


def _load_with_quoted_colons(yaml_text: str, error: yaml.YAMLError, path: Path | str) -> Any:
    quoted = "".join(_quote_colon_value(line) for line in io.StringIO(yaml_text))
    if quoted != yaml_text:
        with suppress(yaml.YAMLError):
            return _load_yaml(quoted, path)
    raise SkillValidationError(path, "frontmatter", _describe(error)) from error


def _take_frontmatter(lines: Iterator[str], path: Path | str) -> str:
    """Consume ``lines`` through the closing ``---`` and return the YAML between."""
    first = next(lines, "")
    if not _is_delimiter(first.removeprefix("\ufeff")):
        raise SkillValidationError(
            path, "frontmatter", "is missing: SKILL.md must start with a '---' line"
        )
    yaml_lines: list[str] = []
    for line in lines:
        if _is_delimiter(line):
            return "".join(yaml_lines)
        yaml_lines.append(line)
    raise SkillValidationError(path, "frontmatter", "has no closing '---' line")


def _is_delimiter(line: str) -> bool:
    return line.rstrip() == "---"


def _decode(line: bytes, path: Path | str) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        raise SkillValidationError(path, "frontmatter", "is not valid UTF-8") from None


def _quote_colon_value(line: str) -> str:
    match = _UNQUOTED_COLON_VALUE.match(line)
    if match is None:
        return line
    value = match["value"].replace("'", "''")
    return f"{match['key']}: '{value}'\n"


def _describe(error: yaml.YAMLError) -> str:
    """A one-line reason with the line number, instead of PyYAML's multi-line report."""
    reason = getattr(error, "problem", None) or str(error).partition("\n")[0]
    mark = getattr(error, "problem_mark", None)
    where = f" (frontmatter line {mark.line + 1})" if mark is not None else ""
    return f"is not valid YAML: {reason}{where}"
