"""Read recorded turns back out of a saved notebook, and write transcripts of a session.

A notebook is its own recording: every chat cell's output holds the turn's record under
``TURN_MIME_TYPE``. Nothing lives in side files, so a shared ``.ipynb`` is enough to
replay the session (``read_replay``), restore it after a restart, or report drift.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..clients.replay import Replay
from ..conversation.transcript import TurnRecord
from ..conversation.turn import Redact
from ..errors import RecordingError
from ..tools.output import one_line
from .display import TURN_MIME_TYPE, turn_bundle
from .kernelspec import NOTEBOOK_KERNELSPEC
from .secrets import Redactor

__all__ = [
    "current_notebook",
    "export_markdown",
    "export_notebook",
    "read_notebook",
    "read_replay",
    "read_turns",
    "resolve_notebook",
    "runner",
]


def current_notebook(namespace: Mapping[str, Any] | None = None) -> Path | None:
    """The notebook this kernel runs, when its frontend says so.

    Jupyter Server (JupyterLab, Notebook 7) sets ``JPY_SESSION_NAME``; VS Code puts
    ``__vsc_ipynb_file__`` in the namespace; a headless runner (papermill, ``jupyter
    execute``, nbconvert) names the notebook on its own command line.
    """
    name = os.environ.get("JPY_SESSION_NAME", "")
    if name.endswith(".ipynb"):
        return Path(name)
    vscode = (namespace or {}).get("__vsc_ipynb_file__")
    if isinstance(vscode, str) and vscode.endswith(".ipynb"):
        return Path(vscode)
    started_by = runner()
    return started_by[0] if started_by else None


def runner() -> tuple[Path, Path] | None:
    """The notebook a headless runner (papermill, ``jupyter execute``) started this kernel
    for, and the runner's working folder: the first existing ``.ipynb`` argument of the
    parent process, as that process sees it."""
    parent = Path("/proc") / str(os.getppid())
    try:
        arguments = (parent / "cmdline").read_bytes().split(b"\0")[1:]
        folder = (parent / "cwd").resolve()
    except OSError:  # not Linux, or not ours to read
        return None
    for argument in map(os.fsdecode, arguments):
        if argument.endswith(".ipynb") and (folder / argument).is_file():
            return (folder / argument).resolve(), folder
    return None


def resolve_notebook(path: str | None, namespace: Mapping[str, Any] | None = None) -> Path:
    """``path`` if given, else the notebook being run; a clear error when neither is known.

    A relative path is looked for next to the running notebook first (when the
    frontend says which it is), then in the kernel's working directory, so
    ``%replay quickstart.ipynb`` works however the notebook was started.
    """
    running = current_notebook(namespace)
    if not path:
        if running is None:
            raise RecordingError(
                "this kernel cannot tell which notebook it is running",
                hint="name the notebook, e.g. %replay quickstart.ipynb",
            )
        candidates = [running]
    else:
        given = Path(path).expanduser()
        folders = [running.parent] if running is not None and not given.is_absolute() else []
        candidates = [folder / given for folder in folders] + [given]
    for notebook in candidates:
        if notebook.is_file():
            return notebook.resolve()
    looked = " or ".join(str(Path(c).absolute()) for c in dict.fromkeys(candidates))
    raise RecordingError(
        f"{path or running}: no such notebook (looked for {looked})",
        hint="check the path; a relative one is read next to this notebook, then in the "
        "kernel's working directory",
    )


def read_notebook(path: Path) -> Any:
    """The notebook at ``path`` (an nbformat v4 node); a ``RecordingError`` in one line if
    it cannot be read (not JSON, not a notebook, not readable)."""
    import nbformat  # slow to import (jsonschema): not at kernel start

    try:
        return nbformat.read(os.fspath(path), as_version=4)
    except Exception as error:  # nbformat raises many kinds for a broken file
        raise RecordingError(
            f"{path}: not a readable notebook ({type(error).__name__}: {one_line(str(error), 120)})",
            hint="open it in JupyterLab to repair it, or take it again from version control",
        ) from None


def read_turns(path: Path) -> list[TurnRecord]:
    """Every recorded turn in the notebook, in cell order."""
    notebook = read_notebook(path)
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


def read_replay(path: Path, *, backend: str = "") -> Replay:
    """The notebook's recorded turns as a ``Replay``, holding the tools on ``backend`` if
    named; a ``RecordingError`` when the notebook holds no recording to answer from."""
    turns = [turn.to_replay_turn() for turn in read_turns(path) if turn.steps]
    if not turns:
        raise RecordingError(
            f"{path} holds no recorded turns", hint="run it once with an API key to record it"
        )
    return Replay(turns, source=path.name, backend=backend)


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
