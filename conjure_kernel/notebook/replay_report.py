"""``python -m conjure_kernel replay NOTEBOOK``: re-run a recorded notebook headless, report drift.

The notebook runs in a real kernel through nbclient with ``CONJURE_REPLAY`` pointing at
its own file, so the model's side comes from the recording while every tool runs again.
Skill notebooks thereby double as regression tests in anyone's CI. With a ``backend``
(``CONJURE_REPLAY_BACKEND``) the tools run there whatever the notebook's ``%backend``
cells say, and the report says so; each turn's line names the backend it ran on. The
replayed conversation is printed too (each message, its answer and one line per tool
call), unless ``quiet``; everything printed goes through the same redaction as saved output.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from ..backends.registry import backend_names
from ..clients.replay import overridden_line
from ..conversation.transcript import TurnRecord
from ..errors import RecordingError, UnknownBackend
from ..tools.output import one_line
from .display import TURN_MIME_TYPE
from .recording import read_notebook
from .secrets import Redactor

__all__ = ["CellReport", "replay_notebook"]

_BACKEND_CELL = re.compile(r"^\s*%backend\s+([^\s-]\S*)", re.MULTILINE)


@dataclass
class CellReport:
    """What re-running one code cell showed."""

    index: int
    message: str = ""
    backend: str = ""
    """The backend the turn's tools ran on in this replay."""
    recorded_backend: str = ""
    """The backend they ran on when recorded."""
    tool_calls: int = 0
    """Calls that ran again to an end (server-side calls are replayed, not re-run)."""
    hosted_calls: int = 0
    """Calls that ran on Anthropic's side: shown as recorded, since they cannot run offline."""
    drift: list[dict[str, str]] = field(default_factory=list)
    skills_changed: list[str] = field(default_factory=list)
    environment_changed: list[str] = field(default_factory=list)
    error: str = ""
    ended_as_recorded: str = ""
    """Why the replay stopped where the recording did (an interrupted or failed turn)."""
    shown: str = ""
    """The turn as plain text (its saved ``text/plain``): answer and one line per tool call."""


def replay_notebook(
    path: Path,
    *,
    backend: str | None = None,
    strict: bool = False,
    live: bool = False,
    output: Path | None = None,
    timeout: int = 600,
    quiet: bool = False,
) -> int:
    """Run the notebook against its recording (its tools on ``backend`` if named, whatever
    its ``%backend`` cells say; its MCP calls re-run when ``live``); print a report; return
    the exit status."""
    path = path.resolve()
    if not path.is_file():
        raise RecordingError(f"{path}: no such notebook")
    if backend and backend not in backend_names():
        raise UnknownBackend(backend, backend_names())
    notebook = read_notebook(path)
    recorded = {index: _recorded_backend(cell) for index, cell in enumerate(notebook.cells, 1)}
    overridden = _overridden(notebook, backend) if backend else ""
    env = {**os.environ, "CONJURE_REPLAY": os.fspath(path), "CONJURE_REPLAY_BACKEND": backend or ""}
    env["CONJURE_REPLAY_LIVE"] = "1" if live else ""
    kernel = notebook.metadata.get("kernelspec", {}).get("name", "conjure")
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=True,
        resources={"metadata": {"path": os.fspath(path.parent)}},
    )
    client.execute(env=env)
    if output:
        nbformat.write(notebook, os.fspath(output))
    reports = [
        _report(index, cell, recorded[index])
        for index, cell in enumerate(notebook.cells, 1)
        if cell.cell_type == "code"
    ]
    return _print_report(path, reports, strict=strict, quiet=quiet, overridden=overridden)


def _recorded_backend(cell: nbformat.NotebookNode) -> str:
    """The backend a chat cell's saved turn ran on (empty for any other cell)."""
    for output in cell.get("outputs", []):
        turn = output.get("data", {}).get(TURN_MIME_TYPE)
        if isinstance(turn, dict):
            return str(turn.get("backend", ""))
    return ""


