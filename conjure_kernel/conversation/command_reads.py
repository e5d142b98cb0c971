"""Where a read-only command reads: the files and folders its arguments name.

Split from permissions.py: knowing which argument of ``grep -f F -e P D`` is a file is a
table of programs, not a rule. ``read-only`` mode lets its built-in commands read the
workspace and the skills' folders only, so ``cat /etc/shadow``, ``ls ~``, ``cd /etc && cat
shadow``, ``cat < /etc/shadow`` or ``grep -r x link-out-of-the-workspace`` are asked about.

Each argument that may name a file is resolved against every folder the line may be in
(the workspace, and where its ``cd`` commands lead), links followed; a glob is expanded
as bash would; an argument bash computes when it runs (``$HOME``, ``$(…)``) or a file
list read from input (``xargs``) is unknown, and so asked about. A folder a command walks
(``grep -r``, ``find``, ``du``, ``ls -R``, ``diff -r``) is walked here too, up to
``WALK_LIMIT`` entries: a link in it leading out counts as a read outside where the
command follows links there (``grep -R``, ``find -L``, ``du -L``, ``diff -r``), and a
file with more than one hard link (it may be the same file as one outside) where it
reads what files hold (``grep``, ``diff``), not only their names and sizes.

This is a decision on the files as they are when the call is decided: the sandbox, not
this check, is the boundary against a process that changes them meanwhile.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from .shell_commands.values import CommandLine, SimpleCommand

__all__ = ["WALK_LIMIT", "line_folders", "outside_read", "shared_file"]

WALK_LIMIT = 50_000
"""Entries walked under the folders of one command before the read counts as unknown."""
_CD_LIMIT = 32
"""Folders a line may be in (through its ``cd`` commands) before it counts as unknown."""
_GLOB = frozenset("*?[")


@dataclass(frozen=True)
class _Program:
    """How a program's arguments name files."""

    values: str = ""
    """Short options whose value is not a file (``head -n 5``)."""
    long_values: frozenset[str] = frozenset()
    files: str = ""
    """Short options whose value is a file (``grep -f FILE``)."""
    long_files: frozenset[str] = frozenset()
    pattern_first: bool = False
    """The first operand is a pattern unless ``-e``/``-f`` gave one (``grep``)."""
    walks: str = ""
    """Short options that make it walk folders; ``*``: it always does."""
    long_walks: frozenset[str] = frozenset()
    follows: str = ""
    """Short options that make it follow links as it walks; ``*``: it always does."""
    long_follows: frozenset[str] = frozenset()
    contents: bool = False
    """Whether it reads what the files it walks hold (not only names and sizes)."""
    default: str = ""
    """The folder it reads when given no operand (``.``), if any."""


def _set(*names: str) -> frozenset[str]:
    return frozenset(names)


_PROGRAMS: dict[str, _Program] = {
    "cat": _Program(),
    "head": _Program("nc", _set("--lines", "--bytes")),
    "tail": _Program("ncs", _set("--lines", "--bytes", "--pid", "--sleep-interval")),
    "wc": _Program(),
    "grep": _Program(
        "eABCmdD",
        _set("--regexp", "--max-count", "--after-context", "--before-context", "--context")
        | _set("--directories", "--devices", "--include", "--exclude", "--label", "--color"),
        "f",
        _set("--file", "--exclude-from"),
        pattern_first=True,
        walks="rR",
        long_walks=_set("--recursive", "--dereference-recursive"),
        follows="R",
        long_follows=_set("--dereference-recursive"),
        contents=True,
    ),
    "sort": _Program("ktST", _set("--key", "--field-separator", "--buffer-size", "--parallel")),
    "uniq": _Program("fsw", _set("--skip-fields", "--skip-chars", "--check-chars")),
    "cut": _Program("bcdf", _set("--bytes", "--characters", "--delimiter", "--fields")),
    "diff": _Program(
        "ICFUWx",
        _set("--label", "--tabsize", "--width", "--exclude"),
        "X",
        _set("--exclude-from"),
        walks="r",
        long_walks=_set("--recursive"),
        follows="*",
        contents=True,
    ),
    "stat": _Program("c", _set("--format", "--printf")),
    "du": _Program(
        "dBt",
        _set("--max-depth", "--block-size", "--threshold"),
        "X",
        walks="*",
        follows="L",
        long_follows=_set("--dereference"),
    ),
    "ls": _Program(
        "IwT",
        _set("--hide", "--ignore", "--width", "--tabsize", "--format", "--sort", "--time"),
        walks="R",
        long_walks=_set("--recursive"),
        follows="L",
        long_follows=_set("--dereference"),
        default=".",
    ),
    "realpath": _Program(),
}
"""The built-in read-only commands that read files; a program missing here and from
``_READS_NOTHING`` (one a configured read-only rule names) has every operand and option
value taken as a file."""
_READS_NOTHING = frozenset(
    {"echo", "printf", "pwd", "true", "false", "tr", "which", "basename", "dirname", ":"}
)
_FIND_FILES = frozenset({"-newer", "-anewer", "-cnewer", "-samefile", "-files0-from"})
_FIND_VALUES = frozenset({"-D", "-O"})


