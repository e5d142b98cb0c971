"""Arithmetic, subscripts and ``${…}`` forms, whose value bash evaluates and which can run commands.

Split from the one shell_commands module: ``a[$(cmd)]`` in a value, ``${!x}``,
``${x@P}`` and `` ${x:-`cmd`} `` run commands the grammar does not show as commands;
only numbers and operators are followed, anything else is reported as opaque.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from .values import Found
from .words import descendants, node_text

__all__ = ["check_arithmetic", "check_expansion", "check_subscript", "is_arithmetic_test"]

_ARITHMETIC_TESTS = {"-eq", "-ne", "-lt", "-le", "-gt", "-ge"}


def is_arithmetic_test(node: Node) -> bool:
    """``[[ x -lt y ]]`` evaluates x and y as arithmetic (``[``/``test`` do not)."""
    if node_text(node.child_by_field_name("operator")) not in _ARITHMETIC_TESTS:
        return False
    test = node.parent
    while test is not None and test.type != "test_command":
        test = test.parent
    return test is not None and test.children[0].type == "[["


_NUMBER = re.compile(r"\d+|0[xX][0-9a-fA-F]+|\d+#[0-9A-Za-z@_]+")
_ARITHMETIC_NODES = {"binary_expression", "unary_expression", "ternary_expression"}
_ARITHMETIC_NODES |= {"parenthesized_expression", "test_operator", "number"}


def check_arithmetic(nodes: list[Node | None], found: Found) -> None:
    """Bash evaluates arithmetic after quote removal and expansion, and a name's value is
    arithmetic too, where ``a[$(cmd)]`` runs cmd: only numbers and operators are seen."""
    for node in filter(None, nodes):
        why = _unplain_arithmetic(node)
        if why:
            found.opaque.append(why)
            return


def _unplain_arithmetic(node: Node) -> str:
    """Why ``node`` is arithmetic the rules cannot follow, or "" for numbers and operators."""
    if not node.is_named or node.type == "comment":
        return ""
    if node.type in ("word", "variable_name") and _NUMBER.fullmatch(node_text(node)):
        return ""  # tree-sitter reads 0x1f as a name
    if node.type in ("variable_name", "simple_expansion", "expansion") or (
        node.type == "word" and re.fullmatch(r"[A-Za-z_]\w*", node_text(node))
    ):
        return "arithmetic on a variable, whose value can run commands"
    if node.type not in _ARITHMETIC_NODES:
        return "arithmetic on a quoted or substituted value, which can run commands"
    return next(filter(None, map(_unplain_arithmetic, node.children)), "")


def check_subscript(index: Node | None, found: Found) -> None:
    """An array subscript is arithmetic, but ``[@]`` and ``[*]`` are all elements."""
    if index is not None and not (index.type == "word" and node_text(index) in ("@", "*")):
        check_arithmetic([index], found)


def check_expansion(node: Node, found: Found) -> None:
    """``${…}`` forms that run what a value says: indirection (``${!x}``, where x may be
    ``a[$(cmd)]``), the ``@P``/``@E`` transforms, an offset (arithmetic), and commands
    substituted in a default the grammar reads as a word (`` ${x:-`cmd`} ``)."""
    text = node_text(node)
    if text.startswith("${!") and not re.fullmatch(r"\$\{!\w+(\*|@|\[[@*]\])\}", text):
        found.opaque.append("an indirect expansion runs what a variable's value says")
    if re.search(r"@[PE]\}$", text):
        found.opaque.append("a prompt or escape transform can run commands")
    if re.match(r"\$\{[#!]?\w+:[^-=+?]", text):
        check_arithmetic(node.children[3:], found)
    substituted = len(re.findall(r"`|\$\((?!\()", text))
    if substituted > len(list(descendants(node, "command_substitution"))):
        found.opaque.append("a parameter expansion substitutes commands the grammar does not show")
