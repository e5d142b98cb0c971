"""The record of one turn: what was asked, every model step, every tool call and its result.

A ``TurnRecord`` is built from the turn's events alone, so it records exactly what the
user saw. Its JSON (schema ``TURN_SCHEMA``) is what a notebook saves in each chat cell's
output and what replay, drift reports and ``%history restore`` read back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._version import __version__
from ..backends.loop import answer
from ..clients.base import ModelResponse, Usage
from ..clients.replay_client import RecordedTurn
from ..errors import RecordingError
from ..events import (
    Event,
    ModelStepFinished,
    TextDelta,
    ToolCallFinished,
    TurnEnded,
    TurnFailed,
    TurnStarted,
)
from ..tools.values import ToolCall, ToolResult

__all__ = ["TURN_SCHEMA", "TurnRecord", "TurnRecorder"]

TURN_SCHEMA = 1
"""Bumped on any incompatible change of ``TurnRecord.to_json``; readers reject newer ones."""


@dataclass
class TurnRecord:
    """One chat turn, as saved in the notebook."""

    message: str
    backend: str
    model: str
    steps: list[ModelResponse] = field(default_factory=list)
    tool_calls: list[tuple[ToolCall, ToolResult]] = field(default_factory=list)
    answer: str = ""
    stop_reason: str | None = None
    usage: Usage = field(default_factory=Usage)
    skills: dict[str, str] = field(default_factory=dict)
    """Skill name → content hash of its folder when the turn ran."""
    paths: dict[str, str] = field(default_factory=dict)
    """Machine-specific paths (``workdir``, ``skill:NAME``), so replay can map them."""
    error: dict[str, str] | None = None
    replayed: bool = False
    drift: list[dict[str, str]] = field(default_factory=list)
    skills_changed: list[str] = field(default_factory=list)
    """On replay: skills whose folder content differs from the recording."""
    version: str = __version__

    @property
    def ok(self) -> bool:
        return self.error is None and self.stop_reason is not None

    def history_messages(self) -> list[dict[str, Any]]:
        """The messages this turn added to the conversation, for ``%history restore``."""
        if not self.steps:
            return []
        messages: list[dict[str, Any]] = [{"role": "user", "content": self.message}]
        results = {call.id: result for call, result in self.tool_calls}
        for step in self.steps:
            messages.append(step.message)
            pending = [b["id"] for b in step.tool_uses()]
            if pending:
                messages.append(
                    {"role": "user", "content": [answer(i, results.get(i)) for i in pending]}
                )
        return messages

    def to_recorded_turn(self) -> RecordedTurn:
        return RecordedTurn(
            self.message,
            list(self.steps),
            {call.id: (result.content, result.is_error) for call, result in self.tool_calls},
            dict(self.paths),
            dict(self.skills),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": TURN_SCHEMA,
            "version": self.version,
            "message": self.message,
            "backend": self.backend,
            "model": self.model,
            "skills": self.skills,
            "paths": self.paths,
            "answer": self.answer,
            "stop_reason": self.stop_reason,
            "usage": self.usage.to_json(),
            "steps": [step.to_json() for step in self.steps],
            "tool_calls": [
                {"call": call.to_json(), "result": result.to_json()}
                for call, result in self.tool_calls
            ],
            "error": self.error,
            "replayed": self.replayed,
            "drift": self.drift,
            "skills_changed": self.skills_changed,
        }

    @classmethod
    def from_json(cls, data: Any) -> TurnRecord:
        """Read a saved turn; a hand-edited or foreign one raises ``RecordingError``."""
        try:
            if data["schema"] > TURN_SCHEMA:
                raise RecordingError(
                    f"this turn was saved with recording schema {data['schema']}, newer than {TURN_SCHEMA}",
                    hint="upgrade conjure-kernel to replay it",
                )
            return cls(
                message=str(data["message"]),
                backend=str(data["backend"]),
                model=str(data["model"]),
                steps=[ModelResponse.from_json(step) for step in data["steps"]],
                tool_calls=[_call_from_json(item) for item in data["tool_calls"]],
                answer=str(data.get("answer", "")),
                stop_reason=data.get("stop_reason"),
                usage=Usage.from_json(data.get("usage")),
                skills=dict(data.get("skills", {})),
                paths=dict(data.get("paths", {})),
                error=data.get("error"),
                replayed=bool(data.get("replayed", False)),
                drift=list(data.get("drift", [])),
                skills_changed=list(data.get("skills_changed", [])),
                version=str(data.get("version", "")),
            )
        except RecordingError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise RecordingError(
                f"a recorded turn is malformed ({type(error).__name__}: {error})",
                hint="the notebook's conjure output was edited by hand; re-record the cell",
            ) from None


class TurnRecorder:
    """Folds a turn's events into a ``TurnRecord``."""

    def __init__(self, *, skills: dict[str, str], paths: dict[str, str]) -> None:
        self.record: TurnRecord | None = None
        self.skills = skills
        self.paths = paths
        """Shared with the record, so paths learnt after the turn started still reach it."""

    def add(self, event: Event) -> None:
        if isinstance(event, TurnStarted):
            self.record = TurnRecord(
                event.message, event.backend, event.model, skills=self.skills, paths=self.paths
            )
            return
        record = self.record
        if record is None:
            return
        if isinstance(event, TextDelta):
            record.answer += event.text
        elif isinstance(event, ModelStepFinished):
            record.steps.append(event.response)
            record.usage = record.usage + event.response.usage
        elif isinstance(event, ToolCallFinished):
            record.tool_calls.append((event.call, event.result))
        elif isinstance(event, TurnEnded):
            record.stop_reason = event.stop_reason
        elif isinstance(event, TurnFailed):
            failure = event.to_json()
            record.error = {key: failure[key] for key in ("error", "message", "hint")}


def _call_from_json(item: dict[str, Any]) -> tuple[ToolCall, ToolResult]:
    call, result = item["call"], item["result"]
    return (
        ToolCall(call["id"], call["name"], dict(call.get("input") or {})),
        ToolResult(
            result["tool_use_id"],
            str(result["content"]),
            bool(result.get("is_error", False)),
            result.get("exit_code"),
            float(result.get("duration") or 0.0),
        ),
    )
