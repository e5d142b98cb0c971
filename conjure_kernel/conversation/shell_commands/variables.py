"""Builtins, declarations and assignments that set variables, and when that hides what runs.

Split from the one shell_commands module: a name can carry a subscript (arithmetic that
runs ``$(…)``), and setting ``PATH`` or ``LD_PRELOAD`` changes what every later
command runs; these checks report such names as opaque.
"""

from __future__ import annotations

import re
from itertools import pairwise

from tree_sitter import Node

from .options import given_values, read_options, skip_options
from .values import Found, Word
from .words import node_text, read_word

__all__ = [
    "NAMERS",
    "check_assignment_alone",
    "check_declaration",
    "read_assignment",
    "risky_assignment",
    "unset_names",
    "variables_named",
]

_HARMLESS_VARIABLES = re.compile(
    r"LC_\w+|LANG|LANGUAGE|TZ|TERM|COLUMNS|LINES|NO_COLOR|[a-z_][a-z0-9_]*"
)
"""Assignments that change no program's code: locale, display, and shell-local names."""


def variables_named(name: str, assigned: list[Word], inspected: list[Word], found: Found) -> None:
    """A builtin that sets or looks up variables by name: ``a[$(cmd)]`` as a name runs cmd
    (the subscript is arithmetic), and setting ``PATH`` changes what runs after."""
    for word in [*assigned, *inspected]:
        if not word.literal:
            found.opaque.append(f"`{name}` names a variable known only when it runs")
        elif "[" in word.text:
            found.opaque.append(
                f"`{name}` names an array element, whose subscript can run commands"
            )
    for word in assigned:
        if word.literal and "[" not in word.text and risky_assignment(word.text, word.text):
            found.opaque.append(f"`{name}` sets {word.text}, which can change what runs")


def _read_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    options, index = read_options(args, {"a", "d", "i", "n", "N", "p", "t", "u"})
    return [*filter(None, given_values(options, "a")), *args[index:]], []


def _option_names(option: str):
    """A builtin that sets the variable its ``-X NAME`` option names (``printf -v``)."""

    def names(args: list[Word]) -> tuple[list[Word], list[Word]]:
        options, _ = read_options(args, {option})
        return [word or Word("", literal=False) for word in given_values(options, option)], []

    return names


def _getopts_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    return args[1:2], []


def _test_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    return [], [word for flag, word in pairwise(args) if flag.text == "-v"]


def unset_names(args: list[Word]) -> tuple[list[Word], list[Word]]:
    return [], args[skip_options(args, set()) :]


NAMERS = {
    "read": _read_names,
    "printf": _option_names("v"),
    "wait": _option_names("p"),
    "getopts": _getopts_names,
    "test": _test_names,
    "[": _test_names,
    "unset": unset_names,
}
"""Builtins that name variables, and the names each sets and looks up."""


def check_declaration(node: Node, found: Found) -> None:
    """``export``/``declare``/``local``/``typeset``/``readonly``: ``-i`` evaluates
    arithmetic, ``-n`` makes a name a reference to another (``PATH``, ``a[$(cmd)]``),
    a subscript in a name is arithmetic; each argument is read after quote removal."""
    keyword = node_text(node.children[0])
    for child in node.children[1:]:
        if child.type in ("variable_assignment", "comment") or not child.is_named:
            continue
        value = read_word(child)
        if not value.literal:
            found.opaque.append(f"`{keyword}` declares a name known only when it runs")
        elif value.text[:1] in "-+":
            if "i" in value.text:
                found.opaque.append(f"`{keyword} -i` evaluates arithmetic, which can run commands")
            if "n" in value.text and keyword != "export":  # export -n only unexports
                found.opaque.append(f"`{keyword} -n` makes a name stand for another variable")
        elif "[" in value.text.split("=", 1)[0]:
            found.opaque.append("an array subscript is arithmetic, whose value can run commands")
        elif "=" in value.text and risky_assignment(value.text.split("=", 1)[0], value.text):
            found.opaque.append(
                f"`{keyword}` sets {value.text.split('=', 1)[0]}, which can change what runs"
            )


def risky_assignment(name: str, assignment: str) -> list[str]:
    """``[assignment]`` when the variable may change what a program runs."""
    return [] if _HARMLESS_VARIABLES.fullmatch(name) else [assignment]


def read_assignment(node: Node, found: Found) -> list[str]:
    name = node_text(node.child_by_field_name("name"))
    value = node.child_by_field_name("value")
    shown = f"{name}={read_word(value).text if value is not None else ''}"
    if "[" in name:
        found.opaque.append("an array subscript is arithmetic, whose value can run commands")
    return risky_assignment(name.split("[", 1)[0], shown)


def check_assignment_alone(node: Node, found: Found) -> None:
    """``PATH=/x`` on its own changes what every later command runs (an exported name
    stays exported)."""
    if node.parent is not None and node.parent.type == "command":
        return
    if read_assignment(node, found):
        found.opaque.append(
            f"it sets {node_text(node.child_by_field_name('name'))}, which can change what runs"
        )