@dataclass(frozen=True)
class _Walk:
    """How a command walks the folders it is given."""

    follows: bool
    """It follows links below them (so a link out is a read outside)."""
    contents: bool
    """It reads the files (so a file shared by hard links is a read outside)."""


def outside_read(
    line: CommandLine,
    pieces: Sequence[SimpleCommand],
    workdir: str,
    readable: Callable[[str], bool],
) -> str | None:
    """What ``pieces`` of ``line`` may read outside the places ``readable`` accepts (a
    resolved path, or why it is unknown), or None when every read stays inside."""
    folders = line_folders(line, workdir)
    if isinstance(folders, str):
        return folders
    for piece in pieces:
        if piece.open_args:
            return f"the files `{piece.words[0]}` reads come from its input"
        if any(word.startswith("--files0-from") for word in piece.words):
            return f"the files a list names (`{piece.words[0]} --files0-from`)"
        walk = _walk_of(piece)
        for argument in _file_arguments(piece):
            if argument in piece.unknown and not _only_globbed(argument):
                return f"`{argument}`, known only when it runs"
            if re.match(r"~[-+\d]", argument):  # ~+ is $PWD, ~- $OLDPWD, ~N the dir stack
                return f"`{argument}`, a folder the shell keeps"
            for folder in folders:
                outside = _outside(folder, argument, readable, walk)
                if outside is not None:
                    return outside
    for target in line.reads:
        if not target.literal and not _only_globbed(target.text):
            return f"`{target.text}`, known only when it runs"
        for folder in folders:
            if (outside := _outside(folder, target.text, readable, None)) is not None:
                return outside
    return None


def shared_file(real: str) -> int:
    """How many hard links the regular file ``real`` has when more than one (it may be a
    file outside under another name), else 0."""
    try:
        info = os.stat(real)
    except OSError:
        return 0
    return info.st_nlink if stat.S_ISREG(info.st_mode) and info.st_nlink > 1 else 0


def line_folders(line: CommandLine, workdir: str) -> list[str] | str:
    """Every folder the line's commands may run in: the workspace and where each ``cd``
    leads from any of them (order aside: ``(cd a); cat ../x`` runs in the workspace), or
    why they cannot be known."""
    targets = []
    for piece in (piece for piece in line.commands if piece.words[0] == "cd"):
        operands = [word for word in piece.words[1:] if not word.startswith("-") or word == "-"]
        if len(operands) != 1 or operands[0] == "-" or operands[0] in piece.unknown:
            return "a `cd` whose folder is known only when it runs"
        if re.match(r"~[-+\d]", operands[0]):  # $PWD, $OLDPWD, the folder stack
            return f"a `cd` to `{operands[0]}`, a folder the shell keeps"
        if os.environ.get("CDPATH") and not operands[0].startswith(("/", ".")):
            return "a `cd` that CDPATH may send elsewhere"
        targets.append(operands[0])
    folders = [workdir]
    for _ in targets:
        for operand in targets:
            for folder in list(folders):
                logical = os.path.normpath(_joined(folder, operand))  # how `cd` goes by default
                for target in (
                    os.path.realpath(logical),
                    os.path.realpath(_joined(folder, operand)),
                ):
                    if target not in folders:
                        folders.append(target)
        if len(folders) > _CD_LIMIT:
            return "a line that `cd`s into too many folders to follow"
    return folders


def _file_arguments(piece: SimpleCommand) -> list[str]:
    """The arguments of ``piece`` that may name files or folders it reads."""
    name, arguments = piece.words[0], list(piece.words[1:])
    if name in _READS_NOTHING or name == "cd":
        return []
    if name == "find":
        return _find_arguments(arguments)
    program = _PROGRAMS.get(name, _Program())
    files, operands, index, pattern_given = [], [], 0, False
    while index < len(arguments):
        word = arguments[index]
        index += 1
        if word == "--":
            operands += arguments[index:]
            break
        if word == "-" or not word.startswith("-"):
            operands += [] if word == "-" else [word]
            continue
        if word.startswith("--"):
            option, equals, value = word.partition("=")
            pattern_given = pattern_given or option in ("--regexp", "--file")
            if option in program.long_values:
                index += not equals
            elif option in program.long_files and not equals and index < len(arguments):
                files.append(arguments[index])
                index += 1
            elif equals:
                files.append(value)
            continue
        for at, letter in enumerate(word[1:], 1):
            pattern_given = pattern_given or (letter in "ef" and program.pattern_first)
            if letter in program.values or letter in program.files:
                value = word[at + 1 :]
                if not value and index < len(arguments):
                    value, index = arguments[index], index + 1
                files += [value] if letter in program.files and value else []
                break
    if program.pattern_first and not pattern_given:
        operands = operands[1:]
    if not operands and (program.default or _walk_of(piece)):
        operands = [program.default or "."]
    return [*files, *operands]


