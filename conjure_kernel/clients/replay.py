"""Replay: a saved notebook's turns answer again, so it re-runs with no key.

Only the model's side is replayed (``RecordedModel`` streams its steps): tools really
run again on the current backend, and ``drift`` compares what they return now with what
they returned when recorded. Paths that differ between machines (the working directory,
skill folders) are mapped from the recording's values to the current ones before a
recorded tool call runs, and back before results are compared.

A ``Replay`` is a value handed to each turn (``TurnOptions.replay``): the loop reads the
calls not to start again, the permission gate the recorded decisions, the hosted
backend the files its hosted calls produced, and the session what drifted. Hosted tools
(code execution on Anthropic's side) are part of the model's answer, so they are
replayed, not re-run. A replay may hold the tools to one backend (``backend``): the
notebook's own switches then do not move them.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import RecordingMismatch, ReplayedFailure
from ..tools.output import one_line
from .base import CREDENTIAL_ENV_VARS, ModelResponse

__all__ = ["UNFINISHED", "Drift", "Replay", "ReplayTurn", "overridden_line"]

UNFINISHED = "not run on replay: this call had not finished when the notebook was recorded"
"""What the model is told of a call that was unfinished when recorded, instead of running it."""


@dataclass(frozen=True)
class ReplayTurn:
    """What replay reads of one saved turn record."""

    message: str
    responses: Sequence[ModelResponse]
    tool_results: Mapping[str, tuple[str, bool]] = field(default_factory=dict)
    """Recorded ``tool_use_id`` → (content, is_error)."""
    paths: Mapping[str, str] = field(default_factory=dict)
    """Machine-specific paths at recording time, by key (``workdir``, ``skill:NAME``)."""
    skills: Mapping[str, str] = field(default_factory=dict)
    """Skill name → content hash at recording time."""
    failure: Mapping[str, str] | None = None
    """How the turn ended early when recorded (``error``, ``message``), if it did."""
    unfinished: frozenset[str] = frozenset()
    """Client tool calls that had not finished when recorded: a replay does not start them."""
    files: Mapping[str, Sequence[str]] = field(default_factory=dict)
    """Files hosted tool calls produced, by ``tool_use_id``: where they were saved on the host."""
    denied: frozenset[str] = frozenset()
    """Client tool calls that were denied permission when recorded: they stay denied."""
    environment: Mapping[str, str] = field(default_factory=dict)
    """What the tools ran on when recorded (image id, tool versions)."""
    sent: str | list[dict[str, Any]] | None = None
    """What the model was sent, where it differs from ``message`` (the cell's ``{name}``
    filled in): a replay sends it again, so it needs none of the notebook's variables."""
    images: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    """The image blocks of recorded tool results, by ``tool_use_id`` (an MCP tool's
    pictures): a result answered from the recording carries them as the model saw them."""
    ran_on: Mapping[str, str] = field(default_factory=dict)
    """The backend each client tool call ran on, by ``tool_use_id``: a hybrid route's, else
    the turn's. A call whose recorded decision is to count again must run there again."""


@dataclass(frozen=True)
class Drift:
    """A tool whose re-run result differs from the recorded one."""

    tool_use_id: str
    name: str
    diff: str

    def to_json(self) -> dict[str, str]:
        return {"tool_use_id": self.tool_use_id, "name": self.name, "diff": self.diff}


