"""Heredocs: where bash ends one, and what an unquoted body substitutes.

Split from the one shell_commands module: tree-sitter reads some delimiters otherwise
than bash (``<<E'O'F``), and does not show every substitution in a body, so both are
checked against the text and reported as opaque where the two may differ.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from .values import Found
from .words import descendants, node_text

__all__ = ["check_heredoc", "check_heredoc_extent", "is_quoted_heredoc"]


def check_heredoc(node: Node, found: Found) -> None:
    """An unquoted heredoc expands its body as a double-quoted string would, but
    tree-sitter does not show `` `…` `` there, nor always ``$(…)`` or ``${…}`` (never in
    a ``<<-`` body): a substitution that is not one of the body's nodes is unseen."""
    text = node_text(node)
    shown = {child.start_byte - node.start_byte for child in descendants(node, *_SUBSTITUTIONS)}
    for match in re.finditer(r"(?<!\\)(?:\\\\)*(`|\$[({[])", text):
        if match[1] == "`" or match.start(1) not in shown:
            found.opaque.append("a heredoc substitutes commands the grammar does not show")
            return


def is_quoted_heredoc(body: Node) -> bool:
    start = body.prev_named_sibling
    while start is not None and start.type != "heredoc_start":
        start = start.prev_named_sibling
    return start is not None and bool(re.search(r"['\"\\]", node_text(start)))


_SUBSTITUTIONS = ("command_substitution", "expansion", "arithmetic_expansion")
_HEREDOC_DELIMITER = re.compile(r"(\w[\w.-]*)|'(\w[\w.-]*)'|\"(\w[\w.-]*)\"|\\(\w[\w.-]*)")


def check_heredoc_extent(node: Node, found: Found) -> None:
    """Bash ends a heredoc at the first line that is its delimiter after quote removal
    (tabs stripped first, for ``<<-``); tree-sitter reads some delimiters otherwise
    (``<<E'O'F``, ``<<$'EOF'``), and then what it reads as the body bash may run."""
    start = next((c for c in node.children if c.type == "heredoc_start"), None)
    end = next((c for c in node.children if c.type == "heredoc_end"), None)
    plain = _HEREDOC_DELIMITER.fullmatch(node_text(start)) if start is not None else None
    if plain is None or end is None:
        found.opaque.append("a heredoc the grammar may end elsewhere than bash")
        return
    delimiter = next(group for group in plain.groups() if group)
    strip = "\t" if any(c.type == "<<-" for c in node.children) else ""
    source = node.text
    first_line = source.find(b"\n", start.end_byte - node.start_byte) + 1
    body_lines = source[first_line : end.start_byte - node.start_byte].split(b"\n")
    end_line = source[end.start_byte - node.start_byte :].split(b"\n", 1)[0]
    head = source[: end.start_byte - node.start_byte].rsplit(b"\n", 1)[-1]
    ends = [line.decode(errors="replace").lstrip(strip) == delimiter for line in body_lines[:-1]]
    whole_end = (head + end_line).decode(errors="replace").lstrip(strip)
    if first_line == 0 or any(ends) or whole_end != delimiter:
        found.opaque.append("a heredoc the grammar may end elsewhere than bash")
