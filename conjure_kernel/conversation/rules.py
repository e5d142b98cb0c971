"""Permission rules: a tool and a pattern of its input, ``bash_tool(git status*)``, ``view(*)``.

Split from permissions.py: reading a rule and matching it against a call is its own
concern, with its own traps. A rule is ``TOOL`` or ``TOOL(PATTERN)``; ``TOOL`` may be a
glob (``inventory_*``), and ``TOOL`` alone or ``TOOL(*)`` matches every call of it.

- File tools (``view``, ``create_file``, ``str_replace``) match their path: a pattern is
  relative to the workspace unless absolute or ``~``, ``*`` stays within a folder name
  and ``**`` crosses folders (``create_file(docs/**)``). An allowing rule must match
  where the path really leads (symbolic links resolved); a denying one matches either.
- ``bash_tool`` matches its command: ``*`` is any text, and ``PREFIX:*`` is the prefix
  as a whole word followed by anything (``Bash(git:*)``, as skills write it). A command
  that chains several (``ls; rm x``, ``a && b | c``) is allowed only when every one of
  them is; one that substitutes, redirects or opens a subshell (``$(…)``, `` `…` ``,
  ``>``, ``(…)``) is allowed only by a rule naming it exactly, since a pattern cannot see
  what it would run. A denying rule matches the whole command or any piece of it.
- Other tools match a pattern against their ``command`` or ``path``, else their input
  as JSON.

A backslash makes the next character literal (``bash_tool(ls \\*.py)``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

from ..tools.values import ToolCall

__all__ = [
    "COMMAND_TOOL",
    "FILE_TOOLS",
    "Rule",
    "command_pieces",
    "escape_pattern",
    "rules_allowing",
    "split_command",
    "split_rules",
]

COMMAND_TOOL = "bash_tool"
FILE_TOOLS = {"view": "read", "create_file": "write", "str_replace": "write"}
"""The file tools and what each does to its path."""
_ANY = "*"
_SEPARATORS = ("&&", "||", ";", "|", "&", "\n")
_COMPLEX = ("$(", "`", "<", ">", "(", ")")
"""What makes a command more than simple commands in a row: what it runs is not in sight."""


@dataclass(frozen=True)
class Rule:
    """A tool name (or glob) and a pattern of its input; no pattern matches every call, and
    is written ``TOOL(*)``."""

    tool: str
    pattern: str | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``view``, ``view(*)``, ``bash_tool(git status*)``; ``ValueError`` saying what is wrong."""
        text = text.strip()
        name, opened, rest = text.partition("(")
        name = name.strip()
        if not name or not re.fullmatch(r"[\w*?.-]+", name):
            raise ValueError(f"{text!r} is not a rule: write TOOL or TOOL(PATTERN), e.g. view(*)")
        if not opened:
            return cls(name)
        if not rest.endswith(")"):
            raise ValueError(f"{text!r} is not a rule: its pattern has no closing ')'")
        pattern = rest[:-1].strip()
        return cls(name, None if pattern in ("", _ANY) else pattern)

    def __str__(self) -> str:
        return f"{self.tool}({self.pattern or _ANY})"

    def names(self, tool: str) -> bool:
        return fnmatchcase(tool, self.tool)

    def allows_path(self, real: str, workdir: str) -> bool:
        """An allowing file rule: it must match where the path really leads."""
        return (
            self.pattern is None or _path_regex(self.pattern, workdir).fullmatch(real) is not None
        )

    def denies_path(self, paths: tuple[str, ...], workdir: str) -> bool:
        """A denying file rule: it matches any of the ways the path can be written."""
        if self.pattern is None:
            return True
        regex = _path_regex(self.pattern, workdir)
        return any(regex.fullmatch(path) for path in paths)

    def names_exactly(self, command: str) -> bool:
        """Whether this rule allows ``command`` as a whole, whatever it holds: no pattern,
        or a pattern without wildcards that is the command itself."""
        if self.pattern is None:
            return True
        return _is_literal(self.pattern) and _words(_unescape(self.pattern)) == _words(command)

    def allows_piece(self, piece: str) -> bool:
        """Whether this rule matches one simple command."""
        return (
            self.pattern is None
            or _command_regex(self.pattern).fullmatch(_words(piece)) is not None
        )

    def denies_command(self, command: str) -> bool:
        if self.pattern is None:
            return True
        regex = _command_regex(self.pattern)
        return any(regex.fullmatch(_words(text)) for text in [command, *command_pieces(command)])

    def matches_text(self, call: ToolCall) -> bool:
        """Another tool's call: the pattern against its command or path, else its input."""
        if self.pattern is None:
            return True
        subject = call.input.get("command") or call.input.get("path")
        if not isinstance(subject, str):
            subject = json.dumps(call.input, sort_keys=True, ensure_ascii=False)
        return _command_regex(self.pattern).fullmatch(subject) is not None


