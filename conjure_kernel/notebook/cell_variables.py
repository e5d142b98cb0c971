"""``{name}`` and ``{expression}`` in a chat message, filled from the notebook's variables.

The rule, so that a message that shows code goes through as written:

- fenced code blocks (lines between ````` ``` ````` or ``~~~`` fences) and inline code
  spans (`` `…` ``) are never touched;
- elsewhere ``{{`` and ``}}`` are a literal ``{`` and ``}``;
- ``{…}`` on one line, with no brace inside, whose text parses as a Python expression is
  evaluated in the user namespace and replaced by the value (``value_blocks.py`` says
  how); any other ``{…}`` (``{"a": 1}``, ``{ }``) stays as written, and so do the
  groups of a LaTeX command (``$\\frac{a}{b}$``, ``\\mathbf{x}``).

An expression that fails (a name not defined) stops the whole message before anything is
sent, with one line naming it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

from .value_blocks import ValueTooLarge, value_blocks

__all__ = ["expand_message"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+).+?\1", re.DOTALL)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}\n]+)\}")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+$")

Content = str | list[dict[str, Any]]


def expand_message(message: str, evaluate: Callable[[str], Any], formatter: Any = None) -> Content:
    """``message`` with its placeholders filled: the same string when it has none, a string
    when every value is text, else content blocks (text and images, in order).

    ``evaluate`` evaluates one expression's source in the user namespace; ``formatter`` is
    IPython's text/plain formatter. A failing expression raises ``UsageError``.
    """
    blocks: list[dict[str, Any]] = []
    changed = False
    for text, is_code in _code_split(message):
        if is_code:
            _append(blocks, [_text(text)])
            continue
        position = latex_end = 0
        for match in _PLACEHOLDER.finditer(text):
            token, source = match.group(0), match.group(1)
            if source is not None and _is_latex(text, match.start(), latex_end):
                latex_end = match.end()
                continue
            if source is not None and not _is_expression(source):
                continue
            _append(blocks, [_text(text[position : match.start()])])
            position, changed = match.end(), True
            if source is None:  # {{ or }}
                _append(blocks, [_text(token[0])])
            else:
                _append(blocks, _value(source.strip(), evaluate, formatter))
        _append(blocks, [_text(text[position:])])
    if not changed:
        return message
    if all(block["type"] == "text" for block in blocks):
        return "".join(block["text"] for block in blocks)
    return [block for block in blocks if block["type"] != "text" or block["text"].strip()]


def _code_split(message: str) -> list[tuple[str, bool]]:
    """``message`` cut into (text, is_code) runs: fenced blocks and inline code spans are code."""
    runs: list[tuple[str, bool]] = []
    prose: list[str] = []
    fence = ""
    for line in message.splitlines(keepends=True):
        opening = _FENCE.match(line)
        if not fence and opening:
            runs.extend(_inline_split("".join(prose)))
            prose, fence = [], opening.group(1)
            runs.append((line, True))
        elif fence:
            runs.append((line, True))
            if line.strip().startswith(fence[0] * len(fence)) and not line.strip(fence[0]).strip():
                fence = ""
        else:
            prose.append(line)
    runs.extend(_inline_split("".join(prose)))
    return runs


def _inline_split(text: str) -> list[tuple[str, bool]]:
    runs: list[tuple[str, bool]] = []
    position = 0
    for match in _INLINE_CODE.finditer(text):
        runs += [(text[position : match.start()], False), (match.group(0), True)]
        position = match.end()
    return [*runs, (text[position:], False)]


def _is_latex(text: str, start: int, latex_end: int) -> bool:
    """A group of a LaTeX command (``\\frac{a}{b}``, ``\\mathbf{x}``): right after the
    command, or right after its previous group."""
    return (0 < start == latex_end) or bool(_LATEX_COMMAND.search(text, max(0, start - 64), start))


def _is_expression(source: str) -> bool:
    if not source.strip():
        return False
    try:
        ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        return False
    return True


def _value(source: str, evaluate: Callable[[str], Any], formatter: Any) -> list[dict[str, Any]]:
    """The blocks of one expression's value; a failure is one line naming the expression."""
    try:
        value = evaluate(source)
    except NameError as error:
        raise UsageError(
            f"{{{source}}}: {error}, so nothing was sent; define it in a Python cell first, "
            f"or write {{{{{source}}}}} for literal braces"
        ) from None
    except Exception as error:
        raise UsageError(
            f"{{{source}}} failed ({type(error).__name__}: {error}), so nothing was sent"
        ) from None
    try:
        blocks = value_blocks(value, formatter)
    except ValueTooLarge as error:
        raise UsageError(f"{{{source}}}: {error}, so nothing was sent; make it smaller") from None
    except Exception as error:  # a broken __repr__, an image Pillow cannot write
        raise UsageError(
            f"{{{source}}} could not be shown ({type(error).__name__}: {error}), "
            "so nothing was sent"
        ) from None
    if blocks[0]["type"] == "text" and "\n" in blocks[0]["text"]:
        blocks = [_text("\n" + blocks[0]["text"].strip("\n") + "\n")]
    return blocks


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _append(blocks: list[dict[str, Any]], new: list[dict[str, Any]]) -> None:
    """Add ``new`` to ``blocks``, joining text that follows text into one block."""
    for block in new:
        if block["type"] == "text" and blocks and blocks[-1]["type"] == "text":
            blocks[-1] = _text(blocks[-1]["text"] + block["text"])
        else:
            blocks.append(block)