def _find_arguments(arguments: list[str]) -> list[str]:
    """``find [-H|-L|-P] [-D x] [-O n] PATH… EXPRESSION``: the paths (``.`` when none)
    and the files its tests compare with (``-newer F``)."""
    index, paths, files = 0, [], []
    while index < len(arguments) and arguments[index] in ("-H", "-L", "-P", *_FIND_VALUES):
        index += 1 + (arguments[index] in _FIND_VALUES)
    while index < len(arguments) and not arguments[index].startswith(("-", "(", "!", ")", ",")):
        paths.append(arguments[index])
        index += 1
    for at in range(index, len(arguments) - 1):
        if arguments[at] in _FIND_FILES or arguments[at].startswith("-newer"):
            files.append(arguments[at + 1])
    return [*(paths or ["."]), *files]


def _walk_of(piece: SimpleCommand) -> _Walk | None:
    """How ``piece`` walks folders (what is in them and below), if it does."""
    name, words = piece.words[0], piece.words[1:]
    if name == "find":
        return _Walk(follows=bool({"-L", "-follow"} & set(words)), contents=False)
    program = _PROGRAMS.get(name)
    if program is None or not program.walks:
        return None
    walks = program.walks == "*" or _has_option(words, program.walks, program.long_walks)
    if name == "grep":
        walks = walks or "recurse" in words or "--directories=recurse" in words
    if not walks:
        return None
    follows = program.follows == "*" and "--no-dereference" not in words
    follows = follows or _has_option(words, program.follows, program.long_follows)
    return _Walk(follows, program.contents)


def _has_option(words: Sequence[str], short: str, long: frozenset[str]) -> bool:
    """Whether ``words`` give one of the ``short`` letters or ``long`` options."""
    for word in words:
        if word == "--":
            return False
        if word.startswith("--"):
            if word.partition("=")[0] in long:
                return True
        elif word.startswith("-") and short and set(word[1:]) & set(short.strip("*")):
            return True
    return False


def _outside(
    folder: str, argument: str, readable: Callable[[str], bool], walk: _Walk | None
) -> str | None:
    """The first place ``argument`` (run in ``folder``) reads that is not readable."""
    for path in _expanded(folder, argument):
        real = os.path.realpath(path)
        if not readable(real):
            return real
        if walk is not None and os.path.isdir(real):
            found = _walk_outside(real, readable, walk)
            if found is not None:
                return found
    return None


def _expanded(folder: str, argument: str) -> list[str]:
    """The paths bash would give for ``argument`` in ``folder``: the word itself, and what
    it matches as a glob."""
    path = _joined(folder, argument)
    if not _GLOB & set(argument):
        return [path]
    parts = path.split(os.sep)
    parents = [  # `.*` matches `..` in a bash without globskipdots (before 5.2)
        os.sep.join([*parts[:at], ".."])
        for at, part in enumerate(parts)
        if part.startswith(".") and _GLOB & set(part) and fnmatch.fnmatchcase("..", part)
    ]
    return [path, *parents, *glob.glob(path)]


def _walk_outside(top: str, readable: Callable[[str], bool], walk: _Walk) -> str | None:
    """Below ``top``: a link out of the readable places that ``walk`` follows, or a file
    shared by hard links whose content it reads."""
    if not (walk.follows or walk.contents):
        return None
    for count, entry in enumerate(_entries(top)):
        if count >= WALK_LIMIT:
            return f"{top}, a folder of more than {WALK_LIMIT:,} entries, not checked"
        if entry.is_symlink():
            real = os.path.realpath(entry.path)
            if walk.follows and not readable(real):
                return f"{real} (through the link {entry.path})"
        elif walk.contents and entry.is_file(follow_symlinks=False) and shared_file(entry.path):
            return f"{entry.path} (a file with several hard links)"
    return None


def _entries(top: str) -> Iterator[os.DirEntry[str]]:
    pending = [top]
    while pending:
        try:
            with os.scandir(pending.pop()) as found:
                entries = list(found)
        except OSError:
            continue
        for entry in entries:
            yield entry
            if entry.is_dir(follow_symlinks=False):
                pending.append(entry.path)


def _joined(folder: str, argument: str) -> str:
    """``argument`` as the kernel finds it from ``folder``: not normalised, since
    ``link/..`` is the parent of the link's target, not ``folder``."""
    return os.path.join(folder, os.path.expanduser(argument))


def _only_globbed(argument: str) -> bool:
    """Whether the only expansion bash does in ``argument`` is a glob (no ``$``, no
    backquote, no brace list), which is expanded here as bash would."""
    return not set(argument) & set("$`{")
