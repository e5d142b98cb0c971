"""The record of one turn: what was asked, what the person saw, and what replay needs.

A ``TurnRecord`` is built from the turn's events alone, by the turn's ``TurnRecorder``.
Its ``timeline`` (the turn model of ``timeline.py``) is what the person saw, and what
every view draws; its ``steps``
(the model's responses) are the replay data, which ``%config ConjureMagics.record =
False`` leaves out of the notebook without losing anything from the view. Its JSON
(schema ``TURN_SCHEMA``) is what a notebook saves in each chat cell's output and what
replay, drift reports and ``%history restore`` read back.

The recorder owns the turn's one timeline; views are handed each ``TurnChange`` (the
event, the record, the entries it changed) and only lay the timeline out. It folds on
the thread that consumes the events, so a view reads a timeline no other thread writes:
``Session.chat`` folds each event as it yields it, and ``Session.chat_sync``, whose turn
runs on the runner's loop, folds each as the calling thread receives it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ..backends.loop import answer, drop_unanswered_server_calls
from ..clients.base import ModelResponse, Usage
from ..clients.pricing import Spend
from ..clients.replay import ReplayTurn
from ..errors import RecordingError, TurnInterrupted
from ..events import (
    Event,
    ModelStepFinished,
    ToolCallFinished,
    TurnEnded,
    TurnFailed,
    TurnStarted,
)
from ..tools.values import ToolCall, ToolResult
from .file_links import FileLinks
from .labels import entry_labels, record_labels
from .saved_output import saved_content
from .timeline import Timeline
from .turn import (
    ApprovalEntry,
    Entry,
    Redact,
    redact_value,
    tool_call_from_json,
    tool_result_from_json,
)

__all__ = ["TURN_SCHEMA", "TurnChange", "TurnRecord", "TurnRecorder"]

TURN_SCHEMA = 4
"""Bumped on any incompatible change of ``TurnRecord.to_json``; readers reject newer ones.

1: the view was rebuilt from ``steps``, with the answer and tool results kept beside
them (``answer``, ``tool_calls``). 2: the view is the ``timeline``; ``answer`` and
``tool_calls`` are read from it. 3: the timeline may hold ``thinking`` entries (a step's
summarised thinking), which a schema 2 reader would reject. 4: the record carries its
labels (labels.py): each entry but answer text has ``labels`` (a tool call's title and
its parts, its output as styled runs where it is coloured or long, the line of a
thinking, notice, file or approval), and the record has ``labels`` (the footer's parts,
problems, the error), so a renderer lays them out and words none; a schema 3 renderer
would not know to read them.

Records of 1 to 3 are read as before and saved again as 4, their labels computed then;
a record's labels are never read back, only computed afresh from what it holds, so
they cannot disagree with it.

