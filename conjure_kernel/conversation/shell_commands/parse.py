"""What a bash command line really runs, read with bash's own grammar (tree-sitter-bash).

Permission rules match programs, so they need the simple commands a line would run, not
its text: a scanner is fooled by what bash reads differently (a ``#'`` comment, a
``$'…'`` string, ``r\\⏎m``), and a rule on ``rm`` must also see ``/bin/rm``, ``\\rm``,
``command rm``, ``sudo rm`` or ``find -delete``. ``parse_command`` gives

- every simple command the line may run, wherever it sits (pipelines, lists, subshells,
  ``$(…)`` and backticks, process substitutions, heredocs, ``if``/``for``/``while``/
  ``case`` bodies, function bodies, ``bash -c 'literal'``, ``eval 'literal'``), each as
  its program and arguments with quoting removed, after peeling the wrappers that run
  another program (``env``, ``nice``, ``timeout``, ``sudo``, ``xargs``, ``find -exec``…);
- what the grammar cannot see through (``opaque``): ``source``, ``eval`` or ``sh -c`` of a
  non-literal string, a shell reading a script or its input, a shell started with
  ``BASH_ENV``/``PATH``…, a program that is a variable, a glob or a substitution, a call
  of a function the line defines, arithmetic on anything but numbers (``a[$(…)]`` in a
  value or a quoted string runs), names given to ``declare``/``read``/``printf -v``/
  ``[[ -v`` that hold a subscript, ``declare -n``, ``${!x}`` and ``${x@P}``, a heredoc
  the grammar may end elsewhere than bash, configuration that runs programs
  (``git -c``, ``PATH=…``), a parse error, and any line the parser fails to read;
- the files its redirections write, and per command what it does beyond reading
  (``effects``: ``sort -o``, ``tee``, ``git``'s configured programs…), which the
  read-only mode's built-in commands must not have.

``find … -delete`` is reported as a synthetic ``rm`` (with unknown arguments), so that a
rule on ``rm`` sees it. Tree-sitter is tolerant where bash is not: a line it cannot parse
cleanly is opaque, and its known slips are corrected here (line continuations, words
after a redirection, backticks in heredocs).

This module walks the syntax tree; the package's other modules hold its parts:

- values.py: what the walk gives (``CommandLine``, ``SimpleCommand``, ``Word``);
- words.py: a word's value after quote removal;
- wrappers.py and shells.py: peeling what runs another program or a string;
- variables.py, expansions.py, heredocs.py: what hides commands from view;
- effects.py: what a read-only program may do beyond reading;
- options.py: getopt-style options, read to find a wrapper's program.
"""

from __future__ import annotations

import re
from functools import lru_cache

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

from .expansions import check_arithmetic, check_expansion, check_subscript, is_arithmetic_test
from .heredocs import check_heredoc, check_heredoc_extent, is_quoted_heredoc
from .values import HARMLESS_FILES, CommandLine, Found, SimpleCommand, Unreadable, Word
from .variables import (
    check_assignment_alone,
    check_declaration,
    read_assignment,
    unset_names,
    variables_named,
)
from .words import descendants, node_text, read_word
from .wrappers import peel_wrappers

__all__ = ["parse_command", "read_line"]

_PARSER = Parser(Language(tree_sitter_bash.language()))
_WRITE_OPERATORS = {">", ">>", ">|", "&>", "&>>", "<>"}


@lru_cache(maxsize=1024)
def parse_command(command: str) -> CommandLine:
    """The simple commands ``command`` runs, what hides from view, and what it writes.

    It never raises: a line it cannot read to the end keeps what was found so far (the
    deny rules still see it) and is opaque."""
    found = Found()
    try:
        read_line(command, found, depth=0)
    except Unreadable as error:
        found.opaque.append(str(error))
    except Exception:  # a slip of the parser must not become a crash of decide()
        found.opaque.append("the rules cannot read this line")
    return CommandLine(
        tuple(found.commands),
        tuple(dict.fromkeys(found.opaque)),
        tuple(found.writes),
        tuple(found.written),
        tuple(found.reads),
    )


def read_line(command: str, found: Found, depth: int) -> None:
    """Parse and walk one line (or a ``bash -c`` string within it)."""
    if depth > 5:
        found.opaque.append("commands nested too deeply to follow")
        return
    root = _parse(command)
    if root.has_error:
        found.opaque.append("bash's grammar does not parse it cleanly")
    _walk(root, found, depth)