class Replay:
    """A notebook's recorded turns, and which one the turn running now answers from."""

    def __init__(
        self,
        turns: Sequence[ReplayTurn],
        *,
        source: str = "",
        backend: str = "",
        live: bool = False,
    ) -> None:
        self.turns = list(turns)
        self.source = source
        """Where the turns were recorded (a notebook's name), for messages."""
        self.backend = backend
        """The backend the tools run on whatever the notebook switches to; empty: the
        notebook's own switches apply."""
        self.live = live
        """Re-run MCP calls whose server runs here; False: answer them as recorded."""
        self.current: ReplayTurn | None = None
        self._overridden: dict[str, bool] = {}
        """Backends the notebook switched to that this replay kept the tools off, by name:
        whether that was told yet."""
        self._next = 0
        self._to_current: dict[str, str] = {}

    def override(self, backend: str) -> None:
        """The notebook switched to ``backend``, and the tools stay on this replay's."""
        self._overridden.setdefault(backend, False)

    def untold_overrides(self) -> str:
        """Once per backend: the line saying the notebook's switches to it were
        overridden; ``""`` when there is nothing new to say."""
        untold = [name for name, told in self._overridden.items() if not told]
        if not untold:
            return ""
        self._overridden.update(dict.fromkeys(untold, True))
        return overridden_line(self.backend, untold)

    def prepare_turn(self, message: str, paths: Mapping[str, str]) -> ReplayTurn:
        """Pick the recorded turn for ``message``: the next unused one with the same text."""
        order = list(range(self._next, len(self.turns))) + list(range(self._next))
        for index in order:
            if self.turns[index].message.strip() == message.strip():
                self._next = index + 1
                self.current = self.turns[index]
                self._to_current = {
                    old: paths[key]
                    for key, old in self.current.paths.items()
                    if key in paths and old and old != paths[key]
                }
                return self.current
        self.current = None
        if any(os.environ.get(name) for name in CREDENTIAL_ENV_VARS):
            hint = "an API key is set: turn replay off, then re-run this cell to record it afresh"
        else:
            hint = (
                "set ANTHROPIC_API_KEY, turn replay off, then re-run this cell to record it afresh"
            )
        raise RecordingMismatch(
            f"no recorded turn matches this message{self._where()} (the cell was edited since "
            f"it was recorded): {one_line(message, 80)!r}",
            hint=hint,
        )

    def response(self, step: int) -> ModelResponse:
        """The current turn's recorded response to model step ``step`` (from 0), its paths
        mapped to this machine; where the recording ends, an error that says why."""
        if self.current is None:
            raise RecordingMismatch("replay has no current turn; call prepare_turn first")
        responses, failure = self.current.responses, self.current.failure
        if step >= len(responses) and failure:
            ended = "was interrupted" if failure.get("error") == "TurnInterrupted" else "failed"
            raise ReplayedFailure(
                f"the recording ends here: this turn {ended} when it was recorded "
                f"({failure.get('error')}: {failure.get('message')})",
                hint="the replay stopped where the recording did; re-record the cell to go on",
            )
        if step >= len(responses):
            raise RecordingMismatch(
                f"the recording of this turn has {len(responses)} model step(s), "
                "but the re-run asked for another one",
                hint="a tool result probably changed; compare the drift report with the recording",
            )
        return self._translate(responses[step])

    def unfinished(self) -> dict[str, str]:
        """Calls of the current turn not to start again, with what the model is told instead."""
        if self.current is None:
            return {}
        return dict.fromkeys(self.current.unfinished, UNFINISHED)

    def recorded_decisions(self, backend: str) -> dict[str, tuple[bool, str]]:
        """Whether each call of the current turn may run again on ``backend``, as the
        recording decided: a denied one, no, with what the model was told then; one that
        ran, yes, if it ran on ``backend`` (a call recorded in a sandbox is decided afresh
        where it now runs with another boundary, as a replay held elsewhere does)."""
        turn = self.current
        if turn is None:
            return {}
        return {
            call_id: (call_id not in turn.denied, content)
            for call_id, (content, _) in turn.tool_results.items()
            if call_id in turn.denied or turn.ran_on.get(call_id, backend) == backend
        }

    def recorded_files(self, tool_use_id: str) -> list[str]:
        """The files a hosted call of the current turn produced, at their paths here."""
        if self.current is None:
            return []
        paths = self.current.files.get(tool_use_id, ())
        return [_replace_all(path, self._to_current) for path in paths]

    def drift(self, results: Sequence[tuple[Any, Any]], steps: int) -> list[Drift]:
        """Compare re-run ``(ToolCall, ToolResult)`` pairs with the current recorded turn,
        and the ``steps`` the re-run took with the recorded ones: a turn that ended early
        (hosted calls that the backend it now runs on cannot run) drifted too."""
        if self.current is None:
            return []
        to_recorded = {new: old for old, new in self._to_current.items()}
        recorded_steps = len(self.current.responses)
        drifts = []
        if steps < recorded_steps and self.current.failure is None:
            ended = f"the turn ended after {steps} of its {recorded_steps} recorded model steps"
            drifts.append(Drift("", "the turn", ended))
        for call, result in results:
            recorded = self.current.tool_results.get(call.id)
            if recorded is None:
                continue
            now = (_replace_all(result.content, to_recorded), result.is_error)
            if now != tuple(recorded):
                drifts.append(Drift(call.id, call.name, _diff(recorded, now)))
        return drifts

    def changed_skills(self, current: Mapping[str, str]) -> list[str]:
        """Skills of the current recorded turn whose content differs now (or that are gone)."""
        if self.current is None:
            return []
        return sorted(
            name for name, digest in self.current.skills.items() if current.get(name) != digest
        )

    def changed_environment(self, current: Mapping[str, str]) -> list[str]:
        """What the tools run on now that differs from the current recorded turn, one
        ``name: recorded → now`` each; what one side does not say is not compared."""
        if self.current is None:
            return []
        recorded = self.current.environment
        return [
            f"{name}: {recorded[name]} → {current[name]}"
            for name in sorted(recorded.keys() & current.keys())
            if recorded[name] != current[name]
        ]

    def _translate(self, response: ModelResponse) -> ModelResponse:
        if not self._to_current:
            return response
        message = json.loads(
            _replace_all(json.dumps(response.message), self._to_current, escaped=True)
        )
        return dataclasses.replace(response, message=message)

    def _where(self) -> str:
        return f" in {self.source}" if self.source else ""


def _replace_all(text: str, mapping: Mapping[str, str], *, escaped: bool = False) -> str:
    """Replace every old path with its new one in one pass, longest first, so no path is mapped twice."""
    if escaped:
        mapping = {json.dumps(old)[1:-1]: json.dumps(new)[1:-1] for old, new in mapping.items()}
    if not mapping:
        return text
    pattern = "|".join(re.escape(old) for old in sorted(mapping, key=len, reverse=True))
    return re.sub(pattern, lambda match: mapping[match.group(0)], text)


def _diff(recorded: tuple[str, bool], now: tuple[str, bool]) -> str:
    lines = list(
        difflib.unified_diff(
            recorded[0].splitlines(), now[0].splitlines(), "recorded", "re-run", n=1, lineterm=""
        )
    )
    if recorded[1] != now[1]:
        lines.append(f"error flag: recorded {recorded[1]}, re-run {now[1]}")
    return "\n".join(lines[:40])


def overridden_line(backend: str, switched_to: Sequence[str]) -> str:
    """Says the tools run on ``backend`` as asked, naming the notebook's ``%backend`` cells
    that would have switched elsewhere (``a, b and c``)."""
    cells = [f"`%backend {name}`" for name in dict.fromkeys(switched_to)]
    listed = ", ".join(cells[:-1]) + f" and {cells[-1]}" if len(cells) > 1 else "".join(cells)
    overridden = f": the notebook's {listed} cells are overridden" if listed else ""
    if "hybrid" in switched_to and backend != "hybrid":
        overridden += f", so every call its hybrid routes sent elsewhere runs on {backend}"
    return f"replaying on {backend} as asked{overridden}"
