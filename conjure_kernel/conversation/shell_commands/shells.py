"""Wrappers that hand a string to a shell: ``bash -c``, ``eval``, ``trap``/``alias``, ``script -c``.

Split from the one shell_commands module, beside wrappers.py (which peels the wrappers
that start a program): a literal string is read as a line of its own, and a shell that
reads a script, its input or start-up files runs what the rules cannot see.
"""

from __future__ import annotations

from .options import given_values, permuted_options
from .values import HARMLESS_FILES, Found, SimpleCommand, Word

__all__ = [
    "SHELLS",
    "note_shell_reading_input",
    "peel_eval",
    "peel_later",
    "peel_script",
    "peel_shell",
    "read_strings",
]

SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"}


def note_shell_reading_input(command: SimpleCommand, found: Found) -> None:
    found.opaque.append(f"`{command.words[0]}` starts a shell that reads commands from input")


def read_strings(
    strings: list[Word | None], command: SimpleCommand, found: Found, depth: int
) -> None:
    """Each command string a wrapper hands to a shell, read as a line of its own."""
    for string in strings:
        if string is None or not string.literal:
            found.opaque.append(f"`{command.words[0]}` runs a string known only when it runs")
        else:
            _read_line(string.text, found, depth + 1)


def peel_script(args, command, found, depth):
    """``script [-c STRING] [FILE]``: the string is a shell line (without one, a shell
    reads input); it writes its typescript to FILE and its logs."""
    options, operands = permuted_options(args, _SCRIPT_VALUES)
    strings = given_values(options, "c", "--command")
    if not strings:
        note_shell_reading_input(command, found)
    read_strings(strings, command, found, depth)
    logs = given_values(
        options, "I", "O", "B", "T", "--log-in", "--log-out", "--log-io", "--log-timing"
    )
    for target in [*logs, *(operands[:1] or [Word("typescript")])]:
        if target is None or not (target.literal and target.text in HARMLESS_FILES):
            found.writes.append("?" if target is None else target.text)
    return [command]


_SCRIPT_VALUES = {"c", "I", "O", "B", "T", "m", "E", "o", "--command", "--log-in", "--log-out"}
_SCRIPT_VALUES |= {"--log-io", "--log-timing", "--logging-format", "--echo", "--output-limit"}


def peel_shell(args, command, found, depth):
    """``bash -c 'literal'`` runs what the literal says, parsed as a line of its own; a
    shell reading a script (a file, ``-s``, its input) runs what the rules cannot read,
    and so does one started with a variable that changes what it runs (``BASH_ENV``)."""
    index, has_c, startup = 0, False, False
    while (
        index < len(args) and args[index].text[:1] in "-+" and args[index].text not in ("-", "--")
    ):
        text = args[index].text
        index += 1
        if text in ("-o", "+o", "-O", "+O", "--rcfile", "--init-file"):
            index += 1
        has_c = has_c or (not text.startswith("--") and "c" in text)
        startup = (
            startup
            or text in ("--login", "--rcfile", "--init-file")
            or (not text.startswith("--") and bool(set(text) & {"i", "l"}))
        )
    index += index < len(args) and args[index].text == "--"
    if startup or not all(word.literal for word in args[:index]):
        found.opaque.append(
            f"`{command.words[0]}` reads start-up files or options known only when it runs"
        )
    if command.assignments:
        found.opaque.append(
            f"`{command.words[0]}` starts with {command.assignments[0].split('=')[0]} set,"
            " which changes what it runs"
        )
    if not has_c:
        if [word.text for word in args] not in (["--version"], ["--help"]):
            found.opaque.append(f"`{command.words[0]}` runs a script the rules cannot read")
        return [command]
    if index >= len(args) or not args[index].literal:
        found.opaque.append(f"`{command.words[0]} -c` runs a string known only when it runs")
        return [command]
    if command.open_args or "{}" in args[index].text:
        found.opaque.append(f"`{command.words[0]} -c` runs a string that input fills in")
    _read_line(args[index].text, found, depth + 1)
    return []


def peel_eval(args, command, found, depth):
    """``eval 'literal'`` runs the literal's words as a line; anything else is unseen."""
    args = args[1:] if args and args[0].text == "--" else args
    if not args or not all(word.literal for word in args):
        found.opaque.append("`eval` runs a string known only when it runs")
        return [command]
    _read_line(" ".join(word.text for word in args), found, depth + 1)
    return []


def peel_later(args, command, found, depth):
    """``trap 'cmd' SIG`` and ``alias name='cmd'`` run their string later, out of the
    rules' sight; what the string names still meets the deny rules."""
    found.opaque.append(f"`{command.words[0]}` sets commands that run later")
    strings = [word for word in args if word.literal and not word.text.startswith("-")]
    if command.words[0] == "alias":
        strings = [Word(word.text.split("=", 1)[1]) for word in strings if "=" in word.text]
    for word in strings[:1] if command.words[0] == "trap" else strings:
        _read_line(word.text, found, depth + 1)
    return [command]


def _read_line(text: str, found: Found, depth: int) -> None:
    """Read a string a shell runs as a line of its own (``depth`` counts the nesting).

    ``read_line`` is imported here, not at the top: the walk in parse.py peels wrappers,
    which lead here, so the two modules need each other, as bash itself recurses
    (``bash -c 'eval …'``).
    """
    from .parse import read_line

    read_line(text, found, depth)
