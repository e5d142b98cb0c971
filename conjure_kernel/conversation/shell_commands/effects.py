"""What a read-only program may do beyond reading, as far as its arguments show.

Split from the one shell_commands module: the read-only mode's built-in commands must
have no effects (``sort -o``, ``tee``, ``sed -i``, a pager's shell escape), and judging
that is a table of programs apart from reading the line.
"""

from __future__ import annotations

import re
from itertools import pairwise

from .values import SimpleCommand, Word

__all__ = ["effects_of"]

_PAGERS = {"less", "more", "most", "pg", "man", "vi", "vim", "view", "nano", "emacs", "ed"}


def effects_of(name: str, args: list[Word], command: SimpleCommand) -> tuple[str, ...]:
    """What a program does beyond reading, as far as its arguments show; what cannot be
    shown (an argument known only when it runs) counts as an effect."""
    checker = _EFFECTS.get(name)
    if checker is None:
        return ()
    if command.open_args or not all(word.literal for word in args):
        return ("its arguments are known only when it runs",)
    return checker([word.text for word in args])


def _option(args: list[str], short: str, long: str) -> bool:
    """Whether ``-X``/``-aX…`` or ``--long[=…]`` (or an abbreviation of it, as getopt takes)
    is among ``args``."""
    for arg in args:
        if arg == "--":
            return False
        if arg.startswith("--"):
            name = arg[2:].split("=", 1)[0]
            if name and long.startswith(name):
                return True
        elif arg.startswith("-") and short in arg[1:]:
            return True
    return False


def _sort_effects(args: list[str]) -> tuple[str, ...]:
    effects = ("writes its output to a file",) if _option(args, "o", "output") else ()
    if any(arg.startswith("--com") for arg in args):
        effects += ("runs a compress program",)
    return effects


def _uniq_effects(args: list[str]) -> tuple[str, ...]:
    index, operands = 0, []
    while index < len(args):
        arg = args[index]
        index += 1 + (arg in ("-f", "-s", "-w"))
        operands += [] if arg.startswith("-") and arg != "-" else [arg]
    return ("writes its second operand",) if len(operands) > 1 else ()


def _find_effects(args: list[str]) -> tuple[str, ...]:
    written = [b for a, b in pairwise(args) if a in ("-fprint", "-fprint0", "-fprintf", "-fls")]
    return tuple(f"writes {path}" for path in written)


def _sed_effects(args: list[str]) -> tuple[str, ...]:
    if _option(args, "i", "in-place"):
        return ("edits files in place",)
    script = " ".join(arg for arg in args if not arg.startswith("-"))
    return ("its script may write or run (w, e)",) if re.search(r"[wWe]", script) else ()


def _awk_effects(args: list[str]) -> tuple[str, ...]:
    script = " ".join(args)
    return ("its program may write or run",) if re.search(r"system|[|>]|getline|-f", script) else ()


_EFFECTS = {
    "sort": _sort_effects,
    "uniq": _uniq_effects,
    "find": _find_effects,
    "sed": _sed_effects,
    "awk": _awk_effects,
    "gawk": _awk_effects,
    "mawk": _awk_effects,
    "tee": lambda args: ("writes its files",),
    **{pager: (lambda args: ("an interactive program can run commands",)) for pager in _PAGERS},
}
