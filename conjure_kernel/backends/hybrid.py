"""The hybrid backend: one conversation whose tool calls run on several backends by route.

``%backend hybrid view=local bash_tool=docker skill:xlsx=anthropic default=docker``
opens each backend a route names as it would open alone (its sandbox, limits,
workspace and lifetime), all in one working folder, so a file one of them writes is
there for the others: the host folder is the local workspace, the docker sandbox's
``/workspace`` mount and the hosted container's download folder. The model gets one
tool set and one system prompt saying where each tool runs and where each skill is;
``hybrid_session`` says which route runs a call, and the trace shows it on each call.

A turn runs the client-side loop over the routed tools; with an ``anthropic`` route it
runs the hosted loop instead, which then answers client calls beside code execution.
A route that cannot open (an engine that is down, a bad setting) refuses the whole
switch with its reason, and what had opened is closed again.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from ..clients.base import ModelClient
from ..errors import BackendError, ConjureError
from ..events import Event, Notice
from ..skills.prompt import render_system_prompt
from ..skills.skill import Skill
from ..tools.combined import CombinedTools
from ..tools.schemas import SKILL_TOOLS
from .base import (
    ExecutorSession,
    SessionOptions,
    TurnOptions,
    client_side_turn,
    default_permission_mode,
)
from .gate import PermissionMode, strictest
from .hosted_mcp import McpConnector
from .hosted_turn import HostedTurn
from .hosting import hosting_for
from .hybrid_session import HOSTED, HybridSession, Route
from .hybrid_settings import FORMS, HybridSettings, Routes
from .local import host_workdir
from .native import NativeSession
from .registry import get_backend

if TYPE_CHECKING:
    from anthropic.types import ToolParam

__all__ = ["HybridBackend"]

_WORKSPACE_TOOLS = frozenset(tool["name"] for tool in SKILL_TOOLS)
_ANTHROPIC_SKILLS = frozenset({"xlsx", "pptx", "docx", "pdf"})
"""Anthropic's own skills, which ``skill:NAME=anthropic`` names when no local skill does."""


class HybridBackend:
    """Routes each tool, skill or MCP server to a backend of its own, in one conversation."""

    backend_type: ClassVar[str] = "hybrid"
    settings_class: ClassVar[type[HybridSettings]] = HybridSettings
    help_forms: ClassVar[tuple[str, ...]] = FORMS

    def permission_mode_for(self, settings: HybridSettings) -> PermissionMode:
        """The strictest of the routes' defaults, their settings as given, before a session
        opens; each call is decided by its own route's default (``conversation.routed_gate``)."""
        routes = settings.read()
        return strictest(
            default_permission_mode(
                backend, backend.settings_class.parse(routes.settings.get(name))
            )
            for name in routes.backends
            for backend in [get_backend(name)]
        )

    async def open_session(self, skills: Sequence[Skill], options: SessionOptions) -> HybridSession:
        settings = HybridSettings.of(options.settings)
        rules = settings.read()
        workdir = host_workdir(settings.workdir)
        kept = _skills_by_route(rules, skills)
        routes: dict[str, Route] = {}
        try:
            for name in rules.backends:
                routes[name] = await _open_route(name, rules, kept.get(name, ()), options, workdir)
            session = HybridSession(workdir=workdir, rules=rules, routes=routes)
            session.offer(_offered(rules, routes))
            session.system_prompt = _system_prompt(session)
            hosted = session.hosted
            if hosted is not None:  # the hosted loop sends its session's prompt
                hosted.session.system_prompt = session.system_prompt  # type: ignore[attr-defined]
        except BaseException:
            await _close(routes.values())
            raise
        session.opening_notice = "\n".join(
            f"{route.name}: {route.session.opening_notice}"
            for route in routes.values()
            if isinstance(route.session, ExecutorSession) and route.session.opening_notice
        )
        return session

    async def chat(
        self,
        session: HybridSession,
        message: str | list[dict[str, Any]],
        api_callback: ModelClient,
        options: TurnOptions,
    ) -> AsyncIterator[Event]:
        tools = session.executor
        more = options.more_tools
        executor = (
            CombinedTools(tools, more) if more and not isinstance(more, McpConnector) else tools
        )
        hosted = session.hosted
        if hosted is not None:
            turn = HostedTurn(
                hosted.session,  # type: ignore[arg-type]
                api_callback,
                options,
                hosting_for(hosted.session, options),  # type: ignore[arg-type]
                tools=executor if executor.tools else None,
            ).run(message)
        else:
            turn = client_side_turn(message, api_callback, executor, session.system_prompt, options)
        if session.opening_notice:
            yield Notice(session.opening_notice, "warning")
            session.opening_notice = ""
        async with contextlib.aclosing(turn) as events:  # the loop's finally runs on early exit
            async for event in events:
                yield session.annotated(event)

    async def close(self, session: HybridSession) -> None:
        await _close(session.routes.values())