def _parse(command: str) -> Node:
    """The syntax tree, with line continuations removed first: bash joins ``r\\⏎m`` into
    ``rm`` before it reads words, tree-sitter reads two words."""
    source = command.encode()
    root = _PARSER.parse(source).root_node
    kept = [
        (node.start_byte, node.end_byte)
        for node in descendants(root, "raw_string", "ansi_c_string", "comment", "heredoc_body")
        if node.type != "heredoc_body" or is_quoted_heredoc(node)
    ]
    joined, start = bytearray(), 0
    for match in re.finditer(rb"(?<!\\)(?:\\\\)*(\\\n)", source):
        at = match.start(1)
        if not any(low <= at < high for low, high in kept):
            joined += source[start:at]
            start = at + 2
    if not joined:
        return root
    return _PARSER.parse(bytes(joined + source[start:])).root_node


def _walk(node: Node, found: Found, depth: int) -> None:
    """Every command in the tree, and the constructs around them that run or write."""
    kind = node.type
    if kind == "command":
        _command(node, (), found, depth)
        return
    if kind == "redirected_statement":
        body = node.child_by_field_name("body")
        extra = tuple(word for redirect in _redirects(node) for word in _extra_words(redirect))
        for redirect in _redirects(node):
            _redirect(redirect, found, depth)
        if body is not None and body.type == "command":
            _command(body, extra, found, depth)
        elif body is not None:
            if extra:
                found.opaque.append("words after a redirection of a compound command")
            _walk(body, found, depth)
        return
    if kind == "function_definition":
        found.opaque.append("it defines a function, whose calls the rules cannot follow")
    elif kind in ("arithmetic_expansion", "c_style_for_statement") or (
        kind == "compound_statement" and node_text(node).startswith("((")
    ):
        check_arithmetic(node.children, found)
    elif kind == "subscript":
        check_subscript(node.child_by_field_name("index"), found)
    elif kind == "binary_expression" and is_arithmetic_test(node):
        check_arithmetic(node.children, found)
    elif kind == "unary_expression" and node_text(node.children[0]) == "-v":
        variables_named("-v", [], [read_word(node.children[-1])], found)
    elif kind == "expansion":
        check_expansion(node, found)
    elif kind == "unset_command":
        words = [read_word(child) for child in node.children[1:] if child.is_named]
        variables_named("unset", *unset_names(words), found)
    elif kind == "heredoc_body" and not is_quoted_heredoc(node):
        check_heredoc(node, found)
    elif kind == "declaration_command":
        check_declaration(node, found)
    elif kind == "variable_assignment":
        check_assignment_alone(node, found)
    elif kind in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
        _redirect(node, found, depth)
        return
    for child in node.children:
        _walk(child, found, depth)


def _command(node: Node, extra: tuple[Word, ...], found: Found, depth: int) -> None:
    """One ``command`` node: its assignments, words and redirections, then the programs
    it runs once wrappers are peeled."""
    assignments: list[str] = []
    words: list[Word] = []
    for child in node.children:
        if child.type == "variable_assignment":
            assignments += read_assignment(child, found)
            _walk(child, found, depth)
        elif child.type in ("file_redirect", "herestring_redirect", "heredoc_redirect"):
            _redirect(child, found, depth)
            words += _extra_words(child)
        elif child.is_named and child.type != "comment":
            words += [read_word(child.children[0] if child.type == "command_name" else child)]
            _walk(child, found, depth)
    words += extra
    if not words:
        return
    start = SimpleCommand((), node_text(node), tuple(assignments))
    found.written.append(start.raw)
    found.commands += peel_wrappers(words, start, found, depth)


def _redirects(node: Node) -> list[Node]:
    return [child for child in node.children if child.type.endswith("redirect")]


def _extra_words(redirect: Node) -> list[Word]:
    """Tree-sitter hangs the words after ``2>x`` on the redirection; bash gives them to
    the command (``find . 2>/dev/null -delete`` deletes)."""
    targets = [
        child
        for child in redirect.children
        if redirect.field_name_for_child(_index(redirect, child)) == "destination"
    ]
    return [read_word(node) for node in targets[1:]]


def _index(parent: Node, child: Node) -> int:
    return next(i for i, node in enumerate(parent.children) if node.id == child.id)


def _redirect(node: Node, found: Found, depth: int) -> None:
    """A redirection that writes a file (``>``, ``>>``, ``&>``, ``>&file``, ``<>``)."""
    for child in node.children:
        _walk(child, found, depth)
    if node.type == "heredoc_redirect":
        check_heredoc_extent(node, found)
    if node.type != "file_redirect":
        return
    operator = next((node_text(c) for c in node.children if not c.is_named), "")
    target = node.child_by_field_name("destination")
    if target is None:
        return
    value = read_word(target)
    writes = operator in _WRITE_OPERATORS or (
        operator == ">&" and not re.fullmatch(r"\d+-?|-", value.text)
    )
    if writes and not (value.literal and value.text in HARMLESS_FILES):
        found.writes.append(value.text)
    elif operator == "<":
        found.reads.append(value)
