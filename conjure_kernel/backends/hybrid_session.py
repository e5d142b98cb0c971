"""What a hybrid session keeps: its routes, each an ordinary backend session, and which
one runs a call.

A call runs where its route says, in this order: a file tool (``view``, ``create_file``,
``str_replace``) whose path is in a skill's folder runs where that skill is, if that
backend offers the tool (its path normalised first, so ``..`` cannot reach one); else
the tool's own route; else the default, when the default offers the tool; else the
one route that does (a native skill's tools). Nothing else moves a call: a command
that mentions a skill's folder still runs where ``bash_tool`` runs, since a hostile
command could mention one only to move itself to another boundary.
Code execution and its skills run on the ``anthropic`` route, whose calls the API
makes; stdio MCP servers start on the ``mcp:`` route, or the default.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..events import Event, ServerToolCallStarted, ToolCallStarted
from ..skills.skill import Skill
from ..tools.call_watch import UNWATCHED, CallWatch
from ..tools.values import ToolCall, ToolResult
from .base import Backend, BackendSession, ExecutorSession
from .hybrid_settings import Routes
from .settings import BackendSettings

if TYPE_CHECKING:
    from anthropic.types import ToolParam

__all__ = ["HybridSession", "Route", "RoutedTools"]

HOSTED = "anthropic"
_FILE_TOOLS = frozenset({"view", "create_file", "str_replace"})
"""The tools a skill's folder moves, by their ``path``."""


@dataclass
class Route:
    """One backend of a hybrid session, opened as it would be alone."""

    name: str
    backend: Backend
    settings: BackendSettings
    session: BackendSession
    skills: tuple[Skill, ...] = ()
    """The skill folders kept on this backend."""

    @property
    def client_side(self) -> bool:
        """Whether its tools run here, through the loop (not the API's code execution)."""
        return isinstance(self.session, ExecutorSession)

    def skill_root(self, skill: Skill) -> str:
        """The skill's folder as this route's tools see it."""
        return self.session.paths.get(f"skill:{skill.name}", str(skill.root))


class RoutedTools:
    """The ``Executor`` of a hybrid session: every offered tool, each call run by its route."""

    def __init__(self, offered: Mapping[str, tuple[ToolParam, str]], session: HybridSession):
        self.offered = offered
        """Tool name → its definition and the route that runs it unless a skill says else."""
        self.session = session

    @property
    def tools(self) -> Sequence[ToolParam]:
        return [tool for tool, _ in self.offered.values()]

    async def run(self, call: ToolCall, watch: CallWatch = UNWATCHED) -> ToolResult:
        route = self.session.routes[self.session.route_of(call)]
        assert isinstance(route.session, ExecutorSession)
        return await route.session.executor.run(call, watch)

    async def aclose(self) -> None:
        """Nothing of its own: each route's session is closed by its backend."""


