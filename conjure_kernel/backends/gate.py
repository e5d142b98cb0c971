"""The permission seam of the tool loop: before a call runs, a gate allows it, denies it, or
asks the person.

The loop knows no policy: it asks the gate about each call of a step, in order, shows
the question and the decision as events, and never starts a denied call (the model gets
the denial as the call's error result). What a policy is, who is asked and how, lives
above (``conversation.permissions``, and the notebook's stdin prompt); a backend's loop
only needs this protocol.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, get_args, runtime_checkable

from ..tools.values import ToolCall

__all__ = ["MODES", "OPEN", "Gate", "PermissionMode", "Verdict", "strictest"]

PermissionMode = Literal["ask", "auto", "read-only", "deny"]
"""``ask``: the person approves what no rule allows; ``auto``: every call runs;
``read-only``: reads run, writes and unknown commands do not; ``deny``: no call runs.
A backend names its default as ``permission_mode`` (``ask`` when it names none)."""
MODES: tuple[str, ...] = get_args(PermissionMode)


def strictest(modes: Iterable[PermissionMode]) -> PermissionMode:
    """The mode that lets the least run (``deny`` before ``read-only``, ``ask``, ``auto``)."""
    order = ("deny", "read-only", "ask", "auto")
    return min(modes, key=order.index, default="ask")


@dataclass(frozen=True)
class Verdict:
    """The gate's word on one call."""

    allowed: bool | None
    """True: run it; False: do not; None: ask the person (``prompt`` says what)."""
    reason: str = ""
    """Why, for the trace: ``by the rule view(*)``, ``by the person``, ``headless run``…"""
    message: str = ""
    """For a denial: what the model is told instead of a result."""
    prompt: str = ""
    """For a question: what the person is asked, naming the tool, its command or path, and
    the backend."""
    pinned: str | None = None
    """Where the call's path led when this was decided: it may touch that place only
    (``tools.decisions``), so a link swapped in meanwhile cannot redirect it."""
    fresh_shell: bool = False
    """The rules judged the command as a new shell reads it: run it in one, not in a shell
    kept open where an earlier command may have redefined what its names run."""

    @property
    def shown(self) -> bool:
        """Whether the trace shows this decision: a question, a denial, or an allowing rule.

        A call that simply runs (the mode allows it, no rule named) leaves no entry, or
        every step of an ``auto`` session would be half approvals.
        """
        return self.allowed is not True or bool(self.reason)


OPEN = Verdict(True)
"""Run the call, saying nothing."""


@runtime_checkable
class Gate(Protocol):
    """Decides whether tool calls may run; one gate serves one turn."""

    def check(self, call: ToolCall) -> Verdict:
        """The decision that needs no one: allowed, denied, or ``allowed=None`` to ask."""
        ...

    def names_denied(self, tool: str) -> bool:
        """Whether a deny rule names the tool, whatever input its pattern takes: for calls
        made where the gate cannot see them (the API's MCP connector)."""
        ...

    async def ask(self, call: ToolCall, question: Verdict) -> Verdict:
        """The person's answer to ``question`` (allowed or denied, never None); denied at
        once, without waiting, when no one can be asked."""
        ...