A record may carry ``sent`` (what the model was sent, where the cell's ``{name}`` were
filled in). It needs no new schema: a reader that ignores it still replays the turn, since
replay matches the cell's text (``message``) and answers from the recorded steps.
"""


@dataclass
class TurnRecord:
    """One chat turn, as saved in the notebook."""

    message: str
    """The cell's text, as written: what replay matches and views show."""
    backend: str
    model: str
    sent: str | list[dict[str, Any]] | None = None
    """What the model was sent instead of ``message``, where they differ: the text with the
    notebook's values filled in, as content blocks where there are images."""
    steps: list[ModelResponse] = field(default_factory=list)
    """The model's responses: what replay answers from and the messages are rebuilt from."""
    timeline: Timeline = field(default_factory=Timeline)
    """What the person saw, in order: text, thinking, tool calls, notices, files, approvals."""
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    skills: dict[str, str] = field(default_factory=dict)
    """Skill name → content hash of its folder when the turn ran."""
    paths: dict[str, str] = field(default_factory=dict)
    """Machine-specific paths (``workdir``, ``skill:NAME``), so replay can map them."""
    environment: dict[str, str] = field(default_factory=dict)
    """What the tools ran on (the sandbox image's id, the host's tool versions), so replay
    can tell when it differs."""
    error: dict[str, str] | None = None
    replayed: bool = False
    drift: list[dict[str, str]] = field(default_factory=list)
    skills_changed: list[str] = field(default_factory=list)
    """On replay: skills whose folder content differs from the recording."""
    environment_changed: list[str] = field(default_factory=list)
    """On replay: what the tools run on that differs from the recording (``python3: 3.11.2
    → 3.12.1``)."""
    spend: Spend | None = None
    """What this turn cost, priced when it ran (None: not known, e.g. a replayed turn)."""
    total_spend: Spend | None = None
    """What the notebook had spent once this turn ended, this turn included."""
    duration: float | None = None
    """Seconds from the message to the turn's end, as it ran (None: saved before turns
    were timed)."""
    version: str = __version__

    @property
    def ok(self) -> bool:
        return self.error is None and self.stop_reason is not None

    @property
    def answer(self) -> str:
        return self.timeline.answer

    @property
    def tool_calls(self) -> list[tuple[ToolCall, ToolResult]]:
        """Every finished tool call with its result, for drift, replay and restoring the messages."""
        return self.timeline.tool_calls

    def added_messages(self) -> list[dict[str, Any]]:
        """The messages this turn added to the conversation, for ``%history restore``."""
        if not self.steps:
            return []
        sent = self.message if self.sent is None else self.sent
        messages: list[dict[str, Any]] = [{"role": "user", "content": sent}]
        results = {call.id: result for call, result in self.tool_calls}
        for step in self.steps:
            messages.append(step.message)
            pending = [b["id"] for b in step.tool_uses()]
            if pending:
                messages.append(
                    {"role": "user", "content": [answer(i, results.get(i)) for i in pending]}
                )
        drop_unanswered_server_calls(messages, 0)  # a hosted pause cut short leaves one
        return messages

    def to_replay_turn(self) -> ReplayTurn:
        """What replay reads of this record."""
        finished = {call.id for call, _ in self.tool_calls}
        return ReplayTurn(
            self.message,
            list(self.steps),
            {call.id: (result.content, result.is_error) for call, result in self.tool_calls},
            dict(self.paths),
            dict(self.skills),
            self.error,
            frozenset(  # interrupted while running, or while its permission was asked
                block["id"]
                for step in self.steps
                for block in step.tool_uses()
                if block["id"] not in finished
            ),
            denied=frozenset(
                entry.call.id
                for entry in self.timeline.entries
                if isinstance(entry, ApprovalEntry) and entry.allowed is False
            ),
            files=self.timeline.files_by_call(),
            environment=dict(self.environment),
            sent=self.sent,
            images={call.id: result.images for call, result in self.tool_calls if result.images},
            ran_on={
                tool.call.id: tool.backend or self.backend
                for tool in self.timeline.tools
                if not tool.server
            },
        )

    def redacted(self, redact: Redact) -> TurnRecord:
        """A copy with ``redact`` applied to every text in it, before anything escapes it.

        Redacting values rather than serialised JSON or HTML means no encoding can hide
        a secret from the redactor, and no number can be mistaken for one.
        """
        return dataclasses.replace(
            self,
            message=redact(self.message),
            sent=_redacted_sent(self.sent, redact),
            backend=redact(self.backend),
            model=redact(self.model),
            steps=[
                dataclasses.replace(step, message=redact_value(step.message, redact))
                for step in self.steps
            ],
            timeline=self.timeline.redacted(redact),
            skills=redact_value(self.skills, redact),
            paths=redact_value(self.paths, redact),
            environment=redact_value(self.environment, redact),
            error=redact_value(self.error, redact),
            drift=redact_value(self.drift, redact),
            skills_changed=redact_value(self.skills_changed, redact),
            environment_changed=redact_value(self.environment_changed, redact),
        )

    def to_json(self, *, folder: str | None = None) -> dict[str, Any]:
        """The record as saved, with its labels; created files under ``folder`` (the
        notebook's; by default the workdir) linked relative to it."""
        workdir = self.paths.get("workdir", "")
        links = FileLinks(workdir, workdir if folder is None else folder)
        return {
            "schema": TURN_SCHEMA,
            "version": self.version,
            "message": self.message,
            **({} if self.sent is None else {"sent": self.sent}),
            "backend": self.backend,
            "model": self.model,
            "skills": self.skills,
            "paths": self.paths,
            **({"environment": self.environment} if self.environment else {}),
            "stop_reason": self.stop_reason,
            "usage": self.usage.to_json(),
            "timeline": [_labelled(entry, links) for entry in self.timeline.entries],
            "steps": [step.to_json() for step in self.steps],
            "error": self.error,
            "replayed": self.replayed,
            "drift": self.drift,
            "skills_changed": self.skills_changed,
            **(
                {"environment_changed": self.environment_changed}
                if self.environment_changed
                else {}
            ),
            **{
                name: value.to_json()
                for name, value in (("spend", self.spend), ("total_spend", self.total_spend))
                if value is not None
            },
            **({} if self.duration is None else {"duration": self.duration}),
            "labels": record_labels(self),
        }

    @classmethod
    def from_json(cls, data: Any) -> TurnRecord:
        """Read a saved turn of any schema up to ``TURN_SCHEMA`` (its labels are not
        read: ``to_json`` computes them afresh); a hand-edited or foreign one raises
        ``RecordingError``."""
        try:
            schema = data["schema"]
            if not isinstance(schema, int):
                raise TypeError(f"schema is {schema!r}, not a number")
            if schema > TURN_SCHEMA:
                raise RecordingError(
                    f"this turn was saved with recording schema {schema}, newer than {TURN_SCHEMA}",
                    hint="upgrade conjure-kernel to replay it",
                )
            steps = [ModelResponse.from_json(step) for step in data["steps"]]
            if schema == 1:
                tool_calls = [
                    (tool_call_from_json(item["call"]), tool_result_from_json(item["result"]))
                    for item in data["tool_calls"]
                ]
                timeline = Timeline.from_steps(steps, tool_calls, str(data.get("answer", "")))
            else:
                timeline = Timeline.from_json(data["timeline"])
            return cls(
                message=str(data["message"]),
                sent=_sent(data.get("sent")),
                backend=str(data["backend"]),
                model=str(data["model"]),
                steps=steps,
                timeline=timeline,
                stop_reason=data.get("stop_reason"),
                usage=Usage.from_json(data.get("usage")),
                skills=dict(data.get("skills", {})),
                paths=dict(data.get("paths", {})),
                environment=dict(data.get("environment", {})),
                error=data.get("error"),
                replayed=bool(data.get("replayed", False)),
                drift=list(data.get("drift", [])),
                skills_changed=list(data.get("skills_changed", [])),
                environment_changed=list(data.get("environment_changed", [])),
                spend=_spend(data.get("spend")),
                total_spend=_spend(data.get("total_spend")),
                duration=_seconds(data.get("duration")),
                version=str(data.get("version", "")),
            )
        except RecordingError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RecordingError(
                f"a recorded turn is malformed ({type(error).__name__}: {error})",
                hint="the notebook's conjure output was edited by hand; re-record the cell",
            ) from None


