"""A word's value as bash reads it: quote removal, ``$'…'`` escapes, and whether it expands.

Split from the one shell_commands module: reading one syntax node's text into a ``Word``
is the grammar's smallest job, used by every other part of the walk.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

from tree_sitter import Node

from .values import Unreadable, Word

__all__ = ["descendants", "node_text", "read_word"]

_BRACES = re.compile(r"(?<!\\)\{[^{}]*(,|\.\.)[^{}]*\}")
"""A brace expansion (``{a,b}``, ``{1..3}``): one word becomes several."""


def node_text(node: Node | None) -> str:
    return "" if node is None else node.text.decode(errors="replace")


def read_word(node: Node) -> Word:
    """A word's value after quote removal, and whether bash would expand it further."""
    kind = node.type
    text = node_text(node)
    if kind == "word":
        return _unquoted(text)
    if kind in ("number", "test_operator", "variable_name"):
        return _unquoted(text)
    if kind == "raw_string":
        return Word(text[1:-1])
    if kind == "ansi_c_string":
        return Word(_ansi_c(text[2:-1]))
    if kind == "translated_string":
        return read_word(node.children[-1])
    if kind == "string":
        parts = [read_word(child) for child in node.children if child.type not in ('"',)]
        return Word("".join(p.text for p in parts), all(p.literal for p in parts))
    if kind == "string_content":
        return Word(re.sub(r'\\([$`"\\\n])', lambda m: "" if m[1] == "\n" else m[1], text))
    if kind == "concatenation":
        parts = [read_word(child) for child in node.children]
        bare = "".join(node_text(c) if c.type == "word" else "\0" for c in node.children)
        braced = _BRACES.search(bare) is not None  # {a,b}.txt: tree-sitter splits the braces
        return Word("".join(p.text for p in parts), all(p.literal for p in parts) and not braced)
    return Word(text, literal=False)


def _unquoted(text: str) -> Word:
    """An unquoted word: backslashes quote the next character; unescaped glob, brace and
    tilde characters make bash expand it."""
    value, expands, index = [], False, 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            value.append(text[index + 1])
            index += 2
            continue
        expands = expands or char in "*?$"
        value.append(char)
        index += 1
    globbed = re.search(r"(?<!\\)\[.*\]", text) is not None or _BRACES.search(text) is not None
    return Word("".join(value), not (expands or globbed))


_ANSI_C = {
    "n": "\n",
    "t": "\t",
    "r": "\r",
    "a": "\a",
    "b": "\b",
    "e": "\x1b",
    "E": "\x1b",
    "f": "\f",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
}


def _ansi_c(body: str) -> str:
    """A ``$'…'`` string's value: its backslash escapes decoded as bash does, up to the
    first NUL (``\\0``, ``\\x00``, ``\\c@``), where bash's C string ends."""

    def decode(match: re.Match[str]) -> str:
        escape = match[1]
        if escape in ("x", "u", "U", "c"):  # no digits or character follow: kept as written
            return "\\" + escape
        if escape[0] in "xuU":
            point = int(escape[1:], 16)
            if point > sys.maxunicode:
                raise Unreadable("a `$'…'` string names a character beyond Unicode")
            return chr(point)
        if escape[0].isdigit():
            return chr(int(escape, 8) & 0xFF)
        if escape[0] == "c":
            return chr(ord(escape[1].upper()) ^ 0x40)
        return _ANSI_C.get(escape, "\\" + escape)

    value = re.sub(
        r"\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)",
        decode,
        body,
        flags=re.S,
    )
    return value.split("\0", 1)[0]


def descendants(node: Node, *types: str) -> Iterator[Node]:
    """Every node below ``node`` of one of ``types``, in source order."""
    for child in node.children:
        if child.type in types:
            yield child
        yield from descendants(child, *types)