def _overridden(notebook: nbformat.NotebookNode, backend: str) -> str:
    """The line saying the tools run on ``backend`` as asked, naming the notebook's
    ``%backend`` cells that would have switched elsewhere."""
    names = [
        name
        for cell in notebook.cells
        if cell.cell_type == "code"
        for name in _BACKEND_CELL.findall(cell.source)
        if name != backend
    ]
    return overridden_line(backend, names)


def _report(index: int, cell: nbformat.NotebookNode, recorded_backend: str) -> CellReport:
    report = CellReport(index, recorded_backend=recorded_backend)
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" and output.get("ename") == "ReplayedFailure":
            report.ended_as_recorded = str(output.get("evalue"))
        elif output.get("output_type") == "error":
            report.error = f"{output.get('ename')}: {output.get('evalue')}"
        data = output.get("data", {})
        if TURN_MIME_TYPE in data:
            turn = TurnRecord.from_json(data[TURN_MIME_TYPE])
            report.message = " ".join(turn.message.split())
            report.backend = turn.backend
            report.tool_calls = sum(
                1
                for tool in turn.timeline.tools
                if tool.state in ("ok", "error") and not tool.server
            )
            report.hosted_calls = sum(1 for tool in turn.timeline.tools if tool.server)
            report.drift = turn.drift
            report.skills_changed = turn.skills_changed
            report.environment_changed = turn.environment_changed
            report.shown = str(data.get("text/plain", ""))
    return report


def _print_report(
    path: Path, reports: list[CellReport], *, strict: bool, quiet: bool, overridden: str = ""
) -> int:
    redact = Redactor()
    turns = [r for r in reports if r.message]
    drifted = [r for r in turns if r.drift]
    failed = [r for r in reports if r.error]
    lines = []
    if not quiet:
        for report in turns:
            lines += [f"> {report.message}", *report.shown.splitlines(), ""]
    if overridden:
        lines.append(overridden)
    hosted = sum(r.hosted_calls for r in turns)
    lines.append(
        f"replayed {path.name}: {len(turns)} turn(s), "
        f"{sum(r.tool_calls for r in turns)} tool call(s) re-run"
        + (
            f", {hosted} hosted call(s) shown as recorded (hosted tools are not re-run offline)"
            if hosted
            else ""
        )
    )
    for report in turns:
        state = f"{len(report.drift)} drifted" if report.drift else "same as recorded"
        if report.error:
            state = "failed"
        message = one_line(report.message, 60)
        hosted_calls = f", {report.hosted_calls} hosted (not re-run)" if report.hosted_calls else ""
        lines.append(
            f"  cell {report.index}: {message!r}: {report.tool_calls} tool call(s){hosted_calls}, "
            f"{state}, on {_ran_on(report)}"
        )
        if report.ended_as_recorded:
            lines.append(f"    {report.ended_as_recorded}")
        if report.skills_changed:
            lines.append(
                f"    skills changed since the recording: {', '.join(report.skills_changed)}"
            )
        if report.environment_changed:
            changed = "; ".join(report.environment_changed)
            lines.append(f"    the tools run on another environment than recorded: {changed}")
        for drift in report.drift:
            call = f" ({drift['tool_use_id']})" if drift["tool_use_id"] else ""
            lines.append(f"    drift in {drift['name']}{call}:")
            lines.append("      " + drift["diff"].replace("\n", "\n      "))
    lines += [f"  cell {report.index} failed: {report.error}" for report in failed]
    lines.append(f"drift: {len(drifted)} of {len(turns)} turn(s); errors: {len(failed)} cell(s)")
    print(redact("\n".join(lines)))
    if failed:
        return 1
    return 1 if strict and drifted else 0


def _ran_on(report: CellReport) -> str:
    """``docker``, or ``docker (recorded on local)`` when the recording ran elsewhere."""
    recorded = report.recorded_backend
    elsewhere = f" (recorded on {recorded})" if recorded and recorded != report.backend else ""
    return f"{report.backend}{elsewhere}"