@dataclass(kw_only=True)
class HybridSession:
    """One conversation whose tool calls run on several backends, by route."""

    backend_type: str = "hybrid"
    workdir: Path
    """The one folder every route works in, on this machine."""
    rules: Routes
    routes: dict[str, Route]
    """By backend name, the default first."""
    executor: RoutedTools = field(init=False, repr=False)
    system_prompt: str = field(default="", repr=False)
    leads_to: Callable[[str], str] = field(default=os.path.realpath, repr=False)
    """Unused for decisions: each route's gate follows links as that route's tools do."""
    opening_notice: str = field(default="", repr=False)

    def offer(self, offered: Mapping[str, tuple[ToolParam, str]]) -> None:
        self.executor = RoutedTools(offered, self)

    @property
    def environment(self) -> dict[str, str]:
        """Each route's, its keys prefixed by the backend (``docker.image``)."""
        return {
            f"{name}.{key}": value
            for name, route in self.routes.items()
            for key, value in route.session.environment.items()
        }

    @property
    def paths(self) -> dict[str, str]:
        """The workspace on this machine, and each skill's folder on the route that keeps it."""
        skills = {
            f"skill:{skill.name}": route.skill_root(skill)
            for route in self.routes.values()
            if route.client_side
            for skill in route.skills
        }
        return {"workdir": str(self.workdir), **skills}

    @property
    def hosted(self) -> Route | None:
        """The route whose calls Anthropic's API runs (code execution), if any."""
        return next((route for route in self.routes.values() if not route.client_side), None)

    @property
    def mcp_route(self) -> Route | None:
        """Where stdio MCP servers start: the ``mcp:`` routes' backend, else the default's
        if its tools run here, else the first route whose tools do."""
        named = [self.routes[name] for name in self.rules.mcp.values()]
        client = [route for route in self.routes.values() if route.client_side]
        return next(iter(named), None) or next(iter(client), None)

    @property
    def tools_by_route(self) -> dict[str, list[str]]:
        """The client tools offered, grouped by the route that runs them (a new dict)."""
        grouped: dict[str, list[str]] = {}
        for tool, (_, name) in self.executor.offered.items():
            grouped.setdefault(name, []).append(tool)
        return grouped

    def route_of(self, call: ToolCall) -> str:
        """The backend that runs ``call``; MCP tools run where their servers started."""
        offered = self.executor.offered.get(call.name)
        if offered is None:
            mcp = self.mcp_route
            return mcp.name if mcp is not None else self.rules.default
        path = call.input.get("path")
        if call.name not in _FILE_TOOLS or not isinstance(path, str):
            return offered[1]
        for route in self.routes.values():
            holds = any(_inside(path, route.skill_root(skill)) for skill in route.skills)
            if holds and route.client_side and _offers(route, call.name):
                return route.name
        return offered[1]

    def annotated(self, event: Event) -> Event:
        """A tool call's start, with the backend that runs it."""
        if isinstance(event, ServerToolCallStarted):
            return ServerToolCallStarted(event.call, backend=HOSTED)
        if isinstance(event, ToolCallStarted):
            return ToolCallStarted(event.call, backend=self.route_of(event.call))
        return event

    def describe(self) -> str:
        """The routes, which backend runs which tool and skill, then each route's own
        description with its boundary."""
        by_route = self.tools_by_route
        hosted = self.hosted
        if hosted is not None:
            by_route.setdefault(hosted.name, []).insert(0, "code execution")
        runs = "; ".join(f"{', '.join(tools)} → {name}" for name, tools in by_route.items())
        commands = self.executor.offered.get("bash_tool", (None, hosted.name if hosted else ""))[1]
        skills = [
            _skill_line(skill.name, route, commands)
            for route in self.routes.values()
            for skill in route.skills
        ]
        lines = [
            f"hybrid: {' '.join(self.rules.rules())}; one workspace, {self.workdir}",
            f"  tools: {runs or 'none'}",
            f"  skills: {', '.join(skills) or 'none'} (a view, create_file or str_replace "
            "in a skill's folder runs where the skill is; commands run where bash_tool runs)",
        ]
        for route in self.routes.values():
            lines.append(f"route {route.name}:")
            lines += [f"  {line}" for line in route.session.describe().splitlines()]
        return "\n".join(lines)


def _skill_line(name: str, route: Route, commands: str) -> str:
    """``pdf → docker``; a skill kept where commands do not run says its scripts cannot."""
    if not route.client_side or route.name == commands:
        return f"{name} → {route.name}"
    where = f"bash_tool runs on {commands}" if commands else "no route runs bash_tool"
    return f"{name} → {route.name} (files only: its scripts cannot run there, {where})"


def _offers(route: Route, tool: str) -> bool:
    assert isinstance(route.session, ExecutorSession)
    return any(offered["name"] == tool for offered in route.session.executor.tools)


def _inside(path: str, root: str) -> bool:
    """Whether ``path`` is ``root`` or in it, once normalised (``root/../x`` is not)."""
    normal = posixpath.normpath(path)
    return normal == root or normal.startswith(root.rstrip("/") + "/")