async def _open_route(
    name: str,
    rules: Routes,
    skills: Sequence[Skill],
    options: SessionOptions,
    workdir: Any,
) -> Route:
    """Open ``name`` as it opens alone, in the shared folder; its failure names the route."""
    backend = get_backend(name)
    given: dict[str, Any] = dict(rules.settings.get(name, {}))
    if any(item.name == "workdir" for item in backend.settings_class.declared()):
        given["workdir"] = str(workdir)
    if name == HOSTED:
        own = [skill for skill, where in rules.skills.items() if where == HOSTED]
        refs = [f"anthropic:{n}" for n in own if n in _ANTHROPIC_SKILLS and n not in _names(skills)]
        given["skills"] = ",".join(filter(None, [given.get("skills", ""), *refs]))
    try:
        settings = (
            options.setup(backend, given)
            if options.setup is not None
            else backend.settings_class.parse(given, backend=name)
        )
        session = await backend.open_session(
            skills, dataclasses.replace(options, settings=settings)
        )
    except ConjureError as error:  # the same error, its message naming the route
        named = [rule for rule in rules.rules() if rule.endswith(f"={name}")]
        error.args = (f"the hybrid route {' '.join(named)} cannot open: {error}",)
        raise
    return Route(name, backend, settings, session, tuple(skills))


def _skills_by_route(rules: Routes, skills: Sequence[Skill]) -> dict[str, tuple[Skill, ...]]:
    """Each loaded skill on the backend its route names (else the default's); a route for
    a skill no one has is an error, but Anthropic's own skills on ``anthropic`` and a
    native skill's name on ``native``."""
    loaded = _names(skills)
    for name, where in rules.skills.items():
        if name in loaded or where == "native" or (where == HOSTED and name in _ANTHROPIC_SKILLS):
            continue
        raise BackendError(
            f"hybrid route skill:{name}={where}: no skill {name!r} is loaded"
            + (f" (loaded: {', '.join(sorted(loaded))})" if loaded else ""),
            hint=f"load it first (%skills PATH), or use one of Anthropic's own on anthropic: "
            f"{', '.join(sorted(_ANTHROPIC_SKILLS))}",
        )
    kept: dict[str, tuple[Skill, ...]] = {}
    for skill in skills:
        where = rules.skills.get(skill.name, rules.default)
        if where == "native":
            raise BackendError(
                f"hybrid: the skill {skill.name!r} is a folder, which the native backend cannot "
                "hold (its tools are Python methods)",
                hint=f"route it elsewhere: skill:{skill.name}=local or docker",
            )
        kept[where] = (*kept.get(where, ()), skill)
    return kept


def _offered(rules: Routes, routes: Mapping[str, Route]) -> dict[str, tuple[ToolParam, str]]:
    """Each client tool the model is offered, with the route that runs it.

    A routed tool runs on its route (on ``anthropic``: not offered, code execution does
    its work); else on the default if that offers it, or leaves it to code execution;
    else on the one route that offers it. A native route offers only the tools of the
    native skills routed to it, unless it is the default.
    """
    by_tool: dict[str, list[tuple[str, ToolParam]]] = {}
    for route in routes.values():
        if isinstance(route.session, ExecutorSession):
            for tool in route.session.executor.tools:
                by_tool.setdefault(tool["name"], []).append((route.name, tool))
    _check_tool_rules(rules, by_tool)
    native = _native_tools(rules, routes)
    offered: dict[str, tuple[ToolParam, str]] = {}
    for tool, places in by_tool.items():
        where = dict(places)
        chosen = rules.tools.get(tool)
        if chosen is None and rules.default in where:
            chosen = rules.default
        elif chosen is None and rules.default == HOSTED and tool in _WORKSPACE_TOOLS:
            chosen = HOSTED
        elif chosen is None:
            chosen = places[0][0]
        if chosen == "native" and rules.default != "native" and tool not in native:
            continue
        if chosen in where:
            offered[tool] = (where[chosen], chosen)
    return offered


