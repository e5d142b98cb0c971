"""What ``parse_command`` gives: the simple commands a line runs, and what hides from view.

Split from the one shell_commands module: the values every part of the grammar's walk
fills in (``Found``) and hands back (``CommandLine``), apart from the walk itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "HARMLESS_FILES",
    "CommandLine",
    "Found",
    "SimpleCommand",
    "Unreadable",
    "Word",
]

HARMLESS_FILES = {"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty"}
"""Targets of a redirection or a log that write no file: the standard streams, the terminal."""


@dataclass(frozen=True)
class Word:
    """One word after quote removal; ``literal`` False when bash expands part of it
    (a variable, a substitution, a glob, a brace or tilde), so its value is unknown."""

    text: str
    literal: bool = True


@dataclass(frozen=True)
class SimpleCommand:
    """One program the line runs, with its arguments, quoting removed."""

    words: tuple[str, ...]
    """The program's name (its basename when written as a path), then its arguments."""
    raw: str
    """As written in the line, for deny rules that name the text."""
    assignments: tuple[str, ...] = ()
    """``NAME=value`` given to it that may change what it runs (``PATH``, ``LD_PRELOAD``…)."""
    path: str = ""
    """The program as written when it is a path (``/bin/rm``); ``words[0]`` is its name."""
    via: str = ""
    """What ran it, when not the shell itself (``sudo``, ``xargs``, ``find -exec``)."""
    open_args: bool = False
    """More arguments come from input (``xargs``, ``find -delete``): a rule must allow any."""
    effects: tuple[str, ...] = ()
    """What it does beyond reading (``writes out.txt``, ``runs configured programs``)."""
    unknown: tuple[str, ...] = ()
    """Its arguments that bash expands when it runs (``$HOME/x``, ``*.txt``), as written."""

    @property
    def text(self) -> str:
        """What allow rules match: the assignments that matter, the program, its arguments."""
        return " ".join([*self.assignments, *self.words])


@dataclass(frozen=True)
class CommandLine:
    """What one command line runs, as far as its text shows."""

    commands: tuple[SimpleCommand, ...] = ()
    opaque: tuple[str, ...] = ()
    """Why some of what it runs cannot be seen (empty: everything is in ``commands``)."""
    writes: tuple[str, ...] = ()
    """Files its redirections write (``/dev/null`` and the standard streams left out)."""
    written: tuple[str, ...] = ()
    """Each simple command as written, wrappers included (``sudo rm x``, ``bash -c 'rm x'``)."""
    reads: tuple[Word, ...] = ()
    """Files its redirections read (``< in.txt``)."""


class Unreadable(ValueError):
    """A line bash may read, but not in a way the rules can follow; the message says why."""


@dataclass
class Found:
    """What the walk has found so far; ``parse_command`` turns it into a ``CommandLine``."""

    commands: list[SimpleCommand] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)
    writes: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    reads: list[Word] = field(default_factory=list)