def rules_allowing(rules: Sequence[Rule], command: str) -> list[Rule] | None:
    """The rules that together allow ``command`` (one per simple command in it), or None.

    Each simple command must match a rule of its own; a command that runs what no pattern
    can see must be named exactly by one rule.
    """
    pieces = split_command(command)
    if not pieces:
        exact = next((rule for rule in rules if rule.names_exactly(command)), None)
        return None if exact is None else [exact]
    used: list[Rule] = []
    for piece in pieces:
        rule = next((rule for rule in rules if rule.allows_piece(piece)), None)
        if rule is None:
            return None
        used += [] if rule in used else [rule]
    return used


def split_rules(text: str) -> list[str]:
    """``a(x, y),b`` → ``["a(x, y)", "b"]``: commas inside a rule's pattern stay in it."""
    rules, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth <= 0:
            rules.append(current)
            current = ""
        else:
            current += char
    rules.append(current)
    return [rule.strip() for rule in rules if rule.strip()]


def escape_pattern(text: str) -> str:
    """A pattern matching exactly ``text``."""
    return re.sub(r"([\\*?])", r"\\\1", text)


def split_command(command: str) -> list[str] | None:
    """The simple commands that ``command`` runs one after another (split at ``;``, ``&&``,
    ``||``, ``|``, ``&`` and newlines outside quotes), or None when it also substitutes,
    redirects or opens a subshell, or leaves a quote open."""
    return _scan(command, strict=True)


def command_pieces(command: str) -> list[str]:
    """Every piece of ``command`` that may run, cut at separators and at substitutions,
    redirections and subshells alike: what a denying rule looks at."""
    return _scan(command, strict=False) or []


def _scan(command: str, *, strict: bool) -> list[str] | None:
    pieces: list[str] = []
    current: list[str] = []
    quote = ""
    index = 0
    while index < len(command):
        char = command[index]
        cut = ""
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            current.append(command[index : index + 2])
            index += 2
            continue
        elif quote == '"' and not command.startswith(("$(", "`"), index):
            quote = "" if char == '"' else quote
        elif char in "'\"" and not quote:
            quote = char
        else:
            cut = next((s for s in _SEPARATORS if command.startswith(s, index)), "")
            if not cut and command.startswith(_COMPLEX, index):
                if strict:
                    return None
                cut = next(c for c in _COMPLEX if command.startswith(c, index))
        if cut:
            pieces.append("".join(current))
            current = []
            index += len(cut)
            continue
        current.append(char)
        index += 1
    if quote and strict:
        return None
    pieces.append("".join(current))
    return [piece.strip() for piece in pieces if piece.strip()]


def _words(text: str) -> str:
    return " ".join(text.split())


def _is_literal(pattern: str) -> bool:
    return re.search(r"(?<!\\)[*?]", pattern) is None and not pattern.endswith(":*")


def _unescape(pattern: str) -> str:
    return re.sub(r"\\(.)", r"\1", pattern)


@lru_cache(maxsize=512)
def _command_regex(pattern: str) -> re.Pattern[str]:
    """``*`` is any text, ``?`` one character; ``PREFIX:*`` is PREFIX, then a space and
    anything, or nothing."""
    if pattern.endswith(":*"):
        return re.compile(_glob(_words(pattern[:-2]), star=".*") + r"(?: .*)?", re.DOTALL)
    return re.compile(_glob(_words(pattern), star=".*"), re.DOTALL)


@lru_cache(maxsize=512)
def _path_regex(pattern: str, workdir: str) -> re.Pattern[str]:
    """``**`` crosses folders (``a/**`` is ``a`` and all below it), ``*`` and ``?`` do not."""
    expanded = os.path.expanduser(pattern)
    absolute = os.path.normpath(os.path.join(workdir, expanded))
    if pattern.endswith(("/", os.sep)) or expanded.endswith("/**"):
        absolute = absolute.removesuffix("/**")
        return re.compile(_glob(absolute, star="[^/]*") + "(?:/.*)?", re.DOTALL)
    return re.compile(_glob(absolute, star="[^/]*"), re.DOTALL)


def _glob(pattern: str, *, star: str) -> str:
    parts = []
    index = 0
    while index < len(pattern):
        if pattern[index] == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
        elif pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        else:
            char = pattern[index]
            parts.append({"*": star, "?": star.replace("*", "")}.get(char, re.escape(char)))
            index += 1
    return "".join(parts)