def _check_tool_rules(rules: Routes, by_tool: Mapping[str, list[tuple[str, Any]]]) -> None:
    for tool, where in rules.tools.items():
        offering = [name for name, _ in by_tool.get(tool, [])]
        if where == HOSTED and tool in _WORKSPACE_TOOLS:
            continue
        if where not in offering:
            known = sorted(by_tool) + (sorted(_WORKSPACE_TOOLS) if HOSTED in rules.backends else [])
            raise BackendError(
                f"hybrid route {tool}={where}: {where} offers no tool {tool!r}"
                + (f"; it is offered by {', '.join(offering)}" if offering else ""),
                hint=f"route one of the tools there: {', '.join(sorted(set(known)))}",
            )


def _native_tools(rules: Routes, routes: Mapping[str, Route]) -> set[str]:
    """The tools of the native skills routed to ``native`` (checked to exist)."""
    route = routes.get("native")
    if route is None or not isinstance(route.session, NativeSession):
        return set()
    found = {skill.name: skill for skill in route.session.native_skills}
    tools = {tool for tool, where in rules.tools.items() if where == "native"}
    for name, where in rules.skills.items():
        if where != "native":
            continue
        if name not in found:
            raise BackendError(
                f"hybrid route skill:{name}=native: no native skill {name!r} in the namespace"
                f" (found: {', '.join(sorted(found)) or 'none'})",
                hint="define a NativeSkill subclass with that name in a cell first",
            )
        tools |= {found[name].tool_name(op) for op in found[name].operations()}
    return tools


def _system_prompt(session: HybridSession) -> str:
    """One prompt: where each tool runs, the one workspace, and where each skill is."""
    places = []
    runs = session.tools_by_route
    for route in session.routes.values():
        tools = runs.get(route.name, [])
        if route.client_side and not tools:
            continue
        where = _where(route, session)
        names = "code execution" if not route.client_side else ", ".join(tools)
        places.append(f"- {names}: {where}")
    folders: dict[str, list[str]] = {}
    for route in session.routes.values():
        if route.client_side:
            folder = route.session.paths.get("workdir", str(session.workdir))
            folders.setdefault(folder, []).append(route.name)
    seen = "; ".join(f"{folder} on {' and '.join(names)}" for folder, names in folders.items())
    these = "These places" if session.hosted is None else "These places but code execution"
    shared = (
        f"{these} share one working folder ({seen}): a file one of them writes there "
        "is there for the others, and a relative path names the same file in each. Shell "
        "state (the current directory, variables, running programs) is not shared between "
        "places. A view, create_file or str_replace whose path is in a skill's folder runs "
        "where that skill is; commands run where bash_tool runs."
    )
    hosted = (
        " Code execution does not see that folder: the files your code writes in its "
        "sandbox are downloaded into it afterwards (an existing file is never overwritten)."
        if session.hosted is not None
        else ""
    )
    environment = "\n".join(
        ["Your tools run in different places, each chosen by the user:", *places, shared + hosted]
    )
    client_skills = [
        (skill, route)
        for route in session.routes.values()
        if route.client_side
        for skill in route.skills
    ]
    where = {skill.name: route for skill, route in client_skills}
    return render_system_prompt(
        [skill for skill, _ in client_skills],
        location=lambda skill: _skill_md(where[skill.name], skill),
        environment=environment,
    )


def _where(route: Route, session: HybridSession) -> str:
    if not route.client_side:
        return "in Anthropic's code-execution sandbox (the anthropic backend, with its own skills)"
    kind = route.session.backend_type
    folder = route.session.paths.get("workdir", str(session.workdir))
    if kind == "docker":
        return f"in a sandbox container (the docker backend), working folder {folder}"
    if kind == "local":
        return f"on the user's machine (the local backend), working folder {folder}"
    if kind == "native":
        return "as Python methods inside the user's Jupyter kernel (the native backend)"
    return f"on the {route.name} backend, working folder {folder}"


def _skill_md(route: Route, skill: Skill) -> str:
    return f"{route.skill_root(skill).rstrip('/')}/SKILL.md"


def _names(skills: Sequence[Skill]) -> set[str]:
    return {skill.name for skill in skills}


async def _close(routes: Any) -> None:
    for route in reversed(list(routes)):
        with contextlib.suppress(Exception):
            await route.backend.close(route.session)
