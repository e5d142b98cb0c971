"""Permission rules: a tool and a pattern of its input, ``bash_tool(git status*)``, ``view(*)``.

Split from permissions.py: reading a rule and matching it against a call is its own
concern, with its own traps. A rule is ``TOOL`` or ``TOOL(PATTERN)``; ``TOOL`` may be a
glob (``inventory_*``), and ``TOOL`` alone or ``TOOL(*)`` matches every call of it.

- File tools (``view``, ``create_file``, ``str_replace``) match their path: a pattern is
  relative to the workspace unless absolute or ``~``, ``*`` stays within a folder name
  and ``**`` crosses folders (``create_file(docs/**)``). An allowing rule must match
  where the path really leads (symbolic links resolved); a denying one matches either.
- ``bash_tool`` matches the programs its command runs, as bash's grammar reads it
  (the ``shell_commands`` package): each simple command, wherever it sits (``ls; rm x``,
  ``a | b``, ``$(…)``, ``(…)``, ``bash -c '…'``), is its program and arguments with
  quoting removed and wrappers peeled (``/bin/rm``, ``\\rm``, ``'rm'``, ``sudo rm``,
  ``env X=1 rm``, ``xargs rm``, ``find -exec rm`` are all ``rm``; ``find -delete`` is an
  ``rm`` too). ``*`` is any text, and ``PREFIX:*`` is the prefix as a whole word followed
  by anything (``Bash(git:*)``, as skills write it). An allowing rule must match every
  simple command (a rule each); arguments that come from input (``xargs``) are matched
  only by a pattern that allows any more. A command with parts no pattern can see
  (``eval $x``, ``$cmd``, ``source``, a redirection that writes a file) is allowed only
  by a rule naming it exactly. A denying rule matches the whole command, any simple
  command as written, or any as normalised.
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
from .shell_commands.parse import parse_command
from .shell_commands.values import SimpleCommand

__all__ = [
    "COMMAND_TOOL",
    "FILE_TOOLS",
    "Rule",
    "escape_pattern",
    "rules_allowing",
    "split_rules",
]

COMMAND_TOOL = "bash_tool"
FILE_TOOLS = {"view": "read", "create_file": "write", "str_replace": "write"}
"""The file tools and what each does to its path."""
_ANY = "*"
_MORE = "\u2026"
"""Stands for arguments that come from input (``xargs rm``): only ``*`` matches it."""


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

    def allows_piece(self, piece: SimpleCommand) -> bool:
        """Whether this rule matches one simple command, as normalised."""
        text = f"{piece.text} {_MORE}" if piece.open_args else piece.text
        return self.pattern is None or _command_regex(self.pattern).fullmatch(text) is not None

    def denies_command(self, command: str) -> bool:
        """Whether this denying rule matches ``command``, any simple command in it as
        written, or any as normalised (with or without the assignments before it)."""
        if self.pattern is None:
            return True
        line = parse_command(command)
        texts = [command, *line.written]
        texts += [text for piece in line.commands for text in (piece.text, " ".join(piece.words))]
        regex = _command_regex(self.pattern)
        return any(regex.fullmatch(_words(text)) for text in texts)

    def matches_text(self, call: ToolCall) -> bool:
        """Another tool's call: the pattern against its command or path, else its input."""
        if self.pattern is None:
            return True
        subject = call.input.get("command") or call.input.get("path")
        if not isinstance(subject, str):
            subject = json.dumps(call.input, sort_keys=True, ensure_ascii=False)
        return _command_regex(self.pattern).fullmatch(subject) is not None


def rules_allowing(
    rules: Sequence[Rule], command: str, read_only: Sequence[Rule] = ()
) -> list[Rule] | None:
    """The rules that together allow ``command`` (one per simple command in it), or None.

    A rule naming the whole command exactly allows it. Otherwise each simple command
    must match a rule of its own, and nothing in it may hide from view or write a file
    by redirection. ``read_only`` rules (the read-only mode's) allow only a command that
    does nothing beyond reading (no ``sort -o``, no ``git``).
    """
    exact = next((rule for rule in rules if rule.names_exactly(command)), None)
    if exact is not None:
        return [exact]
    line = parse_command(command)
    if line.opaque or line.writes or not line.commands:
        return None
    used: list[Rule] = []
    for piece in line.commands:
        reading = read_only if not piece.effects else ()
        rule = next((rule for rule in [*rules, *reading] if rule.allows_piece(piece)), None)
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
