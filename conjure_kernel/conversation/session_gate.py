"""The loop's ``Gate`` for one turn: decide, and ask the person what the rules leave open.

Split from permissions.py, which decides without asking anyone: ``SessionGate`` adds
what a recording decided (on replay) and asks the person through an ``Asker``, or
denies at once when there is none (a headless run). A "yes, always" answer becomes an
allow rule (``always_rule``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from ..backends.gate import OPEN, PermissionMode, Verdict
from ..mcp.offered import tool_name
from ..tools.values import ToolCall
from .permissions import Permissions, decide, denied
from .places import Places
from .rules import COMMAND_TOOL, FILE_TOOLS, Rule, escape_pattern

__all__ = [
    "HEADLESS",
    "Approval",
    "ApprovalRequest",
    "Asker",
    "SessionGate",
    "always_allows",
    "always_rule",
]

HEADLESS = "denied: no one could be asked (headless run) and no rule allows it"


def always_rule(call: ToolCall, places: Places) -> Rule:
    """What "yes, always" allows from then on: this command, path or input exactly; the
    tool itself for a call with no input (a question about a whole MCP server on the
    hosted backend, whose calls the kernel never sees)."""
    if not call.input:
        return Rule(call.name)
    return Rule(call.name, escape_pattern(_subject(call, places)))


def always_allows(call: ToolCall, places: Places) -> str:
    """What "yes, always" allows, as the person reads it: the tool and its command, path
    or input as the call has it (``bash_tool `ls *.py```), without the backslashes the
    rule needs to match it exactly (those belong to rules, as ``%permissions`` lists them)."""
    return f"{call.name} `{_subject(call, places)}`" if call.input else call.name


def _subject(call: ToolCall, places: Places) -> str:
    """The part of ``call`` an "always" rule matches: a file tool's real path, a command,
    or another tool's command, path or input."""
    path = call.input.get("path")
    if call.name in FILE_TOOLS and isinstance(path, str):
        return places.real(path)
    if call.name == COMMAND_TOOL:
        return str(call.input.get("command", ""))
    subject = call.input.get("command") or path
    if not isinstance(subject, str):
        subject = json.dumps(call.input, sort_keys=True, ensure_ascii=False)
    return subject


@dataclass(frozen=True)
class ApprovalRequest:
    """One question for the person: the call, what it would do, and what "always" allows."""

    call: ToolCall
    question: str
    """``run `rm x` on the local backend``: the tool's action, command or path, backend."""
    always: Rule
    allows: str
    """What ``always`` allows, in words (``always_allows``): what the person is shown."""


@dataclass(frozen=True)
class Approval:
    """The person's answer."""

    allowed: bool
    always: bool = False
    """Allow calls matching the request's rule for the rest of the session."""
    reason: str = ""
    """Why not, in the person's words; the model reads it."""
    asked: bool = True
    """False: no one could be asked (no stdin: nbclient, papermill, replay)."""


Asker = Callable[[ApprovalRequest], Awaitable[Approval]]
"""Asks the person and waits for the answer; a frontend provides it."""


@dataclass
class SessionGate:
    """The loop's ``Gate`` for one turn of a session.

    ``recorded`` (replay) holds what the recording decided: a call that ran when recorded
    runs again without a question, one that was denied stays denied with the same words;
    deny rules and the ``deny`` and ``read-only`` modes still win. An "always" answer
    becomes an allow rule here at once (for the next calls of the step) and, through
    ``remember``, in the session.
    """

    permissions: Permissions
    mode: PermissionMode
    places: Places
    backend: str
    asker: Asker | None = None
    remember: Callable[[Rule], None] = field(default=lambda rule: None)
    recorded: Mapping[str, tuple[bool, str]] = field(default_factory=dict)
    outside: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Tools that run outside the backend's boundary, by name → (their server, where it
    is): an MCP server reached over HTTP from the kernel. Where the mode would just run
    them, they are asked about once per server (a yes allows the server's tools) until a
    rule allows them; where it asks anyway, the question says where they run."""
    _server_wide: set[str] = field(default_factory=set, init=False, repr=False)
    """Ids of the calls whose question was asked for their whole server."""

    def names_denied(self, tool: str) -> bool:
        return any(rule.names(tool) for rule in self.permissions.deny)

    def check(self, call: ToolCall) -> Verdict:
        verdict = decide(call, self.mode, self.permissions, self.places, self.backend)
        if verdict.allowed is False or call.id not in self.recorded:
            return self._outside_asked(call, verdict)
        allowed, message = self.recorded[call.id]
        if not allowed:
            return denied("as recorded: denied when the notebook was recorded", message)
        if verdict.allowed:
            return verdict
        as_recorded = Verdict(True, "as recorded: it ran when recorded")
        return dataclasses.replace(
            as_recorded, pinned=verdict.pinned, fresh_shell=verdict.fresh_shell
        )

    def _outside_asked(self, call: ToolCall, verdict: Verdict) -> Verdict:
        outside = self.outside.get(call.name)
        if outside is None or (verdict.allowed is not None and verdict != OPEN):
            return verdict
        server, where = outside
        subject = json.dumps(call.input, ensure_ascii=False)
        prompt = (
            f"run {call.name} with {subject} at {where}, reached from the kernel, "
            f"outside the {self.backend} backend's boundary"
        )
        if verdict == OPEN:  # the mode would run it: asked once for the whole server
            self._server_wide.add(call.id)
            prompt += f" (yes allows every tool of {server} for this session)"
        return Verdict(None, prompt=prompt)

    async def ask(self, call: ToolCall, question: Verdict) -> Verdict:
        answer = await self._answer(call, question)
        if not answer.allowed:
            return answer
        return dataclasses.replace(answer, pinned=question.pinned, fresh_shell=question.fresh_shell)

    async def _answer(self, call: ToolCall, question: Verdict) -> Verdict:
        if self.asker is None:
            return denied("no one could be asked: a headless run", HEADLESS)
        server_wide = call.id in self._server_wide
        always = always_rule(call, self.places)
        allows = always_allows(call, self.places)
        if server_wide:  # a yes allows the server's tools
            server = self.outside[call.name][0]
            always, allows = Rule(tool_name(server, "*")), f"every tool of {server}"
        request = ApprovalRequest(call, question.prompt, always, allows)
        try:
            answer = await self.asker(request)
        except Exception as error:  # a broken frontend must not run the call, nor end the turn
            return denied(
                f"the question failed ({type(error).__name__}: {error})",
                "denied: the user could not be asked, and no rule allows it",
            )
        if not answer.asked:
            return denied("no one could be asked: a headless run", HEADLESS)
        if not answer.allowed:
            said = f": {answer.reason}" if answer.reason else ""
            return denied(f"by the person{said}", f"denied by the user{said}")
        if answer.always or server_wide:
            self.permissions = self.permissions.adding(allow=[request.always])
            self.remember(request.always)
            return Verdict(True, f"by the person, always: {request.allows} is allowed from now on")
        return Verdict(True, "by the person")
