"""Read recorded turns back out of a saved notebook, and write transcripts of a session.

A notebook is its own recording: every chat cell's output holds the turn's record under
``TURN_MIME_TYPE``. Nothing lives in side files, so a shared ``.ipynb`` is enough to
replay the session, restore it after a restart, or report drift.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ..conversation.transcript import TurnRecord
from ..conversation.turn import Redact
from ..errors import RecordingError
from .display import TURN_MIME_TYPE, turn_bundle
from .kernelspec import NOTEBOOK_KERNELSPEC
from .secrets import Redactor

__all__ = [
    "current_notebook",
    "export_markdown",
    "export_notebook",
    "read_turns",
    "resolve_notebook",
]


def current_notebook() -> Path | None:
    """The notebook this kernel serves, when the server says (Jupyter Server sets JPY_SESSION_NAME)."""
    name = os.environ.get("JPY_SESSION_NAME", "")
    return Path(name) if name.endswith(".ipynb") else None


def resolve_notebook(path: str | None) -> Path:
    """``path`` if given, else the notebook being run; a clear error when neither is known."""
    if path:
        notebook = Path(path).expanduser()
    else:
        notebook = current_notebook()
        if notebook is None:
            raise RecordingError(
                "this kernel cannot tell which notebook it is running",
                hint="name the notebook, e.g. %replay quickstart.ipynb",
            )
    if not notebook.is_file():
        raise RecordingError(
            f"{notebook}: no such notebook",
            hint="check the path (relative to the kernel's working directory)",
        )
    return notebook.resolve()


def read_turns(path: Path) -> list[TurnRecord]:
    """Every recorded turn in the notebook, in cell order."""
    import nbformat  # slow to import (jsonschema): not at kernel start

    try:
        notebook = nbformat.read(os.fspath(path), as_version=4)
    except Exception as error:
        raise RecordingError(f"{path}: not a readable notebook ({error})") from None
    turns = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = output.get("data", {})
            if TURN_MIME_TYPE in data:
                try:
                    turns.append(TurnRecord.from_json(data[TURN_MIME_TYPE]))
                except RecordingError as error:
                    raise RecordingError(
                        f"{path}, cell {index + 1}: {error}", hint=error.hint
                    ) from None
    return turns


def export_markdown(
    turns: Sequence[TurnRecord], path: Path, *, redact: Redact | None = None
) -> None:
    """A readable transcript: each message and the markdown of its answer and tool calls.

    Exports leave the kernel like saved cells do, so they pass through the same
    redaction; without a ``redact``, the API key's values are still removed.
    """
    redact = redact or Redactor()
    parts = ["# Conjure session\n"]
    for number, turn in enumerate(turns, 1):
        quoted = "\n".join(f"> {line}" for line in redact(turn.message).splitlines())
        parts.append(
            f"## Turn {number}\n\n{quoted}\n\n{turn_bundle(turn, redact)['text/markdown']}"
        )
    path.write_text("\n\n".join(parts), encoding="utf-8")


def export_notebook(
    turns: Sequence[TurnRecord], path: Path, *, redact: Redact | None = None
) -> None:
    """A clean Conjure notebook: one chat cell per turn, each with its recorded output,
    redacted as in ``export_markdown``."""
    import nbformat

    redact = redact or Redactor()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = dict(NOTEBOOK_KERNELSPEC)
    for turn in turns:
        output = nbformat.v4.new_output("display_data", data=turn_bundle(turn, redact))
        notebook.cells.append(nbformat.v4.new_code_cell(redact(turn.message), outputs=[output]))
    nbformat.write(notebook, os.fspath(path))
