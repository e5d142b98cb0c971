"""The gate of a hybrid turn: each call decided as its route's backend would decide it alone.

A route keeps its backend's permission default (``docker`` runs without asking, ``local``
with ``sandbox=off`` asks), its places (the workspace and skill folders as its tools see
them, links followed as they follow them) and its name in the question. The rules are
the session's, one set for all: an "always" answered for one route's call holds at once
for every route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..backends.gate import Verdict
from ..tools.values import ToolCall
from .rules import Rule
from .session_gate import SessionGate

__all__ = ["RoutedGate"]


@dataclass
class RoutedGate:
    """``Gate`` over one ``SessionGate`` per route, a call asked of the one that runs it."""

    gates: Mapping[str, SessionGate]
    route_of: Callable[[ToolCall], str]

    def __post_init__(self) -> None:
        for gate in self.gates.values():
            gate.remember = self._remembering(gate.remember)

    def check(self, call: ToolCall) -> Verdict:
        return self._gate(call).check(call)

    def names_denied(self, tool: str) -> bool:
        return any(gate.names_denied(tool) for gate in self.gates.values())

    async def ask(self, call: ToolCall, question: Verdict) -> Verdict:
        return await self._gate(call).ask(call, question)

    @property
    def outside(self) -> Mapping[str, tuple[str, str]]:
        return next(iter(self.gates.values())).outside if self.gates else {}

    @outside.setter
    def outside(self, tools: Mapping[str, tuple[str, str]]) -> None:
        """MCP tools reached from the kernel over HTTP, for every route's gate."""
        for gate in self.gates.values():
            gate.outside = tools

    def _gate(self, call: ToolCall) -> SessionGate:
        return self.gates[self.route_of(call)]

    def _remembering(self, remember: Callable[[Rule], None]) -> Callable[[Rule], None]:
        """``remember`` that also gives an "always" rule to the other routes' gates."""

        def remembered(rule: Rule) -> None:
            for gate in self.gates.values():
                if rule not in gate.permissions.allow:
                    gate.permissions = gate.permissions.adding(allow=[rule])
            remember(rule)

        return remembered
