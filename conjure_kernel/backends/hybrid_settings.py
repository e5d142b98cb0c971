"""The hybrid backend's settings: which backend runs which tool, skill or MCP server.

``%backend hybrid view=local bash_tool=docker skill:xlsx=anthropic default=docker`` reads
as routes: a tool's name, ``skill:NAME`` or ``mcp:NAME`` on the left, a backend on the
right. ``BACKEND.KEY=VALUE`` passes one setting to that backend (``docker.memory=2g``),
and ``workdir`` is the one folder every route works in. The routes are kept as their
text in the ``routes`` setting, so they can be configured as any setting can
(``c.ConjureMagics.backend_settings = {"hybrid": {"routes": "view=local ..."}}``), and
``Routes`` reads them back; every key and backend name is checked here, before anything
opens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import BackendSettingError
from .registry import backend_names
from .settings import BackendSettings, setting

__all__ = ["FORMS", "HybridSettings", "Routes"]

NAME = "hybrid"
_TOOL = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")
FORMS = (
    "routes (%backend hybrid RULE... [default=BACKEND] [workdir=PATH]):",
    "  TOOL=BACKEND          run a tool there (view, bash_tool, create_file, str_replace, or a "
    "native skill's tool such as greeter_execute)",
    "  skill:NAME=BACKEND    keep a skill there: a call that names its folder runs there (on "
    "anthropic, a name no local skill has is Anthropic's own: skill:xlsx=anthropic)",
    "  mcp:NAME=BACKEND      start the stdio MCP servers there (local or docker; one place "
    "for all of them)",
    "  BACKEND.KEY=VALUE     one setting of a route's backend (docker.memory=2g)",
    "  what no rule names runs on default=; routes to anthropic run in its code execution",
)
"""The route forms, for ``%backend hybrid --help`` and errors that point at them."""


@dataclass(frozen=True)
class Routes:
    """The routes of a hybrid session, read from its ``routes`` and ``default`` settings."""

    default: str
    tools: Mapping[str, str] = field(default_factory=dict)
    skills: Mapping[str, str] = field(default_factory=dict)
    mcp: Mapping[str, str] = field(default_factory=dict)
    settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per backend, the ``KEY=VALUE`` given to it as ``BACKEND.KEY=VALUE``."""

    @property
    def backends(self) -> list[str]:
        """Every backend a route names, the default first, each once."""
        named = [self.default, *self.tools.values(), *self.skills.values(), *self.mcp.values()]
        return list(dict.fromkeys(named))

    def rules(self) -> list[str]:
        """The routes as written (``view=local``), the default last."""
        return [
            *(f"{tool}={name}" for tool, name in self.tools.items()),
            *(f"skill:{skill}={name}" for skill, name in self.skills.items()),
            *(f"mcp:{server}={name}" for server, name in self.mcp.items()),
            f"default={self.default}",
        ]


@dataclass(frozen=True)
class HybridSettings(BackendSettings):
    """``%backend hybrid RULE… [default=BACKEND] [workdir=PATH]``."""

    default: str = setting("local", "the backend for what no route names")
    workdir: str = setting(
        "", "the folder every route works in (mounted, or downloaded to); empty: the kernel's"
    )
    routes: str = setting(
        "", "the routes as written, space-separated (view=local bash_tool=docker)"
    )

    @classmethod
    def parse(
        cls,
        given: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        *,
        backend: str = "",
    ) -> HybridSettings:
        """Route keys (a tool, ``skill:``, ``mcp:``, ``BACKEND.KEY``) are gathered into
        ``routes``; the rest are the declared settings, checked as any backend's are."""
        given = dict(given or {})
        declared = {item.name for item in cls.declared()}
        rules = [f"{key}={value}" for key, value in given.items() if key not in declared]
        plain = {key: value for key, value in given.items() if key in declared}
        if rules:
            plain["routes"] = " ".join(filter(None, [str(plain.get("routes", "")), *rules]))
        settings = super().parse(plain, defaults, backend=backend or NAME)
        settings.read()  # every rule and backend name checked now
        return settings

    def read(self) -> Routes:
        """The routes these settings name; a ``BackendSettingError`` names a bad one."""
        known = [name for name in backend_names() if name != NAME]
        default = _backend(self.default, "default", known)
        tools: dict[str, str] = {}
        skills: dict[str, str] = {}
        mcp: dict[str, str] = {}
        settings: dict[str, dict[str, str]] = {}
        for rule in self.routes.split():
            key, equals, value = rule.partition("=")
            if not equals or not key or not value:
                raise _error(rule, "a route is KEY=VALUE")
            kind, colon, name = key.partition(":")
            if colon and kind in ("skill", "mcp") and name:
                (skills if kind == "skill" else mcp)[name] = _backend(value, rule, known)
            elif "." in key:
                owner, _, setting_name = key.partition(".")
                _backend(owner, rule, known)
                if not _KEY.match(setting_name):
                    raise _error(rule, f"{setting_name!r} is not a setting name")
                if setting_name == "workdir":
                    raise _error(rule, "every route shares one folder: give workdir= once")
                settings.setdefault(owner, {})[setting_name] = value
            elif _TOOL.match(key):
                tools[key] = _backend(value, rule, known)
            else:
                raise _error(rule, "expected TOOL=, skill:NAME=, mcp:NAME= or BACKEND.KEY=")
        for server, name in mcp.items():
            if name in ("anthropic", "native"):
                raise _error(f"mcp:{server}={name}", "a stdio server starts on local or docker")
        if len(set(mcp.values())) > 1:
            rules = " ".join(f"mcp:{server}={name}" for server, name in mcp.items())
            raise _error(rules, "the stdio servers of a session start in one place")
        routes = Routes(default, tools, skills, mcp, settings)
        for owner, given in settings.items():
            if owner not in routes.backends:
                key = next(iter(given))
                raise _error(f"{owner}.{key}={given[key]}", f"no route runs on {owner}")
        return routes


def _backend(name: str, rule: str, known: list[str]) -> str:
    if name == NAME:
        raise _error(rule, "a route names a backend other than hybrid")
    if name not in known:
        raise _error(rule, f"no backend {name!r}; backends: {', '.join(known)}")
    return name


def _error(rule: str, why: str) -> BackendSettingError:
    return BackendSettingError(
        f"hybrid route {rule!r}: {why}", hint="`%backend hybrid --help` lists the route forms"
    )