def _labelled(entry: Entry, links: FileLinks) -> dict[str, Any]:
    data = entry.to_json()
    labels = entry_labels(entry, links)
    return data if labels is None else {**data, "labels": labels}


def _sent(data: Any) -> str | list[dict[str, Any]] | None:
    if data is None or isinstance(data, str):
        return data
    if not isinstance(data, list) or not all(isinstance(block, dict) for block in data):
        raise TypeError("sent is neither text nor a list of content blocks")
    return data


def _redacted_sent(sent: str | list[dict[str, Any]] | None, redact: Redact) -> Any:
    """``sent`` redacted, its images left whole: a secret's letters in base64 are chance,
    and changing them would break the picture."""
    if not isinstance(sent, list):
        return redact_value(sent, redact)
    return [
        block if block.get("type") == "image" else redact_value(block, redact) for block in sent
    ]


def _spend(data: Any) -> Spend | None:
    return None if data is None else Spend.from_json(data)


def _seconds(data: Any) -> float | None:
    return None if data is None else float(data)


@dataclass(frozen=True)
class TurnChange:
    """One event of the turn, folded into its record: what a view is told."""

    event: Event
    record: TurnRecord
    """The turn so far; its ``timeline`` is the one every view lays out."""
    entries: tuple[Entry, ...] = ()
    """The timeline's entries the event added or changed (none: what a view shows of the
    timeline did not change), so a view redraws those alone."""


class TurnRecorder:
    """Folds a turn's events into a ``TurnRecord``, each tool result as the record keeps
    it (``saved_output.saved_content``).

    What the turn learns beside its events (``paths``, ``environment``, ``sent``) is set
    by the turn as it learns it, possibly from another thread than the one folding: the
    record takes it once the turn is over (``finished``), never while a view reads it.
    """

    def __init__(
        self,
        *,
        skills: dict[str, str],
        paths: dict[str, str],
        environment: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.record: TurnRecord | None = None
        self._clock = clock
        self._started = 0.0
        self._ended = False
        self.skills = skills
        self.paths = paths
        """Shared with the record, so paths learnt after the turn started still reach it."""
        self.environment = {} if environment is None else environment
        """Shared with the record too: the backend says it once its session is open."""
        self.sent: str | list[dict[str, Any]] | None = None
        """What the model was sent instead of the turn's message, where they differ."""

    def add(self, event: Event) -> TurnChange | None:
        """Fold ``event`` in; what changed, or None before the turn started."""
        if isinstance(event, TurnStarted):
            self.record = TurnRecord(
                event.message,
                event.backend,
                event.model,
                skills=self.skills,
                paths=self.paths,
                environment=self.environment,
            )
            self._started = self._clock()
            return TurnChange(event, self.record)
        record = self.record
        if record is None:
            return None
        folded = event
        if isinstance(event, ToolCallFinished):
            kept = saved_content(event.result.content)
            if kept is not event.result.content:
                folded = dataclasses.replace(
                    event, result=dataclasses.replace(event.result, content=kept)
                )
        entries = record.timeline.add(folded)
        if isinstance(event, ModelStepFinished):
            record.steps.append(event.response)
            record.usage = record.usage + event.response.usage
        elif isinstance(event, TurnEnded):
            record.stop_reason = event.stop_reason
        elif isinstance(event, TurnFailed):
            failure = event.to_json()
            record.error = {key: failure[key] for key in ("error", "message", "hint")}
        if isinstance(event, TurnEnded | TurnFailed):
            record.duration = round(self._clock() - self._started, 3)
            self._ended = True
        return TurnChange(event, record, entries)

    def interrupted(self) -> None:
        """The turn was stopped (Ctrl-C, a cancelled task, a caller that stopped reading):
        it failed as interrupted, unless it had ended already."""
        if not self._ended:
            self.add(TurnFailed(TurnInterrupted("the turn was interrupted by the user")))

    def finished(self) -> TurnRecord | None:
        """The turn is over: its record with what the turn learnt beside its events
        (None: the turn never started)."""
        if self.record is not None and self.sent is not None:
            self.record.sent = self.sent
        return self.record
