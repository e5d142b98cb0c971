"""``%load_ext conjure_kernel``: the same magics in any IPython kernel."""

from __future__ import annotations

import re
from typing import Any

from .frontends import listen_for_widget_manager
from .magics import ConjureMagics

__all__ = ["load_ipython_extension", "magics_of", "unload_ipython_extension"]

_magics: dict[int, ConjureMagics] = {}
_QUESTION_LINE = re.compile(r"^([ \t]*)%conjure[ \t]+\S.*\?[ \t]*$")


def load_ipython_extension(ipython: Any) -> None:
    if id(ipython) in _magics:
        return
    listen_for_widget_manager()
    magics = ConjureMagics(shell=ipython)
    ipython.register_magics(
        magics,
        magics.guard,
        magics.backend_magics,
        magics.skill_magics,
        magics.history_magics,
        magics.context_magics,
        magics.mcp_magics,
    )
    ipython.input_transformers_cleanup.append(questions_stay_messages)
    _magics[id(ipython)] = magics


def questions_stay_messages(lines: list[str]) -> list[str]:
    """IPython cleanup transformer: ``%conjure What is df?`` is a question for Claude, not
    IPython's help on ``df`` (a line ending in ``?``); ``%conjure?`` is still help. The
    body of a cell magic is left alone."""
    if lines and lines[0].lstrip().startswith("%%"):
        return lines
    return [_as_call(line) for line in lines]


def _as_call(line: str) -> str:
    match = _QUESTION_LINE.match(line.rstrip("\r\n"))
    if match is None:
        return line
    message = line.strip().removeprefix("%conjure").strip()
    return f"{match.group(1)}get_ipython().run_line_magic('conjure', {message!r})\n"


def magics_of(ipython: Any) -> ConjureMagics:
    """The magics loaded into ``ipython`` (the kernel shares their redactor)."""
    return _magics[id(ipython)]


def unload_ipython_extension(ipython: Any) -> None:
    magics = _magics.pop(id(ipython), None)
    if magics is not None:
        magics.close()
    if questions_stay_messages in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.remove(questions_stay_messages)
